import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  EosTextStripper,
  V1_VOCAB_SIZE,
  buildChatInput,
  detectChatFormat,
  parseChatFormat,
  stripEosText,
} from '../../src/chat/format.js';
import type { ChatMessage } from '../../src/chat/messages.js';
import { ChatError } from '../../src/errors.js';
import { parseModelConfig } from '../../src/model/config.js';
import { fixture, readJson } from '../helpers/fixtures.js';
import { TableTokenizer, withMetaspacePrefix } from './fake-tokenizer.js';

const EOS = '<|endoftext|>';

describe('detectChatFormat', () => {
  it('an explicit override wins over config and vocab size', () => {
    assert.equal(detectChatFormat({ chatFormat: 'v2', vocabSize: V1_VOCAB_SIZE }, 'v1').format, 'v1');
    assert.equal(detectChatFormat({ chatFormat: 'v1', vocabSize: 100_534 }, 'v2').format, 'v2');
    assert.match(detectChatFormat({ chatFormat: null, vocabSize: 512 }, 'v1').reason, /explicitly/);
  });

  it('then config.json chat_format, over the vocab size', () => {
    const v1 = detectChatFormat({ chatFormat: 'v1', vocabSize: 512 });
    assert.deepEqual(v1.format, 'v1');
    assert.match(v1.reason, /chat_format "v1"/);
    assert.equal(detectChatFormat({ chatFormat: 'v2', vocabSize: V1_VOCAB_SIZE }).format, 'v2');
  });

  it('then vocab size 100,278 (the original XVERSE-13B-Chat tokenizer) means v1', () => {
    const choice = detectChatFormat({ chatFormat: null, vocabSize: 100_278 });
    assert.equal(choice.format, 'v1');
    assert.match(choice.reason, /100278/);
  });

  it('otherwise v2', () => {
    assert.equal(detectChatFormat({ chatFormat: null, vocabSize: 100_534 }).format, 'v2');
    const tiny = parseModelConfig(readJson(fixture('xverse-tiny', 'safetensors', 'config.json')));
    const choice = detectChatFormat(tiny);
    assert.equal(choice.format, 'v2');
    assert.match(choice.reason, /vocab size 512/);
  });

  it('refuses an unknown override', () => {
    assert.throws(() => detectChatFormat({ chatFormat: null, vocabSize: 512 }, 'v3' as 'v1'), ChatError);
    assert.throws(() => parseChatFormat('V2'), /chat format must be "v1" or "v2", got "V2"/);
    assert.equal(parseChatFormat('v1'), 'v1');
  });
});

describe('buildChatInput', () => {
  const meta = withMetaspacePrefix(new TableTokenizer());
  const messages: ChatMessage[] = [
    { role: 'user', content: 'a' },
    { role: 'assistant', content: 'b' },
    { role: 'user', content: 'c' },
  ];
  const limits = { maxPositionEmbeddings: 8192, maxNewTokens: 2048, eosTokenId: 3 };

  it('dispatches to the v1 builder (one encode call per turn)', () => {
    assert.deepEqual(buildChatInput(meta, messages, 'v1', limits), [260, 10, 101, 13, 13, 260, 11, 102, 3, 260, 10, 103, 13, 13, 11]);
  });

  it('dispatches to the v2 builder (one encode call per segment)', () => {
    assert.deepEqual(buildChatInput(meta, messages, 'v2', limits), [
      260, 10, 260, 101, 13, 13, 260, 11, 260, 102, 3, 260, 10, 260, 103, 13, 13, 260, 11,
    ]);
  });

  it('passes max_tokenizer_truncation to v2 only (absent = no cap)', () => {
    const long: ChatMessage[] = [{ role: 'user', content: 'abcdef' }];
    // v2, cap 4: keep 4 − 2 of [260, 10, 260, 101…106, 13, 13], then [260, 11].
    assert.deepEqual(buildChatInput(meta, long, 'v2', { ...limits, maxTokenizerTruncation: 4 }), [260, 10, 260, 11]);
    assert.deepEqual(buildChatInput(meta, long, 'v2', limits), [260, 10, 260, 101, 102, 103, 104, 105, 106, 13, 13, 260, 11]);
    assert.deepEqual(buildChatInput(meta, long, 'v1', { ...limits, maxTokenizerTruncation: 4 }), [260, 10, 101, 102, 103, 104, 105, 106, 13, 13, 11]);
  });

  it('validates the history for the chosen format', () => {
    const withSystem: ChatMessage[] = [{ role: 'system', content: 's' }, ...messages];
    assert.throws(() => buildChatInput(meta, withSystem, 'v1', limits), /v1 chat format does not support role "system"/);
    assert.deepEqual(buildChatInput(meta, withSystem, 'v2', limits), [
      260, 10, 260, 119, 13, 260, 10, 260, 101, 13, 13, 260, 11, 260, 102, 3, 260, 10, 260, 103, 13, 13, 260, 11,
    ]);
  });
});

describe('stripEosText / EosTextStripper', () => {
  it('removes every eos string from a complete text', () => {
    assert.equal(stripEosText(`Hello${EOS}`, EOS), 'Hello');
    assert.equal(stripEosText(`a${EOS}b${EOS}`, EOS), 'ab');
    assert.equal(stripEosText('no eos <|end here', EOS), 'no eos <|end here');
    assert.equal(stripEosText(`keep${EOS}`, null), `keep${EOS}`);
  });

  it('removes an eos string that only appears once an inner one is gone', () => {
    assert.equal(stripEosText(`<|endo${EOS}ftext|>`, EOS), '');
    assert.equal(stripEosText(`x<${EOS}|endoftext|>y`, EOS), 'xy');
  });

  it('handles an eos string split over chunks, holding back only what could still become one', () => {
    const s = new EosTextStripper(EOS);
    assert.equal(s.push('Hi'), 'Hi');
    assert.equal(s.push(' there<|endof'), ' there');
    assert.equal(s.push('text|>'), '');
    assert.equal(s.flush(), '');
  });

  it('releases held-back text once it can no longer be an eos string, or at flush', () => {
    const s = new EosTextStripper(EOS);
    assert.equal(s.push('a <'), 'a ');
    assert.equal(s.push('< b'), '<< b');
    assert.equal(s.push('x<|endoft'), 'x');
    assert.equal(s.flush(), '<|endoft');
  });

  it('keeps surrogate pairs whole and passes non-ASCII text through', () => {
    const s = new EosTextStripper(EOS);
    assert.equal(s.push('你好😀'), '你好😀');
    assert.equal(s.push(`世界${EOS}`), '世界');
  });

  it('never lets the concatenated stream contain the eos string, however it is chunked', () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pieces = ['<', '|', 'end', 'of', 'text', '|>', EOS, 'x', '<|endo', 'ftext|>'];
    for (let trial = 0; trial < 300; trial++) {
      let text = '';
      for (let k = 0, n = 1 + rand(12); k < n; k++) text += pieces[rand(pieces.length)];
      const whole = stripEosText(text, EOS);
      assert.ok(!whole.includes(EOS), JSON.stringify(text));
      const s = new EosTextStripper(EOS);
      let streamed = '';
      for (let i = 0; i < text.length; ) {
        const len = 1 + rand(6);
        streamed += s.push(text.slice(i, i + len));
        i += len;
      }
      streamed += s.flush();
      assert.equal(streamed, whole);
    }
  });
});
