import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { prepareChat } from '../chat/chat.js';
import { EosTextStripper } from '../chat/format.js';
import { validateChatMessages } from '../chat/messages.js';
import { ChatError, GenerationError } from '../errors.js';
import type { GenerateOptions, GenerationResult } from '../generation/generate.js';
import { randomBytes } from 'node:crypto';
import { ToolCallParser, withTools, type ParsedToolCall } from '../chat/tools/index.js';
import { ApiError, badRequest } from './api-error.js';
import { toChatMessages } from './chat-messages.js';
import type { ServerContext } from './context.js';
import { chatLogprobEntry, type ChatLogprobEntry } from './logprob-format.js';
import { checkModel, nowSeconds, openAiFinishReason, requestId, streamError, usageOf } from './openai-common.js';
import { resolveMaxTokens, samplingOptions } from './request-options.js';
import { chatCompletionBodySchema, type ChatCompletionBody } from './schemas.js';
import { GenerationSession } from './session.js';
import { SseWriter } from './sse.js';
import { openAiToolCall, renderToolCalls, toolSetup } from './tools.js';

/** A validated chat request, ready to run. */
interface ChatJob {
  promptIds: number[];
  options: GenerateOptions;
  logprobs: boolean;
  /** Tools were offered: the reply is parsed for `<|startofthink|>` calls. */
  tools: boolean;
}

/** Checks the body and builds the XVERSE prompt; every problem is a 400 naming its field. */
function prepareJob(ctx: ServerContext, body: ChatCompletionBody): ChatJob {
  checkModel(ctx, body.model);
  if (body.response_format && body.response_format.type !== 'text') throw badRequest('response_format', 'only {"type": "text"} is supported');
  if (body.top_logprobs != null && body.logprobs !== true) throw badRequest('top_logprobs', 'needs "logprobs": true');
  const sampling = samplingOptions(body);
  const { engine } = ctx;
  const tools = toolSetup(body.tools, body.tool_choice);
  let messages = toChatMessages(body.messages, renderToolCalls);
  try {
    validateChatMessages(messages, engine.lm.chatFormat);
  } catch (err) {
    if (err instanceof ChatError) throw badRequest('messages', err.message);
    throw err;
  }
  // The plugin prompt goes where XVERSE puts it: the system message (v2) or the first user turn (v1).
  if (tools.specs.length > 0) messages = withTools(messages, tools.specs, { format: engine.lm.chatFormat });
  const requested = body.max_completion_tokens != null ? { param: 'max_completion_tokens', value: body.max_completion_tokens }
    : body.max_tokens != null ? { param: 'max_tokens', value: body.max_tokens } : null;
  const defaultMax = engine.lm.generationConfig.maxNewTokens;
  // XVERSE's prompt builder sizes the history it keeps by the output budget, so it gets the same one.
  const budget = Math.min(requested?.value ?? defaultMax, engine.contextLength);
  const prepared = prepareChat(engine.model, engine.tokenizer, messages, {
    format: engine.lm.chatFormat,
    ...sampling,
    maxNewTokens: budget,
    generationConfig: engine.lm.generationConfig,
  });
  if (tools.specs.length > 0 && messages[0]?.role === 'system') checkSystemKept(ctx, messages[0].content, prepared.promptIds);
  const maxNewTokens = resolveMaxTokens(requested, prepared.promptIds.length, engine.contextLength, defaultMax, 'messages');
  const logprobs = body.logprobs === true;
  return {
    promptIds: prepared.promptIds,
    options: { ...prepared.options, maxNewTokens, ...(logprobs ? { topLogprobs: body.top_logprobs ?? 0 } : {}) },
    logprobs,
    tools: tools.specs.length > 0,
  };
}

/**
 * XVERSE's v2 builder drops a system message that does not fit the input budget (spec §3.2); with
 * tools that message is the plugin prompt, and a model that never saw it cannot call a tool, so
 * that is a 400 rather than a silently tool-less answer. Kept, it is the prompt's first tokens.
 */
function checkSystemKept(ctx: ServerContext, system: string, promptIds: readonly number[]): void {
  const encode = (text: string) => ctx.engine.tokenizer.encode(text, { addSpecialTokens: false });
  const expected = [...encode('Human: '), ...encode(`${system}\n`)];
  if (ctx.engine.lm.chatFormat !== 'v2' || expected.every((id, i) => promptIds[i] === id)) return;
  throw badRequest('tools', `the tools prompt (${expected.length} tokens) does not fit the model's input budget with this history and max_tokens; shorten the history, the tool descriptions or max_tokens`, 'context_length_exceeded');
}

interface Delta {
  content: string;
  logprobs: ChatLogprobEntry[];
  toolCalls: ParsedToolCall[];
}

interface ChatOutcome {
  result: GenerationResult;
  toolCalls: number;
}

/**
 * Runs the generation, calling `onDelta` with each piece of reply text (the EOS string removed, as
 * XVERSE's chat does), the logprobs of the tokens that produced it and, when tools were offered,
 * the tool calls completed so far (their marked text never reaches `content`).
 */
async function runChat(ctx: ServerContext, job: ChatJob, signal: AbortSignal, onDelta: (d: Delta) => Promise<void>): Promise<ChatOutcome> {
  const { engine } = ctx;
  const eos = new Set(engine.lm.generationConfig.eosTokenIds);
  const stripper = new EosTextStripper(engine.tokenizer.eosToken);
  // Call ids must be unique across a conversation, which may span several requests.
  const parser = job.tools ? new ToolCallParser({ idPrefix: `call_${randomBytes(6).toString('hex')}_` }) : null;
  const run = engine.generate(job.promptIds, { ...job.options, signal });
  let pending: ChatLogprobEntry[] = [];
  let toolCalls = 0;
  const emit = async (text: string, final: boolean): Promise<void> => {
    const parsed = parser === null ? { content: text, toolCalls: [] } : final ? parser.end() : parser.push(text);
    toolCalls += parsed.toolCalls.length;
    if (parsed.content || parsed.toolCalls.length > 0 || (final && pending.length > 0)) {
      await onDelta({ content: parsed.content, logprobs: pending, toolCalls: parsed.toolCalls });
      pending = [];
    }
  };
  for (;;) {
    const step = await run.next();
    if (step.done) {
      const tail = stripper.flush();
      if (parser === null) await emit(tail, true);
      else {
        if (tail) await emit(tail, false);
        await emit('', true);
      }
      return { result: step.value, toolCalls };
    }
    const chunk = step.value;
    // OpenAI lists the tokens of the content only: the EOS token that ended the reply is not one.
    if (job.logprobs && chunk.logprob !== undefined && !eos.has(chunk.id)) {
      pending.push(chatLogprobEntry(engine.tokenizer, chunk.id, chunk.logprob, chunk.topLogprobs ?? []));
    }
    const content = stripper.push(chunk.text);
    if (content) await emit(content, false);
  }
}

/** finish_reason: a reply that called tools says so, unless it was cut by the length limit. */
function finishReason(outcome: ChatOutcome): 'stop' | 'length' | 'tool_calls' {
  const reason = openAiFinishReason(outcome.result.finishReason);
  return outcome.toolCalls > 0 && reason === 'stop' ? 'tool_calls' : reason;
}

async function handleChat(ctx: ServerContext, request: FastifyRequest<{ Body: ChatCompletionBody }>, reply: FastifyReply): Promise<unknown> {
  const body = request.body;
  const job = prepareJob(ctx, body);
  const session = new GenerationSession(ctx, request, reply);
  const promptTokens = job.promptIds.length;
  let result: GenerationResult | null = null;
  let status = 200;
  let outcome = 'error';
  let finish = 'stop';
  try {
    if (!(await session.admit())) {
      outcome = 'abort (while queued)';
      return reply.hijack();
    }
    const id = requestId('chatcmpl');
    const created = nowSeconds();
    const base = { id, object: 'chat.completion.chunk', created, model: ctx.modelId, system_fingerprint: null };
    if (body.stream) {
      const sse = new SseWriter(reply);
      sse.start();
      const choice = (delta: object, logprobs: ChatLogprobEntry[] | null, finish: string | null) => ({
        ...base, choices: [{ index: 0, delta, logprobs: logprobs === null ? null : { content: logprobs, refusal: null }, finish_reason: finish }],
      });
      await sse.send(choice({ role: 'assistant', content: '' }, null, null));
      let calls = 0;
      try {
        const done = await runChat(ctx, job, session.signal, (d) => {
          const delta = d.toolCalls.length > 0
            ? { ...(d.content ? { content: d.content } : {}), tool_calls: d.toolCalls.map((c) => openAiToolCall(c, calls++)) }
            : { content: d.content };
          return sse.send(choice(delta, job.logprobs ? d.logprobs : null, null));
        });
        result = done.result;
        finish = finishReason(done);
        await sse.send(choice({}, null, finish));
        if (body.stream_options?.include_usage) await sse.send({ ...base, choices: [], usage: usageOf(promptTokens, result) });
      } catch (err) {
        // The status line is gone: the error travels as a data event, then the stream ends.
        await sse.send(streamError(toApiError(err)));
        await sse.done();
        outcome = `error: ${toApiError(err).message}`;
        ctx.reportError(err);
        return reply;
      }
      await sse.done();
    } else {
      let text = '';
      const entries: ChatLogprobEntry[] = [];
      const calls: ParsedToolCall[] = [];
      const done = await runChat(ctx, job, session.signal, async (d) => {
        text += d.content;
        entries.push(...d.logprobs);
        calls.push(...d.toolCalls);
      });
      result = done.result;
      finish = finishReason(done);
      reply.send({
        id, object: 'chat.completion', created, model: ctx.modelId, system_fingerprint: null,
        choices: [{
          index: 0,
          message: {
            role: 'assistant',
            // OpenAI sends null content for a reply that is only tool calls.
            content: calls.length > 0 && text === '' ? null : text,
            refusal: null,
            ...(calls.length > 0 ? { tool_calls: calls.map((c) => openAiToolCall(c)) } : {}),
          },
          logprobs: job.logprobs ? { content: entries, refusal: null } : null,
          finish_reason: finish,
        }],
        usage: usageOf(promptTokens, result),
      });
    }
    outcome = result.finishReason === 'abort' ? 'abort' : finish;
    return reply;
  } catch (err) {
    const apiError = toApiError(err);
    status = apiError.status;
    outcome = `error: ${apiError.message}`;
    // A bug keeps its stack for the error handler's log; the client only sees the generic 500.
    throw apiError.status === 500 ? err : apiError;
  } finally {
    session.finish({ status, promptTokens, result, reason: outcome });
  }
}

/** Bad generation options found by generate() itself are the client's; anything else is a bug (500). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof GenerationError) return new ApiError(400, err.message);
  return new ApiError(500, 'internal error (see the server log)', null, 'internal_error');
}

export function registerChatRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: ChatCompletionBody }>('/v1/chat/completions', { schema: { body: chatCompletionBodySchema } }, (request, reply) => handleChat(ctx, request, reply));
}
