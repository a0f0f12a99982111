import type { ChatMessage, ChatRole } from '../chat/messages.js';
import { badRequest } from './api-error.js';
import type { ApiMessage } from './schemas.js';

/** OpenAI roles → XVERSE's: a tool result is XVERSE's `exec` turn (spec §5.1); `developer` is the newer name of `system`. */
const ROLE_MAP: Readonly<Record<ApiMessage['role'], ChatRole>> = {
  system: 'system',
  developer: 'system',
  user: 'user',
  assistant: 'assistant',
  tool: 'exec',
  exec: 'exec',
};

/** The text of a message: a string, or its text parts joined; no content only for an assistant turn. */
function contentText(message: ApiMessage, i: number): string {
  const { content } = message;
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((part) => part.text).join('');
  if (message.role === 'assistant') return '';
  throw badRequest(`messages[${i}].content`, `a ${message.role} message needs content (a string or an array of text parts)`);
}

/**
 * Converts OpenAI chat messages into XVERSE chat messages. `renderToolCalls` turns an assistant
 * turn's `tool_calls` back into the text the model wrote (its markers); without it, such a turn
 * is refused.
 */
export function toChatMessages(messages: readonly ApiMessage[], renderToolCalls?: (calls: unknown[], i: number, before: string) => string): ChatMessage[] {
  return messages.map((message, i) => {
    let content = contentText(message, i);
    if (message.role === 'assistant' && message.tool_calls && message.tool_calls.length > 0) {
      if (!renderToolCalls) throw badRequest(`messages[${i}].tool_calls`, 'tool calls are not supported yet');
      content += renderToolCalls(message.tool_calls, i, content);
    }
    return { role: ROLE_MAP[message.role], content };
  });
}
