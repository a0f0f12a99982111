import { chat, type ChatOptions } from '../chat.js';
import type { ChatFormat } from '../format.js';
import type { ChatMessage } from '../messages.js';
import type { CausalLM } from '../../model/causal-lm.js';
import type { Tokenizer } from '../../tokenizer/tokenizer.js';
import { parseToolCalls, type ParsedToolCall } from './parser.js';
import { withTools, type WithToolsOptions } from './prompt.js';
import type { ToolRegistry } from './registry.js';

/**
 * What the agent loop needs from a model: one non-streaming chat turn. `XverseForCausalLM` (src/api)
 * has this shape; `chatModel()` adapts a bare CausalLM through the chat layer; tests script it.
 */
export interface AgentChatModel<Tok = Tokenizer> {
  chat(tokenizer: Tok, messages: readonly ChatMessage[], options?: ChatOptions): Promise<string>;
  /** The model's prompt format, when it knows it (XverseForCausalLM does). */
  readonly chatFormat?: ChatFormat;
}

/** Adapts a bare CausalLM to AgentChatModel through the chat layer's `chat()`. */
export function chatModel(model: CausalLM, chatFormat?: ChatFormat): AgentChatModel<Tokenizer> {
  return {
    ...(chatFormat === undefined ? {} : { chatFormat }),
    chat: (tokenizer, messages, options = {}) => chat(model, tokenizer, messages, chatFormat === undefined ? options : { format: chatFormat, ...options }),
  };
}

export interface AgentOptions extends Omit<WithToolsOptions, 'format'> {
  /** Most model turns (default 5); the loop stops there even if the last reply still calls tools. */
  maxSteps?: number;
  /** Passed to every `model.chat` call (sampling, max tokens …). */
  chatOptions?: ChatOptions;
  /** Prompt format (default: chatOptions.format, else the model's chatFormat, else 'v2'). */
  format?: ChatFormat;
  /** Add the plugin prompt with withTools (default true; false when `messages` already hold it). */
  addToolPrompt?: boolean;
  /** Called after each tool call has run, with the text sent back to the model. */
  onToolResult?: (call: ParsedToolCall, result: string) => void;
}

export interface AgentResult {
  /** The last reply's visible text (markers and calls removed). */
  answer: string;
  /** The whole history: the prompt as sent, every assistant reply verbatim (markers kept), every exec result. */
  messages: ChatMessage[];
  /** Model turns taken. */
  steps: number;
  /** 'answer': the last reply called no tool; 'max_steps': stopped by maxSteps with calls pending. */
  finishReason: 'answer' | 'max_steps';
}

/**
 * The function-calling loop of spec §5.1: ask the model; if its reply calls tools, keep the reply in
 * the history as it was written (step 3: the call stays in history like any assistant turn), run
 * each call's handler, send each result back as an `exec` message (`Exec: {result}\n\n`) and ask
 * again; stop at a reply without calls or after `maxSteps` turns (whose pending calls are not run).
 *
 * Results: a string is sent as is, anything else as JSON. Failures never throw out of the loop —
 * they become the result text `{"error": "…"}` so the model can react: a handler that throws, an
 * unknown tool, a tool without handler, a result that is not JSON-serializable, a call that could
 * not be parsed. One exec message per call, in the reply's order ([U] XVERSE documents one call
 * per turn). The v1 format has no `exec` role; there ([U] ours) results are sent as user turns.
 */
export async function runAgent<Tok>(
  model: AgentChatModel<Tok>, tokenizer: Tok, messages: readonly ChatMessage[], registry: ToolRegistry, options: AgentOptions = {},
): Promise<AgentResult> {
  const { maxSteps = 5, chatOptions = {}, addToolPrompt = true, onToolResult, format: formatOption, ...promptOptions } = options;
  if (!Number.isInteger(maxSteps) || maxSteps < 1) throw new RangeError(`maxSteps must be an integer ≥ 1, got ${String(maxSteps)}`);
  const format = formatOption ?? chatOptions.format ?? model.chatFormat ?? 'v2';
  const resultRole = format === 'v1' ? 'user' : 'exec';
  const history = addToolPrompt ? withTools(messages, registry.list(), { ...promptOptions, format }) : [...messages];
  const turnOptions: ChatOptions = { ...chatOptions, format };

  for (let step = 1; ; step++) {
    const reply = await model.chat(tokenizer, history, turnOptions);
    const parsed = parseToolCalls(reply, { idPrefix: `call_${step - 1}_` });
    history.push({ role: 'assistant', content: reply });
    const pending = parsed.toolCalls.length + parsed.errors.length;
    if (pending === 0 || step >= maxSteps) {
      return { answer: parsed.content, messages: history, steps: step, finishReason: pending === 0 ? 'answer' : 'max_steps' };
    }
    for (const call of parsed.toolCalls) {
      const result = await runToolCall(registry, call);
      onToolResult?.(call, result);
      history.push({ role: resultRole, content: result });
    }
    for (const error of parsed.errors) {
      history.push({ role: resultRole, content: errorText(`could not parse the tool call: ${error.reason}`) });
    }
  }
}

/** Runs one call's handler; returns the text for the exec message (never throws). */
export async function runToolCall(registry: ToolRegistry, call: ParsedToolCall): Promise<string> {
  const tool = registry.get(call.name);
  if (tool === undefined) return errorText(`unknown tool "${call.name}"`);
  if (tool.handler === undefined) return errorText(`tool "${call.name}" has no handler`);
  let result: unknown;
  try {
    result = await tool.handler(call.arguments);
  } catch (e) {
    return errorText(e instanceof Error ? e.message : String(e));
  }
  return formatToolResult(result);
}

/** A string result is sent as is; anything else as JSON (`undefined` → `null`). */
export function formatToolResult(result: unknown): string {
  if (typeof result === 'string') return result;
  try {
    return JSON.stringify(result) ?? 'null';
  } catch (e) {
    return errorText(`the tool result is not JSON-serializable (${(e as Error).message})`);
  }
}

function errorText(message: string): string {
  return JSON.stringify({ error: message });
}
