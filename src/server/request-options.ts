import type { GenerateOptions } from '../generation/generate.js';
import { badRequest } from './api-error.js';
import type { SamplingBody } from './schemas.js';

/**
 * Maps the OpenAI sampling fields onto generate() options. Only fields the client set are passed,
 * so everything else falls back to the model's generation_config.json. As in the CLI, asking for a
 * temperature > 0, top_p, top_k or a seed turns sampling on, and temperature 0 means greedy.
 * Fields that would change the answer but are not implemented are refused rather than ignored.
 */
export function samplingOptions(body: SamplingBody): GenerateOptions {
  if (body.n != null && body.n !== 1) throw badRequest('n', `only n = 1 is supported, got ${body.n}`);
  if (body.presence_penalty) throw badRequest('presence_penalty', 'is not supported (use repetition_penalty, HF style)');
  if (body.frequency_penalty) throw badRequest('frequency_penalty', 'is not supported (use repetition_penalty, HF style)');
  if (body.logit_bias && Object.keys(body.logit_bias).length > 0) throw badRequest('logit_bias', 'is not supported');
  const o: GenerateOptions = {};
  if (body.temperature != null) o.temperature = body.temperature;
  if (body.top_p != null) o.topP = body.top_p;
  if (body.top_k != null) o.topK = body.top_k;
  if (body.repetition_penalty != null) o.repetitionPenalty = body.repetition_penalty;
  if (body.seed != null) o.seed = body.seed;
  if (body.stop != null) o.stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
  if (body.temperature === 0) o.doSample = false;
  else if (body.temperature != null || body.top_p != null || body.top_k != null || body.seed != null) o.doSample = true;
  return o;
}

/**
 * The number of tokens to generate: the request's value, which must leave prompt + output within
 * the context (else a 400 naming the field), or the generation_config.json default cut to what fits.
 */
export function resolveMaxTokens(
  requested: { param: string; value: number } | null, promptLength: number, context: number, defaultMax: number, promptParam: string,
): number {
  if (promptLength >= context) {
    throw badRequest(promptParam, `the prompt has ${promptLength} tokens; the model's context is ${context} tokens, and the prompt must leave room for at least one more`, 'context_length_exceeded');
  }
  const room = context - promptLength;
  if (requested === null) return Math.min(defaultMax, room);
  if (requested.value > room) {
    throw badRequest(requested.param, `${requested.value} tokens requested, but the prompt has ${promptLength} tokens and prompt + ${requested.param} must be ≤ the context length ${context} (at most ${room})`, 'context_length_exceeded');
  }
  return requested.value;
}
