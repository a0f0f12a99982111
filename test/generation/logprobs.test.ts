import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { logSumExp, topLogprobs } from '../../src/generation/logprobs.js';

const close = (actual: number, expected: number): void =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${actual} ≠ ${expected}`);

describe('log-softmax helpers', () => {
  it('logSumExp = log Σ eˣ', () => {
    close(logSumExp(Float32Array.from([1, 2, 3, 4])), Math.log(Math.E + Math.E ** 2 + Math.E ** 3 + Math.E ** 4));
    close(logSumExp(Float32Array.from([0, 0, 0, 0])), Math.log(4));
    close(logSumExp(Float32Array.from([1000, 1000])), 1000 + Math.LN2); // no overflow
    assert.equal(logSumExp(Float32Array.from([-Infinity, -Infinity])), -Infinity);
  });

  it('topLogprobs: the n best, best first, with x − logZ', () => {
    const logits = Float32Array.from([1, 2, 3, 4]);
    const logZ = Math.log(Math.E + Math.E ** 2 + Math.E ** 3 + Math.E ** 4);
    const top = topLogprobs(logits, 2, logSumExp(logits));
    assert.deepEqual(top.map((t) => t.id), [3, 2]);
    close(top[0]!.logprob, 4 - logZ);
    close(top[1]!.logprob, 3 - logZ);
    assert.deepEqual(topLogprobs(logits, 0, logZ), []);
    assert.deepEqual(topLogprobs(logits, 9, logZ).map((t) => t.id), [3, 2, 1, 0]);
  });

  it('ties rank the lower id first', () => {
    const logits = Float32Array.from([1, 5, 5, 2, 5]);
    assert.deepEqual(topLogprobs(logits, 2, 0).map((t) => t.id), [1, 2]);
    assert.deepEqual(topLogprobs(logits, 4, 0), [
      { id: 1, logprob: 5 }, { id: 2, logprob: 5 }, { id: 4, logprob: 5 }, { id: 3, logprob: 2 },
    ]);
  });
});
