import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GenerateOptions, GenerationResult } from '../generation/generate.js';
import { badRequest } from './api-error.js';
import { toApiError } from './chat-route.js';
import type { ServerContext } from './context.js';
import { CompletionLogprobsBuilder, type CompletionLogprobs } from './logprob-format.js';
import { checkModel, nowSeconds, openAiFinishReason, requestId, streamError, usageOf } from './openai-common.js';
import { resolveMaxTokens, samplingOptions } from './request-options.js';
import { completionBodySchema, type CompletionBody } from './schemas.js';
import { GenerationSession } from './session.js';
import { SseWriter } from './sse.js';

interface CompletionJob {
  promptIds: number[];
  promptText: string;
  options: GenerateOptions;
  /** Top alternatives per token when logprobs were asked for, else null. */
  logprobs: number | null;
  echo: boolean;
}

function prepareJob(ctx: ServerContext, body: CompletionBody): CompletionJob {
  checkModel(ctx, body.model);
  if (body.suffix != null && body.suffix !== '') throw badRequest('suffix', 'is not supported (no fill-in-the-middle)');
  if (body.best_of != null && body.best_of !== 1) throw badRequest('best_of', `only best_of = 1 is supported, got ${body.best_of}`);
  const sampling = samplingOptions(body);
  const { engine } = ctx;
  let promptIds: number[];
  let promptText: string;
  if (typeof body.prompt === 'string' || typeof body.prompt[0] === 'string') {
    promptText = typeof body.prompt === 'string' ? body.prompt : (body.prompt[0] as string);
    promptIds = engine.tokenizer.encode(promptText);
  } else {
    promptIds = body.prompt as number[];
    const vocab = engine.model.config.vocabSize;
    const bad = promptIds.findIndex((id) => id >= vocab);
    if (bad >= 0) throw badRequest(`prompt[${bad}]`, `token id ${promptIds[bad]} is outside the vocabulary (0 … ${vocab - 1})`);
    promptText = engine.tokenizer.decode(promptIds);
  }
  if (promptIds.length === 0) throw badRequest('prompt', 'is empty: at least one token is needed');
  const requested = body.max_tokens != null ? { param: 'max_tokens', value: body.max_tokens } : null;
  const maxNewTokens = resolveMaxTokens(requested, promptIds.length, engine.contextLength, engine.lm.generationConfig.maxNewTokens, 'prompt');
  const logprobs = body.logprobs ?? null;
  return {
    promptIds,
    promptText,
    options: { ...sampling, maxNewTokens, ...(logprobs !== null ? { topLogprobs: logprobs } : {}) },
    logprobs,
    echo: body.echo === true,
  };
}

interface Piece {
  text: string;
  logprobs: CompletionLogprobs | null;
}

/**
 * Runs the completion. With echo the prompt comes first, and with echo + logprobs the prompt's
 * own token logprobs too (what evaluation harnesses score): one forward pass over the whole prompt
 * with all positions' logits, whose cache then serves the generation, so the prompt is computed once.
 */
async function runCompletion(ctx: ServerContext, job: CompletionJob, signal: AbortSignal, onPiece: (p: Piece) => Promise<void>): Promise<GenerationResult> {
  const { engine } = ctx;
  // Offsets count from the start of the returned text, which only holds the prompt with echo.
  const builder = job.logprobs !== null ? new CompletionLogprobsBuilder(engine.tokenizer, job.echo ? 0 : job.promptText.length) : null;
  let options: GenerateOptions = { ...job.options, signal };
  if (job.echo) {
    if (builder !== null) {
      const scores = engine.scorePrompt(job.promptIds, job.logprobs!);
      job.promptIds.forEach((id, i) => builder.add(id, scores.logprobs[i]!, scores.top[i]!));
      options = { ...options, cache: scores.cache };
    }
    await onPiece({ text: job.promptText, logprobs: builder?.take() ?? null });
  }
  const eos = new Set(engine.lm.generationConfig.eosTokenIds);
  const run = engine.generate(job.promptIds, options);
  for (;;) {
    const step = await run.next();
    if (step.done) return step.value;
    const chunk = step.value;
    if (builder !== null && chunk.logprob !== undefined && !eos.has(chunk.id)) builder.add(chunk.id, chunk.logprob, chunk.topLogprobs ?? []);
    if (chunk.text || (builder !== null && builder.value.tokens.length > 0)) {
      await onPiece({ text: chunk.text, logprobs: builder?.take() ?? null });
    }
  }
}

function mergeLogprobs(parts: CompletionLogprobs[]): CompletionLogprobs {
  return {
    tokens: parts.flatMap((p) => p.tokens),
    token_logprobs: parts.flatMap((p) => p.token_logprobs),
    top_logprobs: parts.flatMap((p) => p.top_logprobs),
    text_offset: parts.flatMap((p) => p.text_offset),
  };
}

async function handleCompletion(ctx: ServerContext, request: FastifyRequest<{ Body: CompletionBody }>, reply: FastifyReply): Promise<unknown> {
  const body = request.body;
  const job = prepareJob(ctx, body);
  const session = new GenerationSession(ctx, request, reply);
  const promptTokens = job.promptIds.length;
  let result: GenerationResult | null = null;
  let status = 200;
  let outcome = 'error';
  try {
    if (!(await session.admit())) {
      outcome = 'abort (while queued)';
      return reply.hijack();
    }
    const base = { id: requestId('cmpl'), object: 'text_completion', created: nowSeconds(), model: ctx.modelId, system_fingerprint: null };
    if (body.stream) {
      const sse = new SseWriter(reply);
      sse.start();
      const choice = (text: string, logprobs: CompletionLogprobs | null, finish: string | null) => ({
        ...base, choices: [{ index: 0, text, logprobs, finish_reason: finish }],
      });
      try {
        result = await runCompletion(ctx, job, session.signal, (p) => sse.send(choice(p.text, p.logprobs, null)));
        await sse.send(choice('', null, openAiFinishReason(result.finishReason)));
        if (body.stream_options?.include_usage) await sse.send({ ...base, choices: [], usage: usageOf(promptTokens, result) });
      } catch (err) {
        await sse.send(streamError(toApiError(err)));
        await sse.done();
        outcome = `error: ${toApiError(err).message}`;
        ctx.reportError(err);
        return reply;
      }
      await sse.done();
    } else {
      let text = '';
      const parts: CompletionLogprobs[] = [];
      result = await runCompletion(ctx, job, session.signal, async (p) => {
        text += p.text;
        if (p.logprobs) parts.push(p.logprobs);
      });
      reply.send({
        ...base,
        choices: [{ index: 0, text, logprobs: job.logprobs !== null ? mergeLogprobs(parts) : null, finish_reason: openAiFinishReason(result.finishReason) }],
        usage: usageOf(promptTokens, result),
      });
    }
    outcome = result.finishReason === 'abort' ? 'abort' : openAiFinishReason(result.finishReason);
    return reply;
  } catch (err) {
    const apiError = toApiError(err);
    status = apiError.status;
    outcome = `error: ${apiError.message}`;
    throw apiError.status === 500 ? err : apiError;
  } finally {
    session.finish({ status, promptTokens, result, reason: outcome });
  }
}

export function registerCompletionsRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: CompletionBody }>('/v1/completions', { schema: { body: completionBodySchema } }, (request, reply) => handleCompletion(ctx, request, reply));
}
