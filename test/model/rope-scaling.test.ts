import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { generateText } from '../../src/generation/generate.js';
import { loadModel } from '../../src/model/load.js';
import { Llama2cTokenizer } from '../../src/tokenizer/llama2c-tokenizer.js';
import { fixture, tempDir } from '../helpers/fixtures.js';
import { tinyConfig, writeSyntheticModel } from '../helpers/synthetic-model.js';

const dir = path.join(tempDir(), 'dynamic');
writeSyntheticModel(dir, tinyConfig({ max_position_embeddings: 16, rope_scaling: { type: 'dynamic', factor: 4 } }));
const prompt = Array.from({ length: 40 }, (_, i) => 4 + ((i * 37) % 250));

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('dynamic NTK: a prefill split into micro-batches rotates as one pass does', () => {
  const whole = loadModel(dir).forward(prompt, loadModel(dir).createCache(), { allLogits: true });
  const model = loadModel(dir, { maxBatch: 8 });
  const split = model.forward(prompt, model.createCache(), { allLogits: true });
  assert.equal(maxDiff(whole, split), 0);
  // The context is stretched by the factor: 16 × 4 positions.
  assert.equal(model.contextLength, 64);
});

test('dynamic NTK: positions written with a grown base are never reused for another prompt', () => {
  const model = loadModel(dir);
  const cache = model.createCache();
  model.forward(prompt.slice(0, 10), cache);
  assert.equal(cache.reusableLength(11), 10, 'short sequences are length-independent');
  model.forward(prompt.slice(10), cache); // total 40 > 16: keys from position 10 on used a grown base
  assert.equal(cache.reusableLength(12), 10);
  assert.equal(cache.reusableLength(30), 0, 'a fresh 30-token pass would rotate every key with its own base');
  cache.truncate(10);
  assert.equal(cache.reusableLength(12), 10);

  // Through generate(): reusing the cache gives what a fresh run gives.
  const tokenizer = Llama2cTokenizer.fromFile(fixture('stories260K/tok512.bin'));
  return (async () => {
    const shared = model.createCache();
    await generateText(model, tokenizer, prompt.slice(0, 10), { cache: shared, maxNewTokens: 1, doSample: false });
    let reused = await generateText(model, tokenizer, prompt.slice(0, 12), { cache: shared, maxNewTokens: 3, doSample: false });
    assert.equal(reused.stats.cachedTokens, 10, 'unscaled positions are reused');
    assert.deepEqual(reused.ids, (await generateText(model, tokenizer, prompt.slice(0, 12), { maxNewTokens: 3, doSample: false })).ids);
    await generateText(model, tokenizer, prompt, { cache: shared, maxNewTokens: 2, doSample: false });
    reused = await generateText(model, tokenizer, prompt.slice(0, 12), { cache: shared, maxNewTokens: 3, doSample: false });
    assert.equal(reused.stats.cachedTokens, 0, 'a 40-token pass used a grown base for all its keys');
    const fresh = await generateText(model, tokenizer, prompt.slice(0, 12), { maxNewTokens: 3, doSample: false });
    assert.deepEqual(reused.ids, fresh.ids);
  })();
});

test('maxBatch must be a positive integer', () => {
  assert.throws(() => loadModel(dir, { maxBatch: 0 }), /maxBatch must be an integer ≥ 1, got 0/);
});
