/**
 * Reference forward and backward passes of the XVERSE/Llama graph's operations, in float64.
 *
 * Every tensor is a row-major Float64Array; shapes are passed explicitly. A forward function returns
 * its output (and, where the backward needs it, what it saved). A backward function takes the
 * upstream gradient and the forward's inputs, returns the input gradient(s) as new arrays and
 * ACCUMULATES (+=) parameter gradients into the arrays it is given, so one parameter used several
 * times (or a tied head) sums its contributions.
 *
 * The math matches src/model/xverse.ts and src/backend/ts/kernels.ts, minus their f32 rounding.
 */

// ---------------------------------------------------------------- linear

/** y[n, out] = x[n, in] · Wᵀ, with W[out, in] in PyTorch layout. */
export function linearForward(x: Float64Array, w: Float64Array, n: number, inDim: number, outDim: number): Float64Array {
  const y = new Float64Array(n * outDim);
  for (let i = 0; i < n; i++) {
    const xOff = i * inDim;
    for (let o = 0; o < outDim; o++) {
      const wOff = o * inDim;
      let s = 0;
      for (let k = 0; k < inDim; k++) s += x[xOff + k]! * w[wOff + k]!;
      y[i * outDim + o] = s;
    }
  }
  return y;
}

/** dX = dY · W (returned); dW += dYᵀ · X (skipped when dw is null: a frozen weight). */
export function linearBackward(
  dy: Float64Array, x: Float64Array, w: Float64Array, n: number, inDim: number, outDim: number, dw: Float64Array | null,
): Float64Array {
  const dx = new Float64Array(n * inDim);
  for (let i = 0; i < n; i++) {
    const xOff = i * inDim;
    for (let o = 0; o < outDim; o++) {
      const g = dy[i * outDim + o]!;
      if (g === 0) continue;
      const wOff = o * inDim;
      for (let k = 0; k < inDim; k++) dx[xOff + k] += g * w[wOff + k]!;
      if (dw) for (let k = 0; k < inDim; k++) dw[wOff + k] += g * x[xOff + k]!;
    }
  }
  return dx;
}

// ---------------------------------------------------------------- embedding

/** out[i] = table[ids[i]] (rows of width dim). */
export function embeddingForward(table: Float64Array, ids: readonly number[], vocab: number, dim: number): Float64Array {
  const out = new Float64Array(ids.length * dim);
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new RangeError(`token id ${id} is outside the vocabulary (0…${vocab - 1})`);
    out.set(table.subarray(id * dim, (id + 1) * dim), i * dim);
  });
  return out;
}

/** dTable[ids[i]] += dOut[i] (scatter-add: a repeated id sums its rows). */
export function embeddingBackward(dOut: Float64Array, ids: readonly number[], dim: number, dTable: Float64Array): void {
  ids.forEach((id, i) => {
    for (let j = 0; j < dim; j++) dTable[id * dim + j] += dOut[i * dim + j]!;
  });
}

// ---------------------------------------------------------------- RMSNorm

/** y[i, j] = x[i, j] · r_i · w[j], r_i = 1 / sqrt(mean_j x[i, j]² + eps). */
export function rmsNormForward(x: Float64Array, w: Float64Array, n: number, dim: number, eps: number): Float64Array {
  const y = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    const r = rmsScale(x, i * dim, dim, eps);
    for (let j = 0; j < dim; j++) y[i * dim + j] = x[i * dim + j]! * r * w[j]!;
  }
  return y;
}

/**
 * dW[j] += Σ_i dy[i, j] · x[i, j] · r_i;
 * dX[i, k] = r_i · w[k] · dy[i, k] − x[i, k] · r_i³ / dim · Σ_j dy[i, j] · w[j] · x[i, j].
 */
export function rmsNormBackward(
  dy: Float64Array, x: Float64Array, w: Float64Array, n: number, dim: number, eps: number, dw: Float64Array | null,
): Float64Array {
  const dx = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    const off = i * dim;
    const r = rmsScale(x, off, dim, eps);
    let dot = 0;
    for (let j = 0; j < dim; j++) {
      dot += dy[off + j]! * w[j]! * x[off + j]!;
      if (dw) dw[j] += dy[off + j]! * x[off + j]! * r;
    }
    const c = (r * r * r * dot) / dim;
    for (let k = 0; k < dim; k++) dx[off + k] = r * w[k]! * dy[off + k]! - c * x[off + k]!;
  }
  return dx;
}

function rmsScale(x: Float64Array, off: number, dim: number, eps: number): number {
  let ss = 0;
  for (let j = 0; j < dim; j++) ss += x[off + j]! * x[off + j]!;
  return 1 / Math.sqrt(ss / dim + eps);
}

// ---------------------------------------------------------------- RoPE

/**
 * rotate_half RoPE over rows of nHeads·headDim: in each head, the pair (j, j + headDim/2) is rotated
 * by angle (startPos + i) · invFreq[j], the angle rounded to f32 as HF's float32 tables (and the
 * reference kernel) form it.
 */
export function ropeForward(x: Float64Array, n: number, nHeads: number, headDim: number, invFreq: ArrayLike<number>, startPos = 0): Float64Array {
  return rotate(x, n, nHeads, headDim, invFreq, startPos, 1);
}

/** The rotation is orthogonal: the gradient is rotated back by the negated angle. */
export function ropeBackward(dy: Float64Array, n: number, nHeads: number, headDim: number, invFreq: ArrayLike<number>, startPos = 0): Float64Array {
  return rotate(dy, n, nHeads, headDim, invFreq, startPos, -1);
}

function rotate(x: Float64Array, n: number, nHeads: number, headDim: number, invFreq: ArrayLike<number>, startPos: number, sign: 1 | -1): Float64Array {
  const half = headDim / 2;
  const y = new Float64Array(x.length);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < half; j++) {
      const angle = Math.fround((startPos + i) * invFreq[j]!);
      const cos = Math.cos(angle);
      const sin = sign * Math.sin(angle);
      for (let h = 0; h < nHeads; h++) {
        const base = (i * nHeads + h) * headDim;
        const a = x[base + j]!;
        const b = x[base + j + half]!;
        y[base + j] = a * cos - b * sin;
        y[base + j + half] = b * cos + a * sin;
      }
    }
  }
  return y;
}

// ---------------------------------------------------------------- attention

/** Shapes of a causal grouped-query attention call over one sequence starting at position 0. */
export interface AttentionShape {
  readonly n: number;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly headDim: number;
}

/**
 * Causal GQA: out[i, h] = Σ_{t ≤ i} softmax_t(q[i, h] · k[t, g] / sqrt(headDim)) · v[t, g], where
 * g = floor(h / (nHeads / nKvHeads)). q and out are [n, nHeads·headDim]; k, v are
 * [n, nKvHeads·headDim]. Also returns the probabilities [nHeads, n, n] (zero above the diagonal).
 */
export function attentionForward(q: Float64Array, k: Float64Array, v: Float64Array, s: AttentionShape): { out: Float64Array; probs: Float64Array } {
  const { n, nHeads, nKvHeads, headDim } = s;
  const group = nHeads / nKvHeads;
  const qDim = nHeads * headDim;
  const kvDim = nKvHeads * headDim;
  const scale = 1 / Math.sqrt(headDim);
  const out = new Float64Array(n * qDim);
  const probs = new Float64Array(nHeads * n * n);
  for (let h = 0; h < nHeads; h++) {
    const kvOff = Math.floor(h / group) * headDim;
    for (let i = 0; i < n; i++) {
      const qOff = i * qDim + h * headDim;
      const pOff = (h * n + i) * n;
      let max = -Infinity;
      for (let t = 0; t <= i; t++) {
        let d = 0;
        for (let e = 0; e < headDim; e++) d += q[qOff + e]! * k[t * kvDim + kvOff + e]!;
        probs[pOff + t] = d * scale;
        if (d * scale > max) max = d * scale;
      }
      let sum = 0;
      for (let t = 0; t <= i; t++) sum += (probs[pOff + t] = Math.exp(probs[pOff + t]! - max));
      for (let t = 0; t <= i; t++) {
        const p = (probs[pOff + t] = probs[pOff + t]! / sum);
        for (let e = 0; e < headDim; e++) out[qOff + e] += p * v[t * kvDim + kvOff + e]!;
      }
    }
  }
  return { out, probs };
}

/**
 * With P the saved probabilities: dV[t, g] += Σ_{h in g, i} P[h, i, t] · dOut[i, h];
 * dP[i, t] = dOut[i, h] · v[t, g]; dS = P ⊙ (dP − Σ_t P ⊙ dP); dQ[i, h] = scale · Σ_t dS[i, t] · k[t, g];
 * dK[t, g] += scale · Σ_{h in g, i} dS[i, t] · q[i, h].
 */
export function attentionBackward(
  dOut: Float64Array, q: Float64Array, k: Float64Array, v: Float64Array, probs: Float64Array, s: AttentionShape,
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { n, nHeads, nKvHeads, headDim } = s;
  const group = nHeads / nKvHeads;
  const qDim = nHeads * headDim;
  const kvDim = nKvHeads * headDim;
  const scale = 1 / Math.sqrt(headDim);
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  const dp = new Float64Array(n);
  for (let h = 0; h < nHeads; h++) {
    const kvOff = Math.floor(h / group) * headDim;
    for (let i = 0; i < n; i++) {
      const qOff = i * qDim + h * headDim;
      const pOff = (h * n + i) * n;
      let pdp = 0;
      for (let t = 0; t <= i; t++) {
        const p = probs[pOff + t]!;
        const vOff = t * kvDim + kvOff;
        let d = 0;
        for (let e = 0; e < headDim; e++) {
          d += dOut[qOff + e]! * v[vOff + e]!;
          dv[vOff + e] += p * dOut[qOff + e]!;
        }
        dp[t] = d;
        pdp += p * d;
      }
      for (let t = 0; t <= i; t++) {
        const ds = probs[pOff + t]! * (dp[t]! - pdp) * scale;
        const kOff = t * kvDim + kvOff;
        for (let e = 0; e < headDim; e++) {
          dq[qOff + e] += ds * k[kOff + e]!;
          dk[kOff + e] += ds * q[qOff + e]!;
        }
      }
    }
  }
  return { dq, dk, dv };
}

// ---------------------------------------------------------------- SwiGLU

/** y = silu(gate) · up, silu(g) = g · sigmoid(g), elementwise. */
export function swigluForward(gate: Float64Array, up: Float64Array): Float64Array {
  const y = new Float64Array(gate.length);
  for (let i = 0; i < y.length; i++) {
    const g = gate[i]!;
    y[i] = (g / (1 + Math.exp(-g))) * up[i]!;
  }
  return y;
}

/** dUp = dy · silu(g); dGate = dy · up · σ(g) · (1 + g · (1 − σ(g))). */
export function swigluBackward(dy: Float64Array, gate: Float64Array, up: Float64Array): { dGate: Float64Array; dUp: Float64Array } {
  const dGate = new Float64Array(gate.length);
  const dUp = new Float64Array(up.length);
  for (let i = 0; i < dy.length; i++) {
    const g = gate[i]!;
    const sig = 1 / (1 + Math.exp(-g));
    dUp[i] = dy[i]! * g * sig;
    dGate[i] = dy[i]! * up[i]! * sig * (1 + g * (1 - sig));
  }
  return { dGate, dUp };
}

// ---------------------------------------------------------------- cross-entropy

/**
 * Mean token cross-entropy of logits [n, V] against targets; a negative target (HF's −100) is
 * ignored. loss = (1/m) Σ_{i kept} (logsumexp(logits[i]) − logits[i, target_i]), m = kept rows;
 * dLogits[i] = (softmax(logits[i]) − onehot(target_i)) / m for kept rows, 0 for ignored ones.
 * With no kept rows the loss is 0 and the gradient all zero.
 */
export function crossEntropy(logits: Float64Array, targets: readonly number[], n: number, vocab: number): { loss: number; dLogits: Float64Array } {
  if (targets.length !== n) throw new RangeError(`crossEntropy: ${targets.length} targets for ${n} rows`);
  const dLogits = new Float64Array(n * vocab);
  const kept = targets.filter((t) => t >= 0).length;
  if (kept === 0) return { loss: 0, dLogits };
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const t = targets[i]!;
    if (t < 0) continue;
    if (!Number.isInteger(t) || t >= vocab) throw new RangeError(`target ${t} is outside the vocabulary (0…${vocab - 1})`);
    const off = i * vocab;
    let max = -Infinity;
    for (let j = 0; j < vocab; j++) max = Math.max(max, logits[off + j]!);
    // exp once per logit (kept in dLogits, normalized below): the vocabulary is the widest axis here.
    let sum = 0;
    for (let j = 0; j < vocab; j++) sum += dLogits[off + j] = Math.exp(logits[off + j]! - max);
    loss += max + Math.log(sum) - logits[off + t]!;
    for (let j = 0; j < vocab; j++) dLogits[off + j] = dLogits[off + j]! / sum / kept;
    dLogits[off + t] -= 1 / kept;
  }
  return { loss: loss / kept, dLogits };
}
