/** One candidate token and its log-probability. */
export interface TokenLogprob {
  id: number;
  logprob: number;
}

/** log Σ exp(logits), computed stably in f64 (the log-softmax normaliser). −Infinity if all are −Infinity. */
export function logSumExp(logits: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  if (max === -Infinity || max === Infinity) return max;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return max + Math.log(sum);
}

/**
 * The `n` highest-scoring tokens with log-probabilities `logits[id] − logZ`, best first; equal
 * logits rank the lower id first. One pass with a sorted insertion list, O(vocab · n) at worst and
 * close to O(vocab) in practice, since n is small and few logits beat the current n-th.
 */
export function topLogprobs(logits: Float32Array, n: number, logZ: number): TokenLogprob[] {
  const count = Math.min(Math.max(0, Math.floor(n)), logits.length);
  const ids: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < logits.length && count > 0; i++) {
    const v = logits[i]!;
    if (ids.length === count && !(v > values[count - 1]!)) continue;
    let pos = ids.length === count ? count - 1 : ids.length;
    while (pos > 0 && v > values[pos - 1]!) pos--;
    if (ids.length === count) {
      ids.pop();
      values.pop();
    }
    ids.splice(pos, 0, i);
    values.splice(pos, 0, v);
  }
  return ids.map((id, r) => ({ id, logprob: values[r]! - logZ }));
}
