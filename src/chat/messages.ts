import { ChatError } from '../errors.js';
import type { ChatFormat } from './format.js';

/**
 * The roles XVERSE's chat code knows (spec §3.2): `exec` carries the result of a tool call back to
 * the model (spec §5.1) and is rendered as `Exec: …`.
 */
export type ChatRole = 'system' | 'user' | 'assistant' | 'exec';

export interface ChatMessage {
  readonly role: ChatRole;
  readonly content: string;
}

export const CHAT_ROLES: readonly ChatRole[] = ['system', 'user', 'assistant', 'exec'];

/** v1 (XVERSE-13B-Chat, spec §3.1) only renders `Human:` and `Assistant:` turns. */
const ROLES_BY_FORMAT: Readonly<Record<ChatFormat, readonly ChatRole[]>> = {
  v1: ['user', 'assistant'],
  v2: CHAT_ROLES,
};

/**
 * Checks a chat history before a prompt is built from it, throwing a `ChatError` whose one-line
 * message names the offending message index. XVERSE's Python raises
 * `ValueError("message role not supported yet")` (v1) or trips an `assert` (v2 system position);
 * the checks here are the same rules with clearer messages, plus one the Python does not make: a
 * history ending in an assistant turn would give a prompt that ends in `<eos>` with no trailing
 * `Assistant: ` for the model to continue, so it is refused.
 *
 * Rules: a non-empty list; every message an object with a known `role` and a string `content`;
 * the role supported by `format`; `system` only as the first message; the last message a `user` or
 * `exec` message (the model answers it).
 *
 * Not rejected, because the original builders accept it: assistant messages before the first
 * user/exec message. Those never get closed into a round and are dropped by both builders (see
 * prompt-v2.ts), exactly like the Python does.
 */
export function validateChatMessages(messages: unknown, format: ChatFormat): asserts messages is readonly ChatMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new ChatError('messages: expected a non-empty list of chat messages');
  }
  const allowed = ROLES_BY_FORMAT[format];
  messages.forEach((message: unknown, i: number) => {
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      throw new ChatError(`messages[${i}]: expected an object with "role" and "content", got ${describe(message)}`);
    }
    const { role, content } = message as Record<string, unknown>;
    if (typeof role !== 'string' || !(CHAT_ROLES as readonly string[]).includes(role)) {
      throw new ChatError(`messages[${i}]: role ${describe(role)} is not supported (expected one of ${CHAT_ROLES.join(', ')})`);
    }
    if (typeof content !== 'string') {
      throw new ChatError(`messages[${i}]: content must be a string, got ${describe(content)}`);
    }
    if (!allowed.includes(role as ChatRole)) {
      throw new ChatError(
        `messages[${i}]: the ${format} chat format does not support role "${role}" (only ${allowed.join(' and ')})`,
      );
    }
    if (role === 'system' && i !== 0) {
      throw new ChatError(`messages[${i}]: a system message is only allowed as the first message`);
    }
  });
  const last = messages.length - 1;
  const lastRole = (messages[last] as ChatMessage).role;
  if (lastRole !== 'user' && lastRole !== 'exec') {
    throw new ChatError(`messages[${last}]: the last message must be a user or exec message, got ${lastRole}`);
  }
}

/** A short, single-line rendering of a bad value for error messages. */
function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}
