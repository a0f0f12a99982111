/**
 * Picks the compute backend: the native addon when it loads, else the TypeScript reference backend
 * (with one warning). `XVERSE_BACKEND=auto|native|typescript` sets the default choice.
 */
import { BackendError } from '../errors.js';
import type { Backend } from './backend.js';
import { loadNativeAddon } from './native/load.js';
import { NativeBackend } from './native/native-backend.js';
import { TsBackend } from './ts/ts-backend.js';

export type BackendChoice = 'auto' | 'native' | 'typescript';

export interface CreateBackendOptions {
  /** 'auto' (default): native if it loads, else TypeScript; 'native': fail if it cannot load. */
  backend?: BackendChoice;
  /** Worker threads of the native backend (default: the physical cores); ignored by TypeScript. */
  threads?: number;
  /** Receives the fallback warning of 'auto' (default: printed to stderr once per process). */
  onWarning?: (message: string) => void;
}

const CHOICES: readonly BackendChoice[] = ['auto', 'native', 'typescript'];

export function parseBackendChoice(value: string, source = 'backend'): BackendChoice {
  if ((CHOICES as readonly string[]).includes(value)) return value as BackendChoice;
  throw new BackendError(`${source} must be auto, native or typescript, got "${value}"`);
}

let warnedOnStderr = false;

function defaultWarning(message: string): void {
  if (warnedOnStderr) return;
  warnedOnStderr = true;
  process.stderr.write(`xverse: warning: ${message}\n`);
}

export function createBackend(options: CreateBackendOptions = {}): Backend {
  const env = process.env['XVERSE_BACKEND'];
  const choice = options.backend ?? (env ? parseBackendChoice(env, 'XVERSE_BACKEND') : 'auto');
  if (options.threads !== undefined && (!Number.isSafeInteger(options.threads) || options.threads < 1)) {
    throw new RangeError(`threads must be an integer ≥ 1, got ${options.threads}`);
  }
  if (choice === 'typescript') return new TsBackend();
  const loaded = loadNativeAddon();
  if (loaded.addon) return new NativeBackend(loaded.addon, options.threads !== undefined ? { threads: options.threads } : {});
  if (choice === 'native') throw new BackendError(`the native backend is not available: ${loaded.reason}`);
  (options.onWarning ?? defaultWarning)(`native backend unavailable (${loaded.reason}); using the slower TypeScript backend`);
  return new TsBackend();
}
