import { GenerationError } from '../errors.js';
import { isGreedy, type GenerationConfig } from './config.js';
import { applyTemperature, applyTopK, applyTopP, RepetitionPenalty } from './processors.js';
import { Rng } from './rng.js';

export type SamplingConfig = Pick<GenerationConfig, 'doSample' | 'temperature' | 'topK' | 'topP' | 'repetitionPenalty'>;

/**
 * Picks next tokens the way transformers 4.29 `generate` does for one sequence:
 * logits processors (repetition penalty) run in greedy and sampling mode alike; the warpers
 * (temperature → top-k → top-p) only when sampling; then argmax, or softmax + multinomial draw.
 * Holds the repetition history and all scratch memory, so a decode step allocates nothing.
 */
export class Sampler {
  readonly greedy: boolean;
  private readonly penalty: RepetitionPenalty | null;
  private readonly heap: Float32Array | null;
  private readonly order: Int32Array | null;
  private rng: Rng | null;

  /** `rng` is only drawn from when sampling; omitted, a crypto-seeded one is made on first use. */
  constructor(readonly vocabSize: number, readonly config: SamplingConfig, rng?: Rng) {
    this.greedy = isGreedy(config);
    // HF adds each processor only when it changes something (penalty ≠ 1, top_k ≠ 0, top_p < 1).
    this.penalty = config.repetitionPenalty !== 1 ? new RepetitionPenalty(vocabSize, config.repetitionPenalty) : null;
    const k = Math.min(config.topK, vocabSize);
    this.heap = !this.greedy && k > 0 ? new Float32Array(k) : null;
    this.order = !this.greedy && config.topP < 1 ? new Int32Array(vocabSize) : null;
    this.rng = rng ?? null;
  }

  /** Adds ids (the prompt, at the start) to the repetition-penalty history. */
  observe(ids: ArrayLike<number>): void {
    this.penalty?.observe(ids);
  }

  /** Runs the processors in HF's order, in place. */
  process(logits: Float32Array): void {
    this.penalty?.apply(logits);
    if (this.greedy) return;
    applyTemperature(logits, this.config.temperature);
    if (this.heap !== null) applyTopK(logits, this.config.topK, this.heap);
    if (this.order !== null) applyTopP(logits, this.config.topP, this.order);
  }

  /** Processes `logits` (in place), picks a token and records it in the history. */
  sample(logits: Float32Array): number {
    this.process(logits);
    const id = this.greedy ? argmax(logits) : sampleMultinomial(logits, (this.rng ??= new Rng()));
    this.penalty?.observe([id]);
    return id;
  }
}

/** Index of the largest logit; the first one wins a tie (as torch.argmax). */
export function argmax(logits: Float32Array): number {
  let best = 0;
  let max = logits[0]!;
  for (let i = 1; i < logits.length; i++) {
    if (logits[i]! > max) {
      max = logits[i]!;
      best = i;
    }
  }
  return best;
}

/**
 * Draws an id with probability softmax(logits)[id] (f64 softmax; −Infinity has probability 0).
 * One uniform number u ∈ [0, 1) selects the first id whose cumulative mass exceeds u · total.
 */
export function sampleMultinomial(logits: Float32Array, rng: Rng): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  if (!(max > -Infinity) || max === Infinity) {
    throw new GenerationError('cannot sample: no token has a finite logit');
  }
  let total = 0;
  for (let i = 0; i < logits.length; i++) total += Math.exp(logits[i]! - max);
  const target = rng.nextFloat() * total;
  let cumulative = 0;
  let last = -1;
  for (let i = 0; i < logits.length; i++) {
    const w = Math.exp(logits[i]! - max);
    if (w === 0) continue;
    cumulative += w;
    last = i;
    if (target < cumulative) return i;
  }
  return last; // rounding left target ≥ the summed mass: the last token with any mass
}
