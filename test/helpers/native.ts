/**
 * Shared pieces of the native backend tests: the addon (or why it is missing, so tests skip with a
 * reason), seeded random data, and the error bounds the kernels are held to.
 */
import type { NativeAddon } from '../../src/backend/native/addon.js';
import { loadNativeAddon } from '../../src/backend/native/load.js';
import { NativeBackend } from '../../src/backend/native/native-backend.js';
import { seededRandom } from './synthetic-model.js';

const loaded = loadNativeAddon();

/** The addon, or null when it is not built. */
export const addon: NativeAddon | null = loaded.addon;

/** `false` when the addon loaded, else the reason to skip (for `test(name, { skip }, fn)`). */
export const skipNative: string | false = loaded.addon ? false : `native addon not built: ${loaded.reason}`;

/** A NativeBackend over the loaded addon (call only when skipNative is false). */
export function nativeBackend(): NativeBackend {
  if (!addon) throw new Error('native addon not built');
  return new NativeBackend(addon);
}

/** Instruction-set levels this CPU runs (scalar, avx2, avx512 / neon), lowest first. */
export function isaLevels(): string[] {
  return addon ? addon.info().levels : [];
}

/** Runs fn once per instruction-set level (switching the process-wide kernel set), then restores the best. */
export function forEachIsa(fn: (level: string) => void): void {
  if (!addon) return;
  try {
    for (const level of isaLevels()) {
      addon.setIsa(level);
      fn(level);
    }
  } finally {
    addon.setIsa('best');
  }
}

/** n uniform values in [−scale, scale), the same for the same seed. */
export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const rand = seededRandom(seed);
  return Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
}

/** f32 unit roundoff. */
export const U = 2 ** -24;

/**
 * Bound on |native − reference| for one f32 dot product of length k.
 *
 * The reference (TsBackend) multiplies f32 values exactly in doubles, sums in doubles and rounds
 * the result to f32 once: error ≤ u·|ref| (plus ~k·2⁻⁵³, negligible). The native kernels sum in
 * f32 with at least 8 independent partial sums (scalar: 8 lanes, AVX2: 8, AVX-512: 16, NEON: 4
 * lanes × several accumulator rows — each lane chain has at most ⌈k/4⌉ terms), then add the
 * partial sums in a tree of depth ≤ 4. By the standard summation bound each product's error is at
 * most (chain length + tree depth + 1)·u relative, so
 *     |native − exact| ≤ (⌈k/4⌉ + 6)·u·Σ|wᵢ·xᵢ|,
 * and the test allows that plus the reference's own rounding. A wrong element, index or tail
 * handling is off by about |wᵢ·xᵢ| itself, thousands of times more than this.
 */
export function dotBound(k: number, absSum: number, ref: number): number {
  return (Math.ceil(k / 4) + 6) * U * absSum + U * Math.abs(ref);
}
