/**
 * Finds and loads the native addon (native/build/Release/xverse_native.node, built at install by
 * scripts/build-native.mjs). Loading never throws: it returns the addon, or null and the reason.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NATIVE_API_VERSION, type NativeAddon } from './addon.js';

export type NativeLoadResult = { addon: NativeAddon; path: string } | { addon: null; reason: string };

const RELATIVE = path.join('native', 'build', 'Release', 'xverse_native.node');

let cached: NativeLoadResult | undefined;

/** The addon's path: XVERSE_NATIVE_PATH, else native/build/Release in the package this file is in. */
function findAddon(): string | null {
  const override = process.env['XVERSE_NATIVE_PATH'];
  if (override) return override;
  // Walk up from this module (src/backend/native, or dist/src/backend/native) to the package root.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, RELATIVE);
    if (fs.existsSync(candidate)) return candidate;
    if (fs.existsSync(path.join(dir, 'package.json'))) return null;
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** Loads the addon once per process (later calls return the same result). */
export function loadNativeAddon(): NativeLoadResult {
  if (cached) return cached;
  cached = tryLoad();
  return cached;
}

function tryLoad(): NativeLoadResult {
  const file = findAddon();
  if (!file) return { addon: null, reason: `${RELATIVE} was not found; build it with \`npm run build:native\`` };
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(file) as NativeAddon;
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    return { addon: null, reason: `${file} could not be loaded: ${message}` };
  }
  if (addon.version !== NATIVE_API_VERSION) {
    return { addon: null, reason: `${file} is a stale build (API version ${String(addon.version)}, expected ${NATIVE_API_VERSION}); rebuild it with \`npm run build:native\`` };
  }
  return { addon, path: file };
}
