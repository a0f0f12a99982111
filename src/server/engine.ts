import type { ChatFormat } from '../chat/format.js';
import type { GenerationConfig } from '../generation/config.js';
import { generate, type GenerateOptions, type GeneratedChunk, type GenerationResult } from '../generation/generate.js';
import { logSumExp, topLogprobs, type TokenLogprob } from '../generation/logprobs.js';
import type { CausalLM } from '../model/causal-lm.js';
import type { KVCache } from '../model/kv-cache.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { Scheduler } from './scheduler.js';

/**
 * Concurrency decision: there is one model instance and its forward pass is synchronous CPU work,
 * so two forward calls never overlap — JavaScript runs one at a time. Generations can therefore
 * interleave token by token (each has its own KV cache), which lets up to `concurrency` streams
 * progress together, as XVERSE's Gradio demo does with `queue(concurrency_count=4)`; they share
 * the CPU, so each gets about 1/N of the speed. The one shared state is the model's reused
 * last-position logits buffer, which generate() reads after an await (prefill → first sample): a
 * second generation's forward in between would overwrite it. `interleavable` hands out a private
 * copy instead (vocab floats per step, negligible next to the forward pass).
 */
export function interleavable(model: CausalLM): CausalLM {
  return {
    config: model.config,
    createCache: () => model.createCache(),
    forward: (ids, cache, options) => {
      const logits = model.forward(ids, cache, options);
      return options?.allLogits ? logits : logits.slice();
    },
  };
}

/**
 * What the server needs of a model: an XverseForCausalLM has all of it. Kept this narrow so a test
 * can serve a scripted CausalLM (to steer a tiny model into a tool call) through the real server.
 */
export interface ServedModel {
  readonly path: string;
  readonly model: CausalLM;
  /** generation_config.json over HF's defaults: the defaults of every request. */
  readonly generationConfig: GenerationConfig;
  readonly chatFormat: ChatFormat;
}

/** Counters for tests and `/debug/stats`. */
export interface EngineStats {
  /** Generations running now (admitted by the scheduler). */
  active: number;
  /** Requests waiting for a slot. */
  queued: number;
  /** Most generations ever running at once. */
  maxActive: number;
  /** Generations started since the server started. */
  generations: number;
  /** Tokens sampled by all generations since start (an aborted one stops adding within one token). */
  generatedTokens: number;
}

/** Log-probabilities of each prompt token given the ones before it (the first has none). */
export interface PromptScores {
  logprobs: Array<number | null>;
  top: Array<TokenLogprob[] | null>;
  /** The cache holding the whole prompt, passed on to generate() so the prompt is not computed twice. */
  cache: KVCache;
}

/** The model, its tokenizer and the scheduler that admits generations; one per server. */
export class Engine {
  readonly model: CausalLM;
  readonly contextLength: number;
  readonly scheduler: Scheduler;
  lastPromptIds: number[] | null = null;
  private maxActive = 0;
  private generations = 0;
  private generatedTokens = 0;

  constructor(readonly lm: ServedModel, readonly tokenizer: Tokenizer, concurrency: number, maxQueued: number) {
    this.model = interleavable(lm.model);
    // The cache's limit is the model's real context (RoPE scaling included), as generate() uses it.
    this.contextLength = this.model.createCache().maxLength;
    this.scheduler = new Scheduler(concurrency, maxQueued);
  }

  stats(): EngineStats {
    return {
      active: this.scheduler.active,
      queued: this.scheduler.queued,
      maxActive: this.maxActive,
      generations: this.generations,
      generatedTokens: this.generatedTokens,
    };
  }

  /** Waits for a generation slot (FIFO); resolves with its release function. */
  async admit(signal: AbortSignal): Promise<() => void> {
    const release = await this.scheduler.acquire(signal);
    this.maxActive = Math.max(this.maxActive, this.scheduler.active);
    return release;
  }

  /**
   * Runs one generation with the model's generation_config.json as the defaults under `options`
   * (as `model.chat` does). Call only while holding a slot from `admit`.
   */
  async *generate(promptIds: readonly number[], options: GenerateOptions): AsyncGenerator<GeneratedChunk, GenerationResult, void> {
    this.generations++;
    this.lastPromptIds = [...promptIds];
    const run = generate(this.model, this.tokenizer, promptIds, {
      ...options,
      generationConfig: { ...this.lm.generationConfig, ...options.generationConfig },
    });
    for (;;) {
      const step = await run.next();
      if (step.done) return step.value;
      this.generatedTokens++;
      yield step.value;
    }
  }

  /** Scores a prompt in one forward pass over all positions (for completions with echo + logprobs). */
  scorePrompt(promptIds: readonly number[], nTop: number): PromptScores {
    const cache = this.model.createCache();
    const logits = this.model.forward(promptIds, cache, { allLogits: true });
    const V = this.model.config.vocabSize;
    const logprobs: Array<number | null> = [null];
    const top: Array<TokenLogprob[] | null> = [null];
    for (let i = 1; i < promptIds.length; i++) {
      const row = logits.subarray((i - 1) * V, i * V);
      const logZ = logSumExp(row);
      logprobs.push(row[promptIds[i]!]! - logZ);
      top.push(topLogprobs(row, nTop, logZ));
    }
    return { logprobs, top, cache };
  }
}
