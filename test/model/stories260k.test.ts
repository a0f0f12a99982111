import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { loadModel } from '../../src/model/load.js';
import { fixture, readJson } from '../helpers/fixtures.js';

interface StoriesReference {
  logits: { tokens_in: number[]; shape: [number, number] };
}

const ref = readJson<StoriesReference>(fixture('stories260K/reference/stories260K_reference.json'));
const tokens = ref.logits.tokens_in;
const [positions, vocab] = ref.logits.shape;
const refLogits = (() => {
  const buf = fs.readFileSync(fixture('stories260K/reference/logits_greedy_bos_257x512.f32'));
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
})();

function argmax(a: Float32Array, off = 0, n = a.length): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (a[off + i]! > a[off + best]!) best = i;
  return best;
}

function maxAbsDiff(a: Float32Array, aOff: number, b: Float32Array, bOff: number, n: number): number {
  let m = 0;
  for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(a[aOff + i]! - b[bOff + i]!));
  return m;
}

test('stories260K (HF layout): step-by-step logits match run.c at all 257 positions within 1e-4', () => {
  const model = loadModel(fixture('stories260K/hf'), { kvCacheType: 'f32' });
  const cache = model.createCache();
  let worst = 0;
  for (let pos = 0; pos < positions; pos++) {
    const logits = model.forward([tokens[pos]!], cache);
    worst = Math.max(worst, maxAbsDiff(logits, 0, refLogits, pos * vocab, vocab));
    if (pos + 1 < tokens.length) assert.equal(argmax(logits), tokens[pos + 1], `greedy token at position ${pos + 1}`);
  }
  assert.ok(worst < 1e-4, `max |logit diff| ${worst}`);
});

test('stories260K (HF layout): one batched prefill gives the same logits as 257 decode steps', () => {
  const model = loadModel(fixture('stories260K/hf'), { maxBatch: 100, kvCacheType: 'f32' });
  const logits = model.forward(tokens.slice(0, positions), model.createCache(), { allLogits: true });
  assert.equal(logits.length, positions * vocab);
  assert.ok(maxAbsDiff(logits, 0, refLogits, 0, positions * vocab) < 1e-4);
});
