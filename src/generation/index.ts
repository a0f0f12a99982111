export { DEFAULT_GENERATION_CONFIG, isGreedy, parseGenerationConfig, resolveGenerationConfig, type GenerationConfig } from './config.js';
export {
  generate, generateText,
  type FinishReason, type GenerateOptions, type GeneratedChunk, type GenerationResult, type GenerationStats,
} from './generate.js';
export { logSumExp, topLogprobs, type TokenLogprob } from './logprobs.js';
export { applyTemperature, applyTopK, applyTopP, kthLargest, RepetitionPenalty } from './processors.js';
export { Rng } from './rng.js';
export { argmax, Sampler, sampleMultinomial, type SamplingConfig } from './sampler.js';
export { StopStringFilter } from './stop.js';
