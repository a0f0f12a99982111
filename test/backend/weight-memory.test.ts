import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Backend } from '../../src/backend/backend.js';
import { TsBackend } from '../../src/backend/ts/ts-backend.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { nativeBackend, skipNative } from '../helpers/native.js';
import { seededRandom } from '../helpers/synthetic-model.js';

const backends: Array<[string, () => Backend, string | false]> = [
  ['typescript', () => new TsBackend(), false],
  ['native', () => nativeBackend(), skipNative],
];

for (const [name, make, skip] of backends) {
  test(`${name}: allocateWeights gives zeroed, writable memory of the asked size`, { skip }, () => {
    const be = make();
    for (const bytes of [1, 4097, (3 << 20) + 5]) {
      const m = be.allocateWeights(bytes);
      assert.equal(m.byteLength, bytes);
      assert.ok(m.every((b) => b === 0));
      m[bytes - 1] = 7;
      assert.equal(m[bytes - 1], 7);
    }
  });

  test(`${name}: quantize into caller memory equals quantize into new memory; a wrong size is refused`, { skip }, () => {
    const be = make();
    const rnd = seededRandom(5);
    const rows = 7, cols = 96;
    const weight: Tensor = { dtype: 'f32', shape: [rows, cols], data: Float32Array.from({ length: rows * cols }, () => rnd() * 2 - 1) };
    for (const type of ['q8_0', 'q4_0'] as const) {
      const fresh = be.quantize(weight, type);
      const into = be.allocateWeights(fresh.data.byteLength);
      const t = be.quantize(weight, type, into);
      assert.equal(t.data, into, 'result views the given memory');
      assert.deepEqual(into, fresh.data);
      assert.throws(() => be.quantize(weight, type, new Uint8Array(fresh.data.byteLength - 1)), RangeError);
    }
  });
}
