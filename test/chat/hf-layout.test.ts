// v2 layout with the real tokenizer.json of the xverse-tiny fixture. The expected ids are assembled
// by hand from each segment's ids, derived from the fixture's documented vocabulary (README:
// "▁"=260, a–z 261–286, A–Z 287–312, punctuation from 323 in string.punctuation order so ":"=338,
// "\n" → byte token <0x0A>=14, merges giving ▁hello=382, ▁the=377, ▁world=387, think tokens 510/511)
// and the Prepend("▁") normalizer that runs on every encode call — i.e. on every segment.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { buildChatInput } from '../../src/chat/format.js';
import type { ChatMessage } from '../../src/chat/messages.js';
import { loadTokenizer } from '../../src/tokenizer/load.js';
import { fixture } from '../helpers/fixtures.js';

const HUMAN = [260, 294, 281, 273, 261, 274, 338, 260]; // "Human: " → ▁ H u m a n : ▁
const ASSISTANT = [260, 287, 279, 279, 269, 279, 280, 261, 274, 280, 338, 260]; // "Assistant: "
const EXEC = [260, 291, 284, 265, 263, 338, 260]; // "Exec: " → ▁ E x e c : ▁
const EOS = 3;

describe('chat layout with the xverse-tiny tokenizer.json', () => {
  const tokenizer = loadTokenizer(fixture('xverse-tiny', 'safetensors'));
  const limits = { maxPositionEmbeddings: 2048, maxNewTokens: 2048, eosTokenId: EOS, maxTokenizerTruncation: null };

  it('the segments encode as derived by hand', () => {
    const enc = (s: string) => tokenizer.encode(s, { addSpecialTokens: false });
    assert.deepEqual(enc('Human: '), HUMAN);
    assert.deepEqual(enc('Assistant: '), ASSISTANT);
    assert.deepEqual(enc('Exec: '), EXEC);
    assert.deepEqual(enc('hello world\n\n'), [382, 387, 14, 14]);
  });

  it('v2 two-turn layout', () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: 'hello world' },
      { role: 'assistant', content: 'hello' },
      { role: 'user', content: 'the world' },
    ];
    assert.deepEqual(buildChatInput(tokenizer, messages, 'v2', limits), [
      ...HUMAN, 382, 387, 14, 14, // "hello world\n\n" → ▁hello ▁world \n \n
      ...ASSISTANT, 382, EOS, // "hello" → ▁hello
      ...HUMAN, 377, 387, 14, 14, // "the world\n\n" → ▁the ▁world \n \n
      ...ASSISTANT,
    ]);
  });

  it('v2 system + function call + exec layout', () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'hello' },
      { role: 'user', content: 'the world' },
      { role: 'assistant', content: 'hello<|startofthink|>world<|endofthink|>' },
      { role: 'exec', content: 'hello world' },
    ];
    assert.deepEqual(buildChatInput(tokenizer, messages, 'v2', limits), [
      ...HUMAN, 382, 14, // "hello\n"
      ...HUMAN, 377, 387, 14, 14,
      // ▁hello <|startofthink|> ▁world <|endofthink|>: "▁" is prepended to the text after an added token too
      ...ASSISTANT, 382, 510, 387, 511, EOS,
      ...EXEC, 382, 387, 14, 14,
      ...ASSISTANT,
    ]);
  });

  it('v1 two-turn layout: one encode call per turn, so "▁" only at the start of each turn', () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: 'hello world' },
      { role: 'assistant', content: 'hello' },
      { role: 'user', content: 'the world' },
    ];
    // "Human: hello world\n\n" → ▁ H u m a n : ▁hello ▁world \n \n  (the space before "hello" is
    // now inside the piece, so "▁hello" merges); "Assistant: hello" → ▁ A s s i s t a n t : ▁hello
    const human = HUMAN.slice(0, -1);
    const assistant = ASSISTANT.slice(0, -1);
    assert.deepEqual(buildChatInput(tokenizer, messages, 'v1', limits), [
      ...human, 382, 387, 14, 14,
      ...assistant, 382, EOS,
      // "Human: the world\n\nAssistant: " → … \n \n A s s i s t a n t : ▁ (no "▁" before "Assistant")
      ...human, 377, 387, 14, 14, ...ASSISTANT.slice(1),
    ]);
  });
});
