/**
 * Logits processors with the semantics of transformers 4.29 (`RepetitionPenaltyLogitsProcessor`,
 * `TemperatureLogitsWarper`, `TopKLogitsWarper`, `TopPLogitsWarper`). Each works in place on one
 * row of logits; removed tokens become −Infinity (HF's `filter_value`). Scratch buffers are passed
 * in (and owned by the Sampler) so the decode loop allocates nothing per token.
 */

/**
 * CTRL-style repetition penalty: each *distinct* id seen so far (the prompt included, as HF's
 * decoder-only generate does) has its logit divided by `penalty` when positive and multiplied by it
 * otherwise. HF gathers the original logits and scatters the penalized ones back, so an id that
 * occurs many times is still penalized once; keeping a set of distinct ids gives the same result
 * and makes each step O(distinct ids) instead of O(history).
 */
export class RepetitionPenalty {
  private readonly seen: Uint8Array;
  private readonly ids: number[] = [];
  /** The penalty rounded to f32, as torch multiplies an f32 tensor by a Python float. */
  private readonly p: number;

  constructor(vocabSize: number, readonly penalty: number) {
    this.seen = new Uint8Array(vocabSize);
    this.p = Math.fround(penalty);
  }

  /** Adds ids to the history; ids outside the vocabulary (which have no logit) are ignored. */
  observe(ids: ArrayLike<number>): void {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id >= 0 && id < this.seen.length && this.seen[id] === 0) {
        this.seen[id] = 1;
        this.ids.push(id);
      }
    }
  }

  /** The distinct ids observed, in first-seen order. */
  get history(): readonly number[] {
    return this.ids;
  }

  apply(logits: Float32Array): void {
    const p = this.p;
    for (const id of this.ids) {
      const x = logits[id]!;
      // HF: torch.where(score < 0, score * penalty, score / penalty); 0 stays 0 either way.
      logits[id] = x < 0 ? x * p : x / p;
    }
  }
}

/** Divides every logit by `temperature` (> 0; temperature 0 is handled as greedy by the caller). */
export function applyTemperature(logits: Float32Array, temperature: number): void {
  if (temperature === 1) return;
  const t = Math.fround(temperature); // torch divides in f32; f32/f32 rounded once matches it exactly
  for (let i = 0; i < logits.length; i++) logits[i] = logits[i]! / t;
}

/**
 * Top-k as HF does it: find the k-th largest value v (counting duplicates, like
 * `torch.topk(scores, k)[0][..., -1]`) and remove every token whose logit is `< v`. So all tokens tied
 * at the k-th value survive and more than k tokens may remain. k ≤ 0 is "off"; k is raised to
 * min_tokens_to_keep = 1 and capped at the vocabulary size. `heap` (length ≥ k) is scratch.
 */
export function applyTopK(logits: Float32Array, k: number, heap?: Float32Array): void {
  if (k <= 0 || k >= logits.length) return;
  const threshold = kthLargest(logits, k, heap ?? new Float32Array(k));
  for (let i = 0; i < logits.length; i++) {
    if (logits[i]! < threshold) logits[i] = -Infinity;
  }
}

/**
 * The k-th largest value of `values` with a size-k min-heap: O(n log k) with no worst case (a
 * quickselect degrades on the long runs of equal values that top-k ties produce).
 */
export function kthLargest(values: Float32Array, k: number, heap: Float32Array): number {
  for (let i = 0; i < k; i++) heap[i] = values[i]!;
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(heap, k, i);
  for (let i = k; i < values.length; i++) {
    const v = values[i]!;
    if (v > heap[0]!) {
      heap[0] = v;
      siftDown(heap, k, 0);
    }
  }
  return heap[0]!;
}

function siftDown(heap: Float32Array, size: number, index: number): void {
  let i = index;
  const v = heap[i]!;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && heap[child + 1]! < heap[child]!) child++;
    if (!(heap[child]! < v)) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = v;
}

/**
 * Top-p (nucleus) as HF's TopPLogitsWarper: sort ascending, take the cumulative softmax, remove
 * every token whose cumulative probability is `≤ 1 − topP`, but never the last (most likely) one
 * (min_tokens_to_keep = 1). Only tokens not already at −Infinity take part: the others have
 * probability 0, so HF removes them too. torch's default sort is not stable, so HF's treatment of
 * tied logits at the boundary is unspecified; here ties are ordered so that the *higher* id is removed
 * first, the same preference as greedy's first-maximum rule. topP ≥ 1 is "off" (HF skips the warper).
 * `order` (length ≥ vocab) is scratch.
 */
export function applyTopP(logits: Float32Array, topP: number, order?: Int32Array): void {
  if (topP >= 1) return;
  const idx = order ?? new Int32Array(logits.length);
  let m = 0;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > -Infinity) idx[m++] = i;
  if (m <= 1) return;
  const sorted = idx.subarray(0, m).sort((a, b) => logits[a]! - logits[b]! || b - a);
  const max = logits[sorted[m - 1]!]!;
  let sum = 0;
  for (let r = 0; r < m; r++) sum += Math.exp(logits[sorted[r]!]! - max);
  const threshold = 1 - topP;
  let cumulative = 0;
  for (let r = 0; r < m - 1; r++) {
    const id = sorted[r]!;
    cumulative += Math.exp(logits[id]! - max) / sum;
    if (cumulative > threshold) break; // the cumulative sum only grows: everything after stays
    logits[id] = -Infinity;
  }
}
