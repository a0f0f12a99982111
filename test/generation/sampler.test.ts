import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GenerationError } from '../../src/errors.js';
import { Rng } from '../../src/generation/rng.js';
import { argmax, Sampler, sampleMultinomial, type SamplingConfig } from '../../src/generation/sampler.js';

const X = -Infinity;
const f32 = (values: number[]): Float32Array => Float32Array.from(values);

const CHAIN: SamplingConfig = { doSample: true, temperature: 0.5, topK: 3, topP: 0.8, repetitionPenalty: 2 };
const CHAIN_LOGITS = [4, 2, 1, -1, 3, 0.5];

describe('Sampler: the full chain in HF order', () => {
  it('repetition penalty → temperature → top-k → top-p, by hand', () => {
    const s = new Sampler(6, CHAIN, new Rng(1));
    s.observe([0, 3, 0]);
    const logits = f32(CHAIN_LOGITS);
    s.process(logits);
    // penalty 2 on ids 0 and 3:  [2, 2, 1, -2, 3, 0.5]
    // temperature 0.5:           [4, 4, 2, -4, 6, 1]
    // top-k 3 (values 6, 4, 4):  [4, 4, X, X, 6, X]
    // top-p 0.8: p = e²/(e²+2) ≈ 0.7870 for id 4, 1/(e²+2) ≈ 0.1065 for ids 0 and 1; ascending
    //   (tie: id 1 before id 0) cumulative 0.1065 ≤ 0.2 removes id 1, 0.2130 > 0.2 stops.
    assert.deepEqual(Array.from(logits), [4, X, X, X, 6, X]);
  });

  it('order matters: top-p on untempered logits (temperature 1) would keep id 1', () => {
    // A guard that the expected vector above depends on temperature running before top-p: without
    // it the survivors [2, 2, 3] give id 1 probability 1/(e+2) ≈ 0.212 > 0.2, so top-p 0.8 keeps it.
    const s = new Sampler(6, { ...CHAIN, temperature: 1 }, new Rng(1));
    s.observe([0, 3]);
    const logits = f32(CHAIN_LOGITS);
    s.process(logits);
    assert.deepEqual(Array.from(logits), [2, 2, X, X, 3, X]);
  });

  it('samples the chain’s final distribution: p(id 0) = 1/(1+e²) ≈ 0.1192, p(id 4) ≈ 0.8808', () => {
    const rng = new Rng(2024);
    const counts = new Array<number>(6).fill(0);
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const s = new Sampler(6, CHAIN, rng);
      s.observe([0, 3]);
      counts[s.sample(f32(CHAIN_LOGITS))]!++;
    }
    assert.equal(counts[0]! + counts[4]!, n, 'only the two surviving tokens are ever drawn');
    // σ ≈ 0.0023 at n = 20000; 0.01 is over 4σ (and the seed makes the run deterministic).
    assert.ok(Math.abs(counts[0]! / n - 1 / (1 + Math.E ** 2)) < 0.01, `p(0) ≈ ${counts[0]! / n}`);
  });

  it('records sampled ids in the repetition history', () => {
    const s = new Sampler(3, { doSample: false, temperature: 1, topK: 50, topP: 1, repetitionPenalty: 2 });
    assert.equal(s.sample(f32([0, 5, 0])), 1);
    const next = f32([0, 4, 0]);
    s.process(next);
    assert.deepEqual(Array.from(next), [0, 2, 0]);
  });
});

describe('greedy', () => {
  it('argmax: the first maximum wins', () => {
    assert.equal(argmax(f32([3, 3, 1])), 0);
    assert.equal(argmax(f32([X, 2, 5, 5])), 2);
    assert.equal(argmax(f32([-1])), 0);
  });

  it('doSample false applies only the repetition penalty (HF greedy_search), then argmax', () => {
    const cfg: SamplingConfig = { doSample: false, temperature: 0.01, topK: 1, topP: 0.1, repetitionPenalty: 2 };
    const s = new Sampler(3, cfg);
    s.observe([0]);
    const logits = f32([3, 2, 1]);
    assert.equal(s.sample(logits), 1); // 3 → 1.5 < 2
    assert.deepEqual(Array.from(logits), [1.5, 2, 1], 'no temperature / top-k / top-p in greedy mode');
  });

  it('temperature 0 means greedy even with doSample', () => {
    const s = new Sampler(4, { doSample: true, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 });
    assert.equal(s.greedy, true);
    for (let i = 0; i < 5; i++) assert.equal(s.sample(f32([1, 4, 4, 2])), 1);
  });
});

describe('sampleMultinomial', () => {
  it('draws with softmax frequencies and never a −Infinity token', () => {
    const rng = new Rng(99);
    const logits = f32([Math.log(0.2), X, Math.log(0.3), Math.log(0.5)]);
    const counts = [0, 0, 0, 0];
    const n = 30_000;
    for (let i = 0; i < n; i++) counts[sampleMultinomial(logits, rng)]!++;
    assert.equal(counts[1], 0);
    // σ ≤ 0.0029 at n = 30000; 0.012 is over 4σ.
    [0.2, 0, 0.3, 0.5].forEach((p, id) => assert.ok(Math.abs(counts[id]! / n - p) < 0.012, `p(${id}) ≈ ${counts[id]! / n}`));
  });

  it('is deterministic for a seed, and different seeds give different draws', () => {
    const run = (seed: number): number[] => {
      const s = new Sampler(16, { doSample: true, temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1 }, new Rng(seed));
      return Array.from({ length: 32 }, () => s.sample(new Float32Array(16)));
    };
    assert.deepEqual(run(5), run(5));
    assert.notDeepEqual(run(5), run(6)); // equal by chance with probability 16^-32
  });

  it('throws when no token is left to sample', () => {
    assert.throws(() => sampleMultinomial(f32([X, X]), new Rng(1)), GenerationError);
  });
});
