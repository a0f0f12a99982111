import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyTemperature, applyTopK, applyTopP, kthLargest, RepetitionPenalty } from '../../src/generation/processors.js';

const X = -Infinity;
const f32 = (values: number[]): Float32Array => Float32Array.from(values);
const list = (a: Float32Array): number[] => Array.from(a);

describe('RepetitionPenalty (HF RepetitionPenaltyLogitsProcessor)', () => {
  it('divides positive logits, multiplies negative ones, leaves 0 and unseen ids alone', () => {
    const p = new RepetitionPenalty(6, 2);
    p.observe([0, 1, 2]);
    const logits = f32([3, -1.5, 0, 5, -7, 1]);
    p.apply(logits);
    assert.deepEqual(list(logits), [1.5, -3, 0, 5, -7, 1]);
  });

  it('penalizes an id once however often it occurs (prompt and output alike)', () => {
    const p = new RepetitionPenalty(4, 2);
    p.observe([1, 1, 1, 3]); // e.g. the prompt
    p.observe([1, 3]); // generated tokens repeating it
    assert.deepEqual(p.history, [1, 3]);
    const logits = f32([8, 8, 8, -8]);
    p.apply(logits);
    assert.deepEqual(list(logits), [8, 4, 8, -16]);
  });

  it('a penalty below 1 rewards seen tokens; ids outside the vocabulary are ignored', () => {
    const p = new RepetitionPenalty(3, 0.5);
    p.observe([0, 2, 99, -1]);
    const logits = f32([2, 2, -2]);
    p.apply(logits);
    assert.deepEqual(list(logits), [4, 2, -1]);
  });

  it('uses the f32 penalty like torch (1.1 rounds to 1.10000002384…)', () => {
    const p = new RepetitionPenalty(2, 1.1);
    p.observe([0, 1]);
    const logits = f32([1, -1]);
    p.apply(logits);
    // 1 / 1.100000023841858 = 0.9090908893…, nearest f32 0.9090908765792847;
    // −1 · 1.100000023841858 is already an f32.
    assert.deepEqual(list(logits), [0.9090908765792847, -1.100000023841858]);
  });
});

describe('applyTemperature', () => {
  it('divides every logit', () => {
    const logits = f32([1, -2, 0.5, X]);
    applyTemperature(logits, 0.5);
    assert.deepEqual(list(logits), [2, -4, 1, X]);
    applyTemperature(logits, 4);
    assert.deepEqual(list(logits), [0.5, -1, 0.25, X]);
  });
});

describe('applyTopK (HF TopKLogitsWarper)', () => {
  it('keeps every token tied with the k-th largest value', () => {
    const logits = f32([1, 3, 3, 2, 3, 0]);
    applyTopK(logits, 2); // topk values [3, 3] → threshold 3
    assert.deepEqual(list(logits), [X, 3, 3, X, 3, X]);

    const b = f32([1, 3, 3, 2, 3, 0]);
    applyTopK(b, 4); // topk values [3, 3, 3, 2] → threshold 2
    assert.deepEqual(list(b), [X, 3, 3, 2, 3, X]);

    const c = f32([5, 1, 5, 2]);
    applyTopK(c, 1); // a tie for first keeps both
    assert.deepEqual(list(c), [5, X, 5, X]);
  });

  it('keeps exactly k when there is no tie; k = 0 or k ≥ vocab is off', () => {
    const logits = f32([0.5, -4, 7, 2, 2.5]);
    applyTopK(logits, 3);
    assert.deepEqual(list(logits), [X, X, 7, 2, 2.5]);
    for (const k of [0, 5, 9]) {
      const same = f32([0.5, -4, 7, 2, 2.5]);
      applyTopK(same, k);
      assert.deepEqual(list(same), [0.5, -4, 7, 2, 2.5]);
    }
  });

  it('kthLargest counts duplicates like torch.topk', () => {
    const v = f32([4, 9, 9, 1, 9, 4, X]);
    const heap = new Float32Array(7);
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((k) => kthLargest(v, k, heap)), [9, 9, 9, 4, 4, 1, X]);
  });
});

describe('applyTopP (HF TopPLogitsWarper)', () => {
  it('removes tokens whose ascending cumulative probability is ≤ 1 − top_p', () => {
    // p = [0.1, 0.2, 0.3, 0.4]; ascending cumulative sums 0.1, 0.3, 0.6, 1.0.
    const base = [0.1, 0.2, 0.3, 0.4].map(Math.log);
    const run = (topP: number): number[] => {
      const logits = f32(base);
      applyTopP(logits, topP);
      return list(logits).map((x, i) => (x === X ? X : i));
    };
    assert.deepEqual(run(0.75), [X, 1, 2, 3]); // 1 − p = 0.25: only 0.1 is ≤ it
    assert.deepEqual(run(0.65), [X, X, 2, 3]); // 0.35: 0.1 and 0.3 are ≤ it
    assert.deepEqual(run(0.5), [X, X, 2, 3]);
    assert.deepEqual(run(0.3), [X, X, X, 3]); // 0.7: 0.6 ≤ it
    assert.deepEqual(run(1), [0, 1, 2, 3]); // off
    const kept = f32(base);
    applyTopP(kept, 0.5);
    assert.equal(kept[2], Math.fround(Math.log(0.3)), 'kept logits are untouched');
  });

  it('removes a token whose cumulative probability equals 1 − top_p exactly (≤, not <)', () => {
    // Four equal logits: probabilities exactly 0.25, cumulative 0.25, 0.5, 0.75, 1.
    const a = f32([0, 0, 0, 0]);
    applyTopP(a, 0.75); // 1 − 0.75 = 0.25 exactly: the first in ascending order goes
    // Ties: the higher id sorts first (is removed first), matching greedy's lowest-id preference.
    assert.deepEqual(list(a), [0, 0, 0, X]);
    const b = f32([0, 0, 0, 0]);
    applyTopP(b, 0.5);
    assert.deepEqual(list(b), [0, 0, X, X]);
    const c = f32([0, 0, 0, 0]);
    applyTopP(c, 0.7500001); // 1 − p just below 0.25: nothing is ≤ it
    assert.deepEqual(list(c), [0, 0, 0, 0]);
  });

  it('always keeps the most likely token (min_tokens_to_keep = 1)', () => {
    // 1 − 1e-17 rounds to 1, so every cumulative sum (even the last, ≈ 1) is ≤ it.
    const a = f32([0, 0, 0, 0]);
    applyTopP(a, 1e-17);
    assert.deepEqual(list(a), [0, X, X, X]);
    const b = f32([1, 3, 2]);
    applyTopP(b, 1e-17);
    assert.deepEqual(list(b), [X, 3, X]);
  });

  it('ignores tokens already removed (probability 0)', () => {
    const logits = f32([0, X, 0, X, X]);
    applyTopP(logits, 0.5); // two live tokens of 0.5 each: the higher id goes
    assert.deepEqual(list(logits), [0, X, X, X, X]);
    const single = f32([X, 2, X]);
    applyTopP(single, 0.1);
    assert.deepEqual(list(single), [X, 2, X]);
  });
});
