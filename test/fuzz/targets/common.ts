/** Pieces shared by the fuzz targets: seed files, checks of what a successful parse declares. */
import fs from 'node:fs';
import path from 'node:path';
import type { TensorType } from '../../../src/tensor/dtype.js';
import { isQuantType } from '../../../src/tensor/dtype.js';
import { byteSize, numel, type Tensor } from '../../../src/tensor/tensor.js';
import { OracleFailure } from '../../helpers/fuzz.js';
import { fixture, REPO_ROOT } from '../../helpers/fixtures.js';

export function shared(...parts: string[]): string {
  const file = fixture(...parts);
  if (!fs.existsSync(file)) throw new Error(`fuzz seed ${file} is missing (set XVERSE_FIXTURES?)`);
  return file;
}

export function repoFile(...parts: string[]): string {
  return path.join(REPO_ROOT, ...parts);
}

/** A read tensor must hold exactly what its entry declares. */
export function checkTensor(name: string, t: Tensor, type: TensorType, shape: readonly number[], byteLength: number): void {
  if (t.dtype !== type) throw new OracleFailure(`tensor "${name}" read as ${t.dtype}, declared ${type}`);
  if (t.data.byteLength !== byteLength) throw new OracleFailure(`tensor "${name}" read ${t.data.byteLength} bytes, declared ${byteLength}`);
  const expected = numel(shape) === 0 ? 0 : byteSize(type, shape); // byteSize is 0/0 for a quantized [n, 0]
  if (expected !== byteLength) throw new OracleFailure(`tensor "${name}" ${type} [${shape.join(', ')}] declared ${byteLength} bytes`);
  if (!isQuantType(type) && t.data.length !== numel(shape)) throw new OracleFailure(`tensor "${name}" holds ${t.data.length} values, shape says ${numel(shape)}`);
}

/** Runs `fn` and closes `closable` whatever happens. */
export function using<T extends { close(): void }, R>(closable: T, fn: (x: T) => R): R {
  try {
    return fn(closable);
  } finally {
    closable.close();
  }
}
