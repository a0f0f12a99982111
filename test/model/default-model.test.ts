import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { buildDefaultModel } from '../../scripts/convert-default-model.js';
import { loadModel } from '../../src/model/load.js';
import { fixture, readJson, REPO_ROOT, tempDir } from '../helpers/fixtures.js';

const MODEL_DIR = path.join(REPO_ROOT, 'models/stories260K');

test('the committed default model is exactly what the converter makes from the llama2.c files', () => {
  const out = tempDir();
  buildDefaultModel(fixture('stories260K'), out);
  const files = fs.readdirSync(out).sort();
  assert.deepEqual(files, fs.readdirSync(MODEL_DIR).sort());
  for (const f of files) {
    assert.ok(fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(MODEL_DIR, f))), `${f} differs from the committed copy`);
  }
});

test('the default model (converted from stories260K.bin) matches run.c logits at all 257 positions within 1e-4', () => {
  const ref = readJson<{ logits: { tokens_in: number[] } }>(fixture('stories260K/reference/stories260K_reference.json'));
  const buf = fs.readFileSync(fixture('stories260K/reference/logits_greedy_bos_257x512.f32'));
  const expected = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const model = loadModel(MODEL_DIR, { kvCacheType: 'f32' });
  assert.equal(model.weights.lmHead, model.weights.embed, 'classifier is tied');
  const logits = model.forward(ref.logits.tokens_in, model.createCache(), { allLogits: true });
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(logits[i]! - expected[i]!));
  assert.ok(worst < 1e-4, `max |logit diff| ${worst}`);
});
