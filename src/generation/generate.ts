import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { GenerationError } from '../errors.js';
import type { CausalLM } from '../model/causal-lm.js';
import type { KVCache } from '../model/kv-cache.js';
import { IncrementalDetokenizer } from '../tokenizer/detokenizer.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { resolveGenerationConfig, type GenerationConfig } from './config.js';
import { logSumExp, topLogprobs, type TokenLogprob } from './logprobs.js';
import { Rng } from './rng.js';
import { Sampler } from './sampler.js';
import { StopStringFilter } from './stop.js';

export interface GenerateOptions extends Partial<GenerationConfig> {
  /**
   * Settings from generation_config.json (see parseGenerationConfig). Precedence:
   * defaults ← the model's config (eos/bos/pad ids) ← this ← the per-call fields of these options.
   */
  generationConfig?: Partial<GenerationConfig>;
  /** Seeds the sampler's PRNG: same seed, same model and options → same ids. Omitted: crypto-random. */
  seed?: number;
  /**
   * Generation ends when the decoded output contains one of these; the text ends right before it.
   * Matched against the text as streamed (so with `skipSpecialTokens`, special tokens never match).
   */
  stop?: readonly string[];
  /** Checked between tokens: generation ends within one token with finishReason 'abort' (no throw). */
  signal?: AbortSignal;
  /**
   * A cache to reuse: its longest common prefix with the prompt is kept and only the rest of the
   * prompt is computed. It is left holding the prompt and every generated token but the last (which
   * was never fed back). One generation at a time per cache. Omitted: a fresh one (see result.cache).
   */
  cache?: KVCache;
  /**
   * When set (integer ≥ 0), each chunk also carries its token's log-probability and the `topLogprobs`
   * most likely tokens. Both come from the log-softmax of the model's raw logits, before repetition
   * penalty, temperature, top-k or top-p: they describe the model, not the sampler.
   */
  topLogprobs?: number;
  /** Drop special tokens from the streamed text (default true). */
  skipSpecialTokens?: boolean;
  /** Ids that precede the output, for the detokenizer's spacing (default: the prompt ids). */
  detokenizeContext?: readonly number[];
}

export interface GeneratedChunk {
  /** The sampled token (an EOS token gets a chunk too, with the last of the text if any). */
  id: number;
  /** Text released with this token; may be '' (held back or incomplete UTF-8). */
  text: string;
  /** log p(id) under the raw model distribution (only with `topLogprobs`). */
  logprob?: number;
  /** The most likely tokens under the raw model distribution, best first (only with `topLogprobs`). */
  topLogprobs?: TokenLogprob[];
}

export type FinishReason = 'eos' | 'stop' | 'length' | 'abort';

export interface GenerationStats {
  /** Tokens in the prompt. */
  promptTokens: number;
  /** Prompt tokens whose keys/values were reused from `options.cache`. */
  cachedTokens: number;
  /** Prompt tokens run through the model in the prefill call (promptTokens − cachedTokens). */
  prefillTokens: number;
  /** Tokens sampled (the EOS token included). */
  generatedTokens: number;
  /** Time of the single prefill forward call. */
  prefillMs: number;
  prefillTokensPerSecond: number;
  /**
   * Engine time of the decode steps (forward + sampling + detokenizing for every token after the
   * first); time the consumer spends between chunks is not counted.
   */
  decodeMs: number;
  /** (generatedTokens − 1) / decodeMs: each token after the first costs one forward call. */
  decodeTokensPerSecond: number;
  /** From the start of generation to the first sampled token; null if none was sampled. */
  timeToFirstTokenMs: number | null;
  /** Wall time from start to finish, consumer time included. */
  totalMs: number;
}

export interface GenerationResult {
  promptIds: number[];
  /** Every sampled id, including an EOS id that ended generation and the token completing a stop string. */
  ids: number[];
  /**
   * The generated text: exactly the concatenation of the streamed chunks' text. It never holds an
   * EOS token or a stop string. On 'abort', text still held back (a possible stop-string prefix or
   * an incomplete character) is dropped, so what was shown and what is returned agree.
   */
  text: string;
  finishReason: FinishReason;
  stats: GenerationStats;
  /** The resolved settings used. */
  config: GenerationConfig;
  /** The cache used (options.cache or a new one), ready for a follow-up prompt sharing this prefix. */
  cache: KVCache;
}

/**
 * Generates a continuation of `promptIds`, one chunk per sampled token. The prompt (less any cached
 * prefix) goes through the model in one batched forward call; then one call per token. Between tokens
 * it yields to the event loop, since forward is synchronous CPU work and an AbortSignal or a SIGINT
 * handler could otherwise never run. The iterator's return value is the GenerationResult.
 *
 * Ends with: 'eos' (an EOS id was sampled), 'stop' (a stop string appeared), 'length'
 * (maxNewTokens reached, or prompt + output reached the context length), 'abort' (the signal fired).
 * Throws GenerationError for bad options, an empty prompt, an id outside the vocabulary, or a prompt
 * longer than the context.
 */
export async function* generate(
  model: CausalLM,
  tokenizer: Tokenizer,
  promptIds: readonly number[],
  options: GenerateOptions = {},
): AsyncGenerator<GeneratedChunk, GenerationResult, void> {
  const start = performance.now();
  const { vocabSize } = model.config;
  const config = resolveGenerationConfig(
    {
      eosTokenIds: model.config.eosTokenIds.length > 0 ? [...model.config.eosTokenIds]
        : tokenizer.eosTokenId !== null ? [tokenizer.eosTokenId] : [],
      bosTokenId: model.config.bosTokenId,
      padTokenId: model.config.padTokenId,
    },
    options.generationConfig,
    options,
  );
  const nTop = options.topLogprobs;
  if (nTop !== undefined && !(Number.isSafeInteger(nTop) && nTop >= 0)) {
    throw new GenerationError(`topLogprobs must be an integer ≥ 0, got ${nTop}`);
  }
  const stop = new StopStringFilter(options.stop);
  const rng = options.seed !== undefined ? new Rng(options.seed) : undefined;
  const cache = options.cache ?? model.createCache();
  // The cache's limit is the model's context (max_position_embeddings, stretched by any RoPE scaling).
  const context = cache.maxLength;
  checkPrompt(promptIds, vocabSize, context);
  const eos = new Set(config.eosTokenIds);
  // Prompt + output must fit the context. The last token sampled is never fed, so this leaves one
  // position unused; in exchange the whole sequence fits, and a follow-up turn can still feed it.
  const limit = Math.min(config.maxNewTokens, context - promptIds.length);

  const ids: number[] = [];
  let text = '';
  let cachedTokens = 0;
  let prefillTokens = 0;
  let prefillMs = 0;
  let decodeMs = 0;
  let firstTokenMs: number | null = null;
  const finish = (finishReason: FinishReason): GenerationResult => {
    const decoded = Math.max(0, ids.length - 1);
    return {
      promptIds: [...promptIds],
      ids,
      text,
      finishReason,
      config,
      cache,
      stats: {
        promptTokens: promptIds.length,
        cachedTokens,
        prefillTokens,
        generatedTokens: ids.length,
        prefillMs,
        prefillTokensPerSecond: rate(prefillTokens, prefillMs),
        decodeMs,
        decodeTokensPerSecond: rate(decoded, decodeMs),
        timeToFirstTokenMs: firstTokenMs,
        totalMs: performance.now() - start,
      },
    };
  };

  if (options.signal?.aborted) return finish('abort');
  if (limit <= 0) return finish('length');

  const sampler = new Sampler(vocabSize, config, rng);
  sampler.observe(promptIds);
  const detokenizer = new IncrementalDetokenizer(tokenizer, {
    context: options.detokenizeContext ?? promptIds,
    skipSpecialTokens: options.skipSpecialTokens ?? true,
  });
  // Sampling works in place; with logprobs it works on this copy so the raw logits stay readable.
  const work = nTop !== undefined ? new Float32Array(vocabSize) : null;

  // Keep the cached prefix shared with the prompt; at least one prompt token must be fed to get logits.
  cachedTokens = Math.min(commonPrefixLength(cache.tokens, promptIds), promptIds.length - 1, cache.reusableLength(promptIds.length));
  cache.truncate(cachedTokens);
  const suffix = promptIds.slice(cachedTokens);
  prefillTokens = suffix.length;
  const prefillStart = performance.now();
  let logits = model.forward(suffix, cache);
  prefillMs = performance.now() - prefillStart;
  if (logits.length !== vocabSize) {
    throw new GenerationError(`the model returned ${logits.length} logits, its config says vocab_size ${vocabSize}`);
  }

  for (;;) {
    await nextMacrotask();
    if (options.signal?.aborted) return finish('abort');
    const stepStart = performance.now();
    if (ids.length > 0) logits = model.forward([ids[ids.length - 1]!], cache);

    let id: number;
    let scores: Pick<GeneratedChunk, 'logprob' | 'topLogprobs'> = {};
    if (work !== null) {
      work.set(logits);
      id = sampler.sample(work);
      const logZ = logSumExp(logits);
      scores = { logprob: logits[id]! - logZ, topLogprobs: topLogprobs(logits, nTop!, logZ) };
    } else {
      id = sampler.sample(logits);
    }
    ids.push(id);

    // The EOS token adds no text. On the last token the detokenizer's pending bytes are flushed,
    // then whatever the stop filter still holds back is released (unless a stop string completed).
    let reason: FinishReason | null = eos.has(id) ? 'eos' : ids.length >= limit ? 'length' : null;
    let piece = reason === 'eos' ? '' : detokenizer.push(id);
    if (reason !== null) piece += detokenizer.flush();
    let released = stop.push(piece);
    if (stop.stopped) reason = 'stop';
    else if (reason !== null) released += stop.flush();
    text += released;

    if (firstTokenMs === null) firstTokenMs = performance.now() - start;
    else decodeMs += performance.now() - stepStart;
    yield { id, text: released, ...scores };
    if (reason !== null) return finish(reason);
  }
}

/** Runs `generate` to the end and returns its result (chunks are not kept; the text is in the result). */
export async function generateText(
  model: CausalLM,
  tokenizer: Tokenizer,
  promptIds: readonly number[],
  options: GenerateOptions = {},
): Promise<GenerationResult> {
  const run = generate(model, tokenizer, promptIds, options);
  for (;;) {
    const step = await run.next();
    if (step.done) return step.value;
  }
}

function checkPrompt(promptIds: readonly number[], vocabSize: number, context: number): void {
  if (promptIds.length === 0) throw new GenerationError('the prompt is empty: at least one token id is needed');
  if (promptIds.length > context) {
    throw new GenerationError(`the prompt has ${promptIds.length} tokens, more than the model's context of ${context}`);
  }
  for (const id of promptIds) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new GenerationError(`prompt token id ${id} is outside the vocabulary (0 … ${vocabSize - 1})`);
    }
  }
}

function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

function rate(tokens: number, ms: number): number {
  return ms > 0 ? (tokens * 1000) / ms : 0;
}
