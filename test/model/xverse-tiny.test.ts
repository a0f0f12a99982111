import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModel } from '../../src/model/load.js';
import { fixture, readJson } from '../helpers/fixtures.js';

interface PromptRef { logits: number[]; greedy: number[] }
interface TinyReference {
  prompts: Record<'P1' | 'P2', { ids: number[] }>;
  llamacpp: { f32: Record<'P1' | 'P2', PromptRef> };
  torch_reference: Record<'P1' | 'P2', PromptRef>;
}

const ref = readJson<TinyReference>(fixture('xverse-tiny/reference.json'));

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

function maxAbsDiff(a: Float32Array, b: number[]): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

for (const name of ['P1', 'P2'] as const) {
  test(`xverse-tiny safetensors (bf16): ${name} logits within 1e-3 of llama.cpp f32 and greedy ids equal`, () => {
    const model = loadModel(fixture('xverse-tiny/safetensors'), { kvCacheType: 'f32' });
    const cache = model.createCache();
    let logits = model.forward(ref.prompts[name].ids, cache);
    const diff = maxAbsDiff(logits, ref.llamacpp.f32[name].logits);
    assert.ok(diff < 1e-3, `max |logit diff| vs llama.cpp = ${diff}`);
    // llama.cpp's logits are rounded to 6 significant digits; torch's agree with ours tighter still.
    assert.ok(maxAbsDiff(logits, ref.torch_reference[name].logits) < 1e-4);
    const greedy: number[] = [];
    for (let i = 0; i < 16; i++) {
      const id = argmax(logits);
      greedy.push(id);
      logits = model.forward([id], cache);
    }
    assert.deepEqual(greedy, ref.llamacpp.f32[name].greedy);
  });
}
