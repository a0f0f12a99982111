import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { loadModel } from '../../src/model/load.js';
import { quantTypeFor } from '../../src/model/quant-policy.js';
import type { XverseModel } from '../../src/model/xverse.js';
import { fixture, readJson, REPO_ROOT } from '../helpers/fixtures.js';

const STORIES = path.join(REPO_ROOT, 'models/stories260K');
const ref = readJson<{ logits: { tokens_in: number[] } }>(fixture('stories260K/reference/stories260K_reference.json'));
/** BOS + llama2.c's 200 generated tokens: the fixture's reference text. */
const ids = ref.logits.tokens_in.slice(0, 201);
const V = 512;

function allLogits(model: XverseModel): Float32Array {
  return model.forward(ids.slice(0, -1), model.createCache(), { allLogits: true });
}

function perplexity(logits: Float32Array): number {
  let nll = 0;
  for (let i = 0; i + 1 < ids.length; i++) {
    let max = -Infinity;
    for (let j = 0; j < V; j++) max = Math.max(max, logits[i * V + j]!);
    let sum = 0;
    for (let j = 0; j < V; j++) sum += Math.exp(logits[i * V + j]! - max);
    nll -= logits[i * V + ids[i + 1]!]! - max - Math.log(sum);
  }
  return Math.exp(nll / (ids.length - 1));
}

function relativeRms(a: Float32Array, b: Float32Array): number {
  let d = 0, r = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i]! - b[i]!) ** 2;
    r += b[i]! ** 2;
  }
  return Math.sqrt(d / r);
}

test('quantization policy: norms stay f32, rows not a multiple of 32 keep their type, q4_0 keeps the head at q8_0', () => {
  assert.equal(quantTypeFor('model.norm.weight', [64], 'q8_0'), null);
  assert.equal(quantTypeFor('model.layers.0.mlp.down_proj.weight', [64, 172], 'q8_0'), null);
  assert.equal(quantTypeFor('model.layers.0.mlp.up_proj.weight', [172, 64], 'q4_0'), 'q4_0');
  assert.equal(quantTypeFor('model.embed_tokens.weight', [512, 64], 'q4_0'), 'q4_0');
  assert.equal(quantTypeFor('lm_head.weight', [512, 64], 'q4_0'), 'q8_0');
  assert.equal(quantTypeFor('model.embed_tokens.weight', [512, 64], 'q4_0', true), 'q8_0', 'a tied head follows the head rule');
  assert.equal(quantTypeFor('lm_head.weight', [512, 64], 'q8_0'), 'q8_0');
});

test('stories260K quantized on load: q8_0 logits within 2 % relative RMS of f32; perplexity of the reference text', () => {
  const f32 = allLogits(loadModel(STORIES));
  const q8 = loadModel(STORIES, { quantize: 'q8_0' });
  assert.equal((q8.weights.layers[0]!.q as unknown as { type: string }).type, 'q8_0');
  const q8Logits = allLogits(q8);
  const q4Logits = allLogits(loadModel(STORIES, { quantize: 'q4_0' }));
  const rms8 = relativeRms(q8Logits, f32);
  const rms4 = relativeRms(q4Logits, f32);
  assert.ok(rms8 < 0.02, `q8_0 relative RMS ${rms8}`);
  assert.ok(rms4 > rms8 && rms4 < 0.15, `q4_0 relative RMS ${rms4}`);
  // Measured: f32 1.6055, q8_0 1.6072, q4_0 1.7222 (the text is the model's own greedy output).
  const [p32, p8, p4] = [perplexity(f32), perplexity(q8Logits), perplexity(q4Logits)];
  assert.ok(Math.abs(p32 - 1.6055) < 1e-3, `f32 perplexity ${p32}`);
  assert.ok(p8 / p32 < 1.005, `q8_0 perplexity ${p8} vs f32 ${p32}`);
  assert.ok(p4 / p32 < 1.1, `q4_0 perplexity ${p4} vs f32 ${p32}`);
});
