import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quantizeRows } from '../../src/tensor/quant.js';
import { fixture } from '../helpers/fixtures.js';
import { ggufF32, ggufTensorMap, readGgufTensors } from '../helpers/gguf-tensors.js';

// llama-quantize (llama.cpp c392e5094) output of xverse-tiny-f32.gguf: quantize_row_q8_0_ref /
// quantize_row_q4_0_ref on every 2-D tensor (the q4_0 file's output.weight is Q8_0, see the
// fixture README). The weights are bf16 values, so their blocks are full of exact rounding ties
// (~0.3 % of all values) and of clamped Q4_0 values — a demanding check of tie handling.
const f32 = ggufTensorMap(fixture('xverse-tiny/gguf/xverse-tiny-f32.gguf'));

for (const [file, counts] of [['xverse-tiny-q8_0.gguf', { q8_0: 16, q4_0: 0 }], ['xverse-tiny-q4_0.gguf', { q8_0: 1, q4_0: 15 }]] as const) {
  test(`quantizeRows reproduces llama-quantize's ${file} byte for byte`, () => {
    const seen = { q8_0: 0, q4_0: 0 };
    let bytes = 0;
    for (const t of readGgufTensors(fixture('xverse-tiny/gguf', file))) {
      if (t.shape.length !== 2) {
        assert.equal(t.type, 'f32', `${t.name}: 1-D tensors stay f32`);
        continue;
      }
      assert.ok(t.type === 'q8_0' || t.type === 'q4_0', `${t.name} is ${t.type}`);
      const src = f32.get(t.name);
      assert.ok(src, `${t.name} missing from the f32 file`);
      assert.deepEqual(src.shape, t.shape);
      const [rows, cols] = t.shape as [number, number];
      const ours = quantizeRows(t.type, ggufF32(src), rows, cols);
      assert.equal(ours.length, t.bytes.length, t.name);
      const first = ours.findIndex((b, i) => b !== t.bytes[i]);
      assert.equal(first, -1, `${t.name}: first differing byte at ${first}`);
      seen[t.type]++;
      bytes += ours.length;
    }
    assert.deepEqual(seen, counts);
    assert.equal(bytes, file.includes('q8_0') ? 565_760 : 332_288);
  });
}
