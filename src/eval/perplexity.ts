/**
 * Token-level perplexity of a text with a sliding window, as in Hugging Face's "Perplexity of
 * fixed-length models" guide (https://huggingface.co/docs/transformers/perplexity).
 *
 * The window rule, for n tokens, window length `ctx` and step `stride` (stride ≤ ctx):
 *
 *   window i covers positions [begin, end) with begin = i·stride and end = min(begin + ctx, n);
 *   it scores the target positions [max(prevEnd, begin + 1), end), where prevEnd is the previous
 *   window's end (0 before the first window); the windows stop at the first one with end = n.
 *
 * So every token is scored at most once, each with as much context as its window gives, and a
 * window's first token is never scored (it has no context inside the window): with stride < ctx
 * all n − 1 tokens after the first are scored; with stride = ctx the windows are disjoint chunks
 * and each chunk's first token goes unscored. A scored token t costs NLL = −log softmax(logits of
 * position t − 1)[ids[t]] (log-softmax in float64), and perplexity = exp(mean NLL).
 */
import type { CausalLM } from '../model/causal-lm.js';
import { GenerationError } from '../errors.js';
import { logSumExp } from '../generation/logprobs.js';

export interface PerplexityOptions {
  /** Window length in tokens, 2 … the model's context length (default: the context length). */
  ctx?: number;
  /** How far each window's start advances, 1 … ctx (default: ctx, i.e. disjoint windows). */
  stride?: number;
  /** Called after each batch of scored tokens with the count so far and the count in all. */
  onProgress?: (scored: number, total: number) => void;
  /**
   * Checked between forward passes; an aborted signal throws its reason. The computation is
   * synchronous, so the signal can only fire from onProgress (or another thread).
   */
  signal?: AbortSignal;
}

export interface PerplexityResult {
  /** exp(nll). */
  perplexity: number;
  /** Mean negative log-likelihood per scored token (nats). */
  nll: number;
  /** Tokens scored. */
  tokens: number;
  /** Windows run (each on a fresh KV cache). */
  windows: number;
  ctx: number;
  stride: number;
  /** Wall-clock time of the computation. */
  seconds: number;
}

/** One window of the sliding-window rule: input positions [begin, end), scored positions [first, end). */
export interface PerplexityWindow {
  begin: number;
  end: number;
  first: number;
}

/** The windows the rule above gives for `n` tokens (n ≥ 2, 2 ≤ ctx, 1 ≤ stride ≤ ctx). */
export function perplexityWindows(n: number, ctx: number, stride: number): PerplexityWindow[] {
  const windows: PerplexityWindow[] = [];
  let prevEnd = 0;
  for (let begin = 0; begin < n; begin += stride) {
    const end = Math.min(begin + ctx, n);
    windows.push({ begin, end, first: Math.max(prevEnd, begin + 1) });
    prevEnd = end;
    if (end === n) break;
  }
  return windows;
}

/** Rows of [vocab] logits asked of one forward pass at most (bounds memory for large vocabularies). */
const LOGITS_BUDGET_BYTES = 64 * 1024 * 1024;

/** Perplexity of `ids` under `model` with the sliding-window rule above (see the file comment). */
export function computePerplexity(model: CausalLM, ids: readonly number[], options: PerplexityOptions = {}): PerplexityResult {
  const started = performance.now();
  const probe = model.createCache();
  const contextLength = probe.maxLength;
  const ctx = options.ctx ?? contextLength;
  const stride = options.stride ?? ctx;
  if (!Number.isSafeInteger(ctx) || ctx < 2) throw new GenerationError(`perplexity: ctx must be an integer ≥ 2, got ${ctx}`);
  if (ctx > contextLength) throw new GenerationError(`perplexity: ctx ${ctx} exceeds the model's context length ${contextLength}`);
  if (!Number.isSafeInteger(stride) || stride < 1) throw new GenerationError(`perplexity: stride must be an integer ≥ 1, got ${stride}`);
  if (stride > ctx) throw new GenerationError(`perplexity: stride ${stride} exceeds ctx ${ctx} (tokens between windows would never be scored)`);
  const n = ids.length;
  if (n < 2) throw new GenerationError(`perplexity needs at least 2 tokens, got ${n}`);
  const V = model.config.vocabSize;
  for (let i = 0; i < n; i++) {
    const id = ids[i]!;
    if (!Number.isSafeInteger(id) || id < 0 || id >= V) {
      throw new GenerationError(`perplexity: token id ${id} at position ${i} is outside the vocabulary (0 … ${V - 1})`);
    }
  }

  const windows = perplexityWindows(n, ctx, stride);
  const total = windows.reduce((sum, w) => sum + Math.max(0, w.end - w.first), 0);
  const rowsPerPass = Math.max(1, Math.floor(LOGITS_BUDGET_BYTES / (V * 4)));
  let nllSum = 0;
  let scored = 0;

  /** Adds the NLL of targets ids[from+1 … from+rows] given logits rows (of positions from …). */
  const score = (logits: Float32Array, row0: number, from: number, rows: number): void => {
    for (let r = 0; r < rows; r++) {
      const row = logits.subarray((row0 + r) * V, (row0 + r + 1) * V);
      nllSum += logSumExp(row) - row[ids[from + r + 1]!]!;
    }
    scored += rows;
    options.onProgress?.(scored, total);
  };

  for (const { begin, end, first } of windows) {
    options.signal?.throwIfAborted();
    if (first >= end) continue; // a last window of one token (stride = ctx): nothing to score
    const cache = model.createCache();
    if (end - begin > probe.lengthIndependentUpTo) {
      // Dynamic NTK RoPE past max_position_embeddings: the rotation depends on the pass length, so
      // the window goes through in one pass, as Hugging Face runs it.
      const logits = model.forward(ids.slice(begin, end), cache, { allLogits: true });
      score(logits, first - 1 - begin, first - 1, end - first);
      continue;
    }
    // Context-only positions need no logits; the last position's logits predict nothing in the
    // window. The scored span goes in passes of at most rowsPerPass positions on the same cache.
    if (first - 1 > begin) model.forward(ids.slice(begin, first - 1), cache);
    for (let from = first - 1; from < end - 1; from += rowsPerPass) {
      options.signal?.throwIfAborted();
      const to = Math.min(end - 1, from + rowsPerPass);
      const logits = model.forward(ids.slice(from, to), cache, { allLogits: true });
      score(logits, 0, from, to - from);
    }
  }

  const nll = nllSum / scored;
  return {
    perplexity: Math.exp(nll),
    nll,
    tokens: scored,
    windows: windows.length,
    ctx,
    stride,
    seconds: (performance.now() - started) / 1000,
  };
}
