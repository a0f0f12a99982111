/**
 * Reference kernels in plain TypeScript: straightforward loops, f32 storage, sums accumulated in
 * JavaScript doubles. Every faster backend is checked against these.
 */
import type { HostMatrix } from './matrix.js';

/** Anything whose rows can be read as f32 (float and block matrices). */
interface RowSource {
  readonly rows: number;
  readonly cols: number;
  row(r: number, scratch: Float32Array): Float32Array;
}

/** Dot product of a[aOff … aOff+n) and b[bOff … bOff+n), four partial sums to help the JIT. */
export function dot(a: Float32Array, aOff: number, b: Float32Array, bOff: number, n: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += a[aOff + i]! * b[bOff + i]!;
    s1 += a[aOff + i + 1]! * b[bOff + i + 1]!;
    s2 += a[aOff + i + 2]! * b[bOff + i + 2]!;
    s3 += a[aOff + i + 3]! * b[bOff + i + 3]!;
  }
  for (; i < n; i++) s0 += a[aOff + i]! * b[bOff + i]!;
  return s0 + s1 + s2 + s3;
}

/** out[n, rows] = x[n, cols] · Wᵀ; each weight row is widened once and used for all n inputs. */
export function matmul(out: Float32Array, x: Float32Array, w: HostMatrix, n: number, scratch: Float32Array): void {
  const { rows, cols } = w;
  for (let r = 0; r < rows; r++) {
    const row = w.row(r, scratch);
    for (let i = 0; i < n; i++) out[i * rows + r] = dot(x, i * cols, row, 0, cols);
  }
}

export function embed(out: Float32Array, table: RowSource, ids: ArrayLike<number>, scratch: Float32Array): void {
  const { rows, cols } = table;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= rows) throw new RangeError(`token id ${id} is outside the vocabulary (0…${rows - 1})`);
    out.set(table.row(id, scratch), i * cols);
  }
}

/**
 * RMSNorm with the rounding of an f32 implementation: the scale is an f32, and the normalized value
 * is rounded to f32 before the weight multiplies it — as HF's `weight * (x * rsqrt(var + eps))`
 * in float32, llama2.c's run.c and ggml all do. (The sum of squares is exact-ish in doubles.)
 */
export function rmsNorm(out: Float32Array, x: Float32Array, weight: Float32Array, n: number, dim: number, eps: number): void {
  for (let i = 0; i < n; i++) {
    const off = i * dim;
    let ss = 0;
    for (let j = 0; j < dim; j++) ss += x[off + j]! * x[off + j]!;
    const scale = Math.fround(1 / Math.sqrt(ss / dim + eps));
    for (let j = 0; j < dim; j++) out[off + j] = Math.fround(x[off + j]! * scale) * weight[j]!;
  }
}

/**
 * rotate_half RoPE. Angles are formed in f32 (Math.fround) exactly as HF builds its cos/sin tables
 * (`outer(t, inv_freq)` in float32) so long positions round the same way.
 */
export function rope(x: Float32Array, n: number, nHeads: number, headDim: number, startPos: number, invFreq: Float32Array): void {
  const half = headDim / 2;
  const cos = new Float64Array(half);
  const sin = new Float64Array(half);
  const rowLen = nHeads * headDim;
  for (let i = 0; i < n; i++) {
    const pos = startPos + i;
    for (let j = 0; j < half; j++) {
      const angle = Math.fround(pos * invFreq[j]!);
      cos[j] = Math.cos(angle);
      sin[j] = Math.sin(angle);
    }
    for (let h = 0; h < nHeads; h++) {
      const base = i * rowLen + h * headDim;
      for (let j = 0; j < half; j++) {
        const a = x[base + j]!;
        const b = x[base + j + half]!;
        x[base + j] = a * cos[j]! - b * sin[j]!;
        x[base + j + half] = b * cos[j]! + a * sin[j]!;
      }
    }
  }
}

export function siluMul(x: Float32Array, y: Float32Array, len: number): void {
  for (let i = 0; i < len; i++) {
    const g = x[i]!;
    x[i] = (g / (1 + Math.exp(-g))) * y[i]!;
  }
}

export function add(x: Float32Array, y: Float32Array, len: number): void {
  for (let i = 0; i < len; i++) x[i] = x[i]! + y[i]!;
}

/**
 * Causal grouped-query attention over cached keys/values (rows of kvDim = nKvHeads·headDim).
 * Softmax is computed in double precision with the maximum subtracted.
 */
export function attention(
  out: Float32Array, q: Float32Array, keys: Float32Array, values: Float32Array, n: number, startPos: number,
  nHeads: number, nKvHeads: number, headDim: number, scale: number, scores: Float64Array, acc: Float64Array,
): void {
  const kvDim = nKvHeads * headDim;
  const group = nHeads / nKvHeads;
  const qDim = nHeads * headDim;
  for (let i = 0; i < n; i++) {
    const last = startPos + i; // attends to positions 0 … last
    for (let h = 0; h < nHeads; h++) {
      const qOff = i * qDim + h * headDim;
      const kvOff = Math.floor(h / group) * headDim;
      let max = -Infinity;
      for (let t = 0; t <= last; t++) {
        const s = dot(q, qOff, keys, t * kvDim + kvOff, headDim) * scale;
        scores[t] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let t = 0; t <= last; t++) {
        const e = Math.exp(scores[t]! - max);
        scores[t] = e;
        sum += e;
      }
      acc.fill(0, 0, headDim);
      for (let t = 0; t <= last; t++) {
        const p = scores[t]! / sum;
        const vOff = t * kvDim + kvOff;
        for (let d = 0; d < headDim; d++) acc[d] += p * values[vOff + d]!;
      }
      for (let d = 0; d < headDim; d++) out[qOff + d] = acc[d]!;
    }
  }
}
