/**
 * JSON schemas of the request bodies, checked by fastify (ajv) before a handler runs, so a handler
 * only ever sees well-typed input. Unknown fields are accepted and ignored, as OpenAI's clients send
 * fields this server has no use for (`user`, `metadata` …); fields that would change the answer
 * and are not supported are refused by the handlers (see request-options.ts), not ignored.
 */

const nullable = (schema: Record<string, unknown>): Record<string, unknown> => ({ anyOf: [schema, { type: 'null' }] });

/** Sampling and output fields shared by both endpoints. */
const samplingProperties = {
  model: { type: 'string', minLength: 1 },
  stream: nullable({ type: 'boolean' }),
  stream_options: nullable({ type: 'object', properties: { include_usage: { type: 'boolean' } } }),
  max_tokens: nullable({ type: 'integer', minimum: 0 }),
  temperature: nullable({ type: 'number', minimum: 0, maximum: 2 }),
  top_p: nullable({ type: 'number', exclusiveMinimum: 0, maximum: 1 }),
  // Extensions (vLLM / llama.cpp spell them the same way).
  top_k: nullable({ type: 'integer', minimum: 0 }),
  repetition_penalty: nullable({ type: 'number', exclusiveMinimum: 0 }),
  seed: nullable({ type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  stop: nullable({ anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', maxItems: 4, items: { type: 'string', minLength: 1 } }] }),
  n: nullable({ type: 'integer', minimum: 1 }),
  presence_penalty: nullable({ type: 'number', minimum: -2, maximum: 2 }),
  frequency_penalty: nullable({ type: 'number', minimum: -2, maximum: 2 }),
  logit_bias: nullable({ type: 'object' }),
  user: { type: 'string' },
} as const;

const textPart = {
  type: 'object',
  required: ['type', 'text'],
  properties: { type: { const: 'text' }, text: { type: 'string' } },
} as const;

const messageSchema = {
  type: 'object',
  required: ['role'],
  properties: {
    role: { enum: ['system', 'developer', 'user', 'assistant', 'tool', 'exec'] },
    content: { anyOf: [{ type: 'string' }, { type: 'array', items: textPart }, { type: 'null' }] },
    name: { type: 'string' },
    tool_call_id: { type: 'string' },
    tool_calls: nullable({ type: 'array' }),
  },
} as const;

export const chatCompletionBodySchema = {
  type: 'object',
  // `model` may be left out (as llama.cpp's server allows): it then means the one model served.
  required: ['messages'],
  properties: {
    ...samplingProperties,
    messages: { type: 'array', minItems: 1, items: messageSchema },
    max_completion_tokens: nullable({ type: 'integer', minimum: 0 }),
    logprobs: nullable({ type: 'boolean' }),
    top_logprobs: nullable({ type: 'integer', minimum: 0, maximum: 20 }),
    tools: nullable({ type: 'array' }),
    tool_choice: nullable({ anyOf: [{ type: 'string' }, { type: 'object' }] }),
    response_format: nullable({ type: 'object' }),
  },
} as const;

export const completionBodySchema = {
  type: 'object',
  required: ['prompt'],
  properties: {
    ...samplingProperties,
    prompt: {
      anyOf: [
        { type: 'string' },
        { type: 'array', minItems: 1, maxItems: 1, items: { type: 'string' } },
        { type: 'array', minItems: 1, items: { type: 'integer', minimum: 0 } },
      ],
    },
    echo: nullable({ type: 'boolean' }),
    logprobs: nullable({ type: 'integer', minimum: 0, maximum: 20 }),
    suffix: nullable({ type: 'string' }),
    best_of: nullable({ type: 'integer', minimum: 1 }),
  },
} as const;

/** One text part of a message's content array. */
export interface TextPart { type: 'text'; text: string }

export interface ApiMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool' | 'exec';
  content?: string | TextPart[] | null;
  name?: string;
  tool_call_id?: string;
  tool_calls?: unknown[] | null;
}

/** Fields common to both bodies, as the schema guarantees them. */
export interface SamplingBody {
  model?: string;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  max_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  repetition_penalty?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  n?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  logit_bias?: Record<string, unknown> | null;
}

export interface ChatCompletionBody extends SamplingBody {
  messages: ApiMessage[];
  max_completion_tokens?: number | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  tools?: unknown[] | null;
  tool_choice?: string | Record<string, unknown> | null;
  response_format?: { type?: unknown } | null;
}

export interface CompletionBody extends SamplingBody {
  prompt: string | [string] | number[];
  echo?: boolean | null;
  logprobs?: number | null;
  suffix?: string | null;
  best_of?: number | null;
}
