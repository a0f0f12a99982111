import { randomUUID } from 'node:crypto';
import type { FinishReason, GenerationResult } from '../generation/generate.js';
import { ApiError } from './api-error.js';
import type { ServerContext } from './context.js';

/** OpenAI's finish reasons. An aborted generation (client gone, shutdown) reports 'stop'. */
export type OpenAiFinishReason = 'stop' | 'length' | 'tool_calls';

export function openAiFinishReason(reason: FinishReason): OpenAiFinishReason {
  return reason === 'length' ? 'length' : 'stop';
}

export function requestId(prefix: string): string {
  return `${prefix}-${randomUUID().replace(/-/g, '')}`;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** 404 in OpenAI's words when the request names another model than the one served (no model = the served one). */
export function checkModel(ctx: ServerContext, model: string | undefined): void {
  if (model !== undefined && model !== ctx.modelId) {
    throw new ApiError(404, `The model '${model}' does not exist; this server serves '${ctx.modelId}'`, 'model', 'model_not_found');
  }
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usageOf(promptTokens: number, result: GenerationResult): Usage {
  const completion = result.stats.generatedTokens;
  return { prompt_tokens: promptTokens, completion_tokens: completion, total_tokens: promptTokens + completion };
}

/** An error event in a stream that has already started (the status line is gone): OpenAI's error shape as data. */
export function streamError(err: ApiError): { error: ReturnType<ApiError['toJSON']>['error'] } {
  return err.toJSON();
}
