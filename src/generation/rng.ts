import { webcrypto } from 'node:crypto';
import { GenerationError } from '../errors.js';

/**
 * xoshiro128** (Blackman & Vigna): four 32-bit words of state, 32-bit integer arithmetic only, so
 * it is fast in JS without BigInt and gives the same stream on every platform. Seeds are spread into
 * the state with splitmix32, as the xoshiro authors recommend, so nearby seeds give unrelated streams.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** `seed`: any safe integer (the same seed always gives the same stream); omitted: crypto-random. */
  constructor(seed?: number) {
    let words: ArrayLike<number>;
    if (seed === undefined) {
      words = webcrypto.getRandomValues(new Uint32Array(4));
    } else {
      if (!Number.isSafeInteger(seed)) throw new GenerationError(`seed must be a safe integer, got ${seed}`);
      // Split into two 32-bit halves so seeds that differ only above bit 31 still differ.
      const lo = seed >>> 0;
      const hi = Math.floor(seed / 0x1_0000_0000) >>> 0;
      let state = (mix32(hi ^ 0x6a09e667) ^ lo) >>> 0;
      words = Array.from({ length: 4 }, () => {
        state = (state + 0x9e3779b9) >>> 0;
        return mix32(state);
      });
    }
    this.s0 = words[0]! >>> 0;
    this.s1 = words[1]! >>> 0;
    this.s2 = words[2]! >>> 0;
    this.s3 = words[3]! >>> 0;
    // The all-zero state is the one fixed point of xoshiro; never start there.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A generator starting from raw xoshiro128** state words (for known-answer tests and replays). */
  static fromState(words: readonly [number, number, number, number]): Rng {
    const rng = new Rng(0);
    [rng.s0, rng.s1, rng.s2, rng.s3] = words.map((w) => w >>> 0) as [number, number, number, number];
    if ((rng.s0 | rng.s1 | rng.s2 | rng.s3) === 0) throw new GenerationError('xoshiro128** state must not be all zero');
    return rng;
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits (the full precision of a double). */
  nextFloat(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** splitmix32's output function (a 32-bit avalanche mix). */
function mix32(x: number): number {
  let z = x | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}
