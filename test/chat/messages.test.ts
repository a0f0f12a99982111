import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { validateChatMessages } from '../../src/chat/messages.js';
import { ChatError } from '../../src/errors.js';

/** Asserts a ChatError whose single-line message matches `pattern`. */
function rejects(messages: unknown, format: 'v1' | 'v2', pattern: RegExp): void {
  assert.throws(
    () => validateChatMessages(messages, format),
    (err: unknown) => {
      assert.ok(err instanceof ChatError, `expected ChatError, got ${String(err)}`);
      assert.match(err.message, pattern);
      assert.ok(!err.message.includes('\n'), 'message must be one line');
      return true;
    },
  );
}

describe('validateChatMessages', () => {
  it('accepts valid v1 and v2 histories', () => {
    validateChatMessages([{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: '' }], 'v1');
    validateChatMessages(
      [
        { role: 'system', content: 's' },
        { role: 'user', content: 'q' },
        { role: 'assistant', content: 'call' },
        { role: 'exec', content: '{"ok":true}' },
      ],
      'v2',
    );
  });

  it('refuses an empty list or a non-list', () => {
    rejects([], 'v2', /^messages: expected a non-empty list/);
    rejects({ role: 'user', content: 'a' }, 'v2', /^messages: expected a non-empty list/);
  });

  it('names the index of a malformed message', () => {
    rejects([{ role: 'user', content: 'a' }, 'hi'], 'v2', /^messages\[1\]: expected an object with "role" and "content", got "hi"/);
    rejects([null], 'v2', /^messages\[0\]: expected an object/);
  });

  it('refuses unknown or missing roles', () => {
    rejects([{ role: 'user', content: 'a' }, { role: 'tool', content: 'x' }, { role: 'user', content: 'b' }], 'v2', /^messages\[1\]: role "tool" is not supported \(expected one of system, user, assistant, exec\)/);
    rejects([{ content: 'a' }], 'v2', /^messages\[0\]: role undefined is not supported/);
  });

  it('refuses non-string content', () => {
    rejects([{ role: 'user', content: 5 }], 'v2', /^messages\[0\]: content must be a string, got number 5/);
    rejects([{ role: 'user', content: ['a'] }], 'v1', /^messages\[0\]: content must be a string, got an array/);
  });

  it('v1 supports only user and assistant', () => {
    rejects([{ role: 'system', content: 's' }, { role: 'user', content: 'a' }], 'v1', /^messages\[0\]: the v1 chat format does not support role "system" \(only user and assistant\)/);
    rejects([{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'exec', content: 'r' }], 'v1', /^messages\[2\]: the v1 chat format does not support role "exec"/);
  });

  it('allows system only as the first message', () => {
    rejects([{ role: 'user', content: 'a' }, { role: 'system', content: 's' }, { role: 'user', content: 'b' }], 'v2', /^messages\[1\]: a system message is only allowed as the first message/);
  });

  it('requires the last message to be user or exec', () => {
    rejects([{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }], 'v2', /^messages\[1\]: the last message must be a user or exec message, got assistant/);
    rejects([{ role: 'system', content: 's' }], 'v2', /^messages\[0\]: the last message must be a user or exec message, got system/);
  });
});
