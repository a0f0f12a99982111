import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GenerationError } from '../../src/errors.js';
import { Rng } from '../../src/generation/rng.js';

describe('Rng (xoshiro128**)', () => {
  it('matches the reference xoshiro128** stream from state {1, 2, 3, 4}', () => {
    // First outputs of the authors' xoshiro128starstar.c from s = {1, 2, 3, 4}; the first three
    // are also easy to check by hand: rotl(2·5, 7)·9 = 11520, then s1 becomes 0, …
    const rng = Rng.fromState([1, 2, 3, 4]);
    assert.deepEqual(Array.from({ length: 6 }, () => rng.nextUint32()), [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('same seed → same stream; different seeds → different streams', () => {
    const draw = (seed: number): number[] => {
      const rng = new Rng(seed);
      return Array.from({ length: 8 }, () => rng.nextFloat());
    };
    assert.deepEqual(draw(42), draw(42));
    assert.notDeepEqual(draw(42), draw(43));
    assert.notDeepEqual(draw(0), draw(2 ** 32), 'bits above 31 matter');
    assert.notDeepEqual(draw(-1), draw(1));
  });

  it('unseeded generators differ (crypto seed)', () => {
    const a = new Rng();
    const b = new Rng();
    assert.notDeepEqual([a.nextUint32(), a.nextUint32()], [b.nextUint32(), b.nextUint32()]);
  });

  it('nextFloat is in [0, 1) and roughly uniform', () => {
    const rng = new Rng(7);
    const bins = new Array<number>(10).fill(0);
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const x = rng.nextFloat();
      assert.ok(x >= 0 && x < 1);
      bins[Math.floor(x * 10)]!++;
    }
    // Each bin expects 10000 ± 95 (1σ); 500 is over 5σ.
    for (const count of bins) assert.ok(Math.abs(count - n / 10) < 500, `bin count ${count}`);
  });

  it('rejects seeds that are not safe integers and an all-zero state', () => {
    assert.throws(() => new Rng(1.5), GenerationError);
    assert.throws(() => new Rng(Number.NaN), GenerationError);
    assert.throws(() => Rng.fromState([0, 0, 0, 0]), GenerationError);
  });
});
