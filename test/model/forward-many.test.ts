import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { loadModel } from '../../src/model/load.js';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { skipNative } from '../helpers/native.js';

const STORIES = path.join(REPO_ROOT, 'models/stories260K');

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

for (const [backend, maxBatch] of [['typescript', 512], ['native', 512], ['typescript', 4]] as const) {
  // maxBatch 4 splits the 6 new rows into groups ([2 + 1] together, then [3] through forward()): same results.
  test(`forwardMany (${backend}, maxBatch ${maxBatch}): three sequences give each one's own forward() logits and caches`, { skip: backend === 'native' && skipNative }, () => {
    const model = loadModel(STORIES, { backend, maxBatch });
    // Different prompt lengths and different cached prefixes: positions and caches are per sequence.
    const prompts = [[1, 403, 407, 261], [1, 30, 40, 50, 60, 70, 80], [1, 9]];
    const extra = [[300, 301], [302], [303, 304, 305]];
    const alone = prompts.map((p, i) => {
      const cache = model.createCache();
      model.forward(p, cache);
      return { logits: model.forward(extra[i]!, cache).slice(), cache };
    });
    const caches = prompts.map((p) => {
      const cache = model.createCache();
      model.forward(p, cache);
      return cache;
    });
    const together = model.forwardMany(extra.map((ids, i) => ({ ids, cache: caches[i]! })));
    together.forEach((logits, i) => {
      assert.ok(maxAbsDiff(logits, alone[i]!.logits) < 1e-5, `sequence ${i}: ${maxAbsDiff(logits, alone[i]!.logits)}`);
      assert.deepEqual(caches[i]!.tokens, alone[i]!.cache.tokens);
    });
    // Decoding on after the batched pass continues each sequence where it stood.
    const next = model.forward([7], caches[1]!).slice();
    const ref = model.forward([7], alone[1]!.cache);
    assert.ok(maxAbsDiff(next, ref) < 1e-5);
  });
}

test('KVCache.adoptPrefix copies the first positions of another cache (later writes do not touch the source)', () => {
  const model = loadModel(STORIES, { backend: 'typescript' });
  const source = model.createCache();
  model.forward([1, 403, 407, 261, 378], source);
  const copy = model.createCache();
  copy.adoptPrefix(source, 3);
  assert.deepEqual(copy.tokens, [1, 403, 407]);
  const viaCopy = model.forward([432], copy).slice();
  const fresh = model.createCache();
  const direct = model.forward([1, 403, 407, 432], fresh);
  assert.equal(maxAbsDiff(viaCopy, direct), 0);
  assert.deepEqual(source.tokens, [1, 403, 407, 261, 378]);
  assert.throws(() => copy.adoptPrefix(source, 6), /6 positions asked, the source holds 5/);
});
