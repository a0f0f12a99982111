import { parseLenientJson } from './json-repair.js';

/** XVERSE's (and ModelScope-Agent's) markers around a tool call (spec §5.1). */
export const THINK_START = '<|startofthink|>';
export const THINK_END = '<|endofthink|>';

export interface ParsedToolCall {
  /** Deterministic: `${idPrefix}${n}`, n counting the calls this parser has found (call_0, call_1, …). */
  id: string;
  name: string;
  arguments: Record<string, unknown>;
  /** `arguments` re-serialized as strict JSON (OpenAI's `function.arguments`). */
  argumentsJson: string;
  url?: string;
  /** The call exactly as the model wrote it, markers included. */
  raw: string;
}

/** A marked call that could not be used: the raw text and why. */
export interface ToolCallError {
  raw: string;
  reason: string;
}

export interface ToolCallParserOptions {
  /** Prefix of the generated ids (default `call_`). */
  idPrefix?: string;
}

export interface ToolCallChunk {
  /** Reply text that is safe to show now (never a marker, a piece of one, or a call's body). */
  content: string;
  toolCalls: ParsedToolCall[];
}

/**
 * Splits a (streamed) assistant reply into visible text and tool calls written as
 * `<|startofthink|>```JSON {…} ```<|endofthink|>` (fence optional, any case; several calls allowed).
 * The call object may name the tool by `api_name` (XVERSE) or `name`, and give its arguments as
 * `parameters` (XVERSE) or `arguments` (an object or a JSON string); JSON defects are repaired with
 * repairJson. Unusable calls become ToolCallErrors, reported by `end()`; nothing here throws.
 *
 * Streaming: text that could still be the start of `<|startofthink|>` (a suffix like `<|sta`) is
 * held back until the next push decides it; everything after a start marker is held until its end
 * marker. Text after `<|endofthink|>` is ordinary reply text again. The concatenation of all
 * `content` from push()/end() is the same however the reply is split. A stray `<|endofthink|>`
 * outside a call is shown as text. If the reply ends inside a call (no end marker — the model hit
 * EOS or the token limit), `end()` still tries to parse what came.
 */
export class ToolCallParser {
  private buffer = '';
  private inCall = false;
  private count = 0;
  private readonly errors: ToolCallError[] = [];
  private readonly idPrefix: string;

  constructor(options: ToolCallParserOptions = {}) {
    this.idPrefix = options.idPrefix ?? 'call_';
  }

  push(textDelta: string): ToolCallChunk {
    this.buffer += textDelta;
    return this.drain(false);
  }

  /** Ends the reply: releases held-back text, finishes an unterminated call, returns every error. */
  end(): ToolCallChunk & { errors: ToolCallError[] } {
    return { ...this.drain(true), errors: [...this.errors] };
  }

  private drain(final: boolean): ToolCallChunk {
    let content = '';
    const toolCalls: ParsedToolCall[] = [];
    for (;;) {
      if (!this.inCall) {
        const start = this.buffer.indexOf(THINK_START);
        if (start >= 0) {
          content += this.buffer.slice(0, start);
          this.buffer = this.buffer.slice(start + THINK_START.length);
          this.inCall = true;
          continue;
        }
        const safe = this.buffer.length - (final ? 0 : heldBack(this.buffer));
        content += this.buffer.slice(0, safe);
        this.buffer = this.buffer.slice(safe);
        return { content, toolCalls };
      }
      const end = this.buffer.indexOf(THINK_END);
      if (end < 0 && !final) return { content, toolCalls };
      const body = end < 0 ? this.buffer : this.buffer.slice(0, end);
      this.buffer = end < 0 ? '' : this.buffer.slice(end + THINK_END.length);
      this.inCall = false;
      const raw = `${THINK_START}${body}${end < 0 ? '' : THINK_END}`;
      const result = parseCallBody(body);
      if ('reason' in result) this.errors.push({ raw, reason: result.reason });
      else toolCalls.push({ id: `${this.idPrefix}${this.count++}`, ...result, raw });
    }
  }
}

/** One-shot form: the whole reply at once. */
export function parseToolCalls(text: string, options: ToolCallParserOptions = {}): ToolCallChunk & { errors: ToolCallError[] } {
  const parser = new ToolCallParser(options);
  const first = parser.push(text);
  const last = parser.end();
  return { content: first.content + last.content, toolCalls: [...first.toolCalls, ...last.toolCalls], errors: last.errors };
}

/**
 * How many trailing UTF-16 units to hold back: the longest suffix that is a proper prefix of the
 * start marker, or a lone high surrogate (half of a character must not reach a display).
 */
function heldBack(buffer: string): number {
  for (let l = Math.min(THINK_START.length - 1, buffer.length); l > 0; l--) {
    if (buffer.endsWith(THINK_START.slice(0, l))) return l;
  }
  const last = buffer.charCodeAt(buffer.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? 1 : 0;
}

type CallFields = Omit<ParsedToolCall, 'id' | 'raw'>;

/** The JSON object between the markers → name, arguments, url; or why it cannot be used. */
function parseCallBody(body: string): CallFields | { reason: string } {
  // Strip the optional ```json fence (any language tag, any case) and its closing ```.
  const text = body.trim().replace(/^```[A-Za-z]*/, '').replace(/```$/, '').trim();
  const brace = text.indexOf('{');
  if (brace < 0) return { reason: text === '' ? 'empty tool call' : 'no JSON object in the tool call' };
  const parsed = parseLenientJson(text.slice(brace));
  if (!parsed.ok) return { reason: parsed.reason };
  if (!isPlainObject(parsed.value)) return { reason: 'the tool call JSON is not an object' };
  const call = parsed.value;
  const name = typeof call['api_name'] === 'string' ? call['api_name'] : call['name'];
  if (typeof name !== 'string' || name === '') return { reason: 'the tool call has no "api_name" or "name"' };
  const args = parseArguments(call['parameters'] ?? call['arguments']);
  if ('reason' in args) return args;
  const fields: CallFields = { name, arguments: args.value, argumentsJson: JSON.stringify(args.value) };
  if (typeof call['url'] === 'string') fields.url = call['url'];
  return fields;
}

function parseArguments(value: unknown): { value: Record<string, unknown> } | { reason: string } {
  if (value === undefined || value === null) return { value: {} };
  if (typeof value === 'string') {
    // OpenAI style: arguments as a JSON string ("" meaning none).
    if (value.trim() === '') return { value: {} };
    const parsed = parseLenientJson(value);
    if (!parsed.ok) return { reason: `arguments string: ${parsed.reason}` };
    value = parsed.value;
  }
  if (!isPlainObject(value)) return { reason: 'the tool call "parameters"/"arguments" is not an object' };
  return { value };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
