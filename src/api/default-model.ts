import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Folder name of the embedded default model inside the package. */
export const DEFAULT_MODEL_NAME = 'stories260K';

/**
 * The embedded default model's folder: `models/stories260K` at the package root, found by walking
 * up from this file (works from src/ under a TS runner and from dist/src/ after the build).
 */
export function defaultModelPath(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'models', DEFAULT_MODEL_NAME);
    if (fs.existsSync(path.join(candidate, 'config.json'))) return candidate;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`the embedded default model (models/${DEFAULT_MODEL_NAME}) is missing from this installation`);
    dir = up;
  }
}
