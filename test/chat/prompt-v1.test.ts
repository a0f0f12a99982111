// v1 (XVERSE-13B-Chat) layouts. Every expected array below is written out by hand from spec §3.1
// with the table in fake-tokenizer.ts: "Human: "=10, "Assistant: "=11, "\n"=13, eos=3,
// letters a…z = 101…126, Metaspace-style per-call prefix = 260.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { buildChatInputV1, maxInputTokensV1 } from '../../src/chat/prompt-v1.js';
import type { ChatMessage } from '../../src/chat/messages.js';
import { ChatError } from '../../src/errors.js';
import { TableTokenizer, recording, withBos, withMetaspacePrefix } from './fake-tokenizer.js';

const tok = new TableTokenizer();
/** 8192 / 2048 → max_input_tokens 6144: nothing is ever truncated in these histories. */
const ROOMY = { maxPositionEmbeddings: 8192, maxNewTokens: 2048, eosTokenId: 3 };
/** max(P // 2, P − N) for small budgets. */
const budget = (maxPositionEmbeddings: number, maxNewTokens: number) => ({ maxPositionEmbeddings, maxNewTokens, eosTokenId: 3 });

const user = (content: string): ChatMessage => ({ role: 'user', content });
const assistant = (content: string): ChatMessage => ({ role: 'assistant', content });

describe('maxInputTokensV1', () => {
  it('is max(P // 2, P − max_new_tokens)', () => {
    assert.equal(maxInputTokensV1(8192, 2048), 6144);
    assert.equal(maxInputTokensV1(8192, 6000), 4096);
    assert.equal(maxInputTokensV1(8192, 100_000), 4096);
    assert.equal(maxInputTokensV1(8192, 0), 8192);
    assert.equal(maxInputTokensV1(2049, 2048), 1024);
  });
  it('rejects unusable limits', () => {
    assert.throws(() => maxInputTokensV1(0, 10), ChatError);
    assert.throws(() => maxInputTokensV1(8192, -1), ChatError);
    assert.throws(() => maxInputTokensV1(8192, 1.5), ChatError);
    assert.throws(() => maxInputTokensV1(1, 1), /budget is 0 tokens/);
  });
});

describe('buildChatInputV1', () => {
  it('single turn: "Human: hi\\n\\nAssistant: " as one piece', () => {
    assert.deepEqual(buildChatInputV1(tok, [user('hi')], ROOMY), [10, 108, 109, 13, 13, 11]);
  });

  it('multi-turn: assistant replies are "Assistant: {content}" + eos', () => {
    const ids = buildChatInputV1(tok, [user('a'), assistant('b'), user('c')], ROOMY);
    // Human: a\n\n | Assistant: b <eos> | Human: c\n\nAssistant:
    assert.deepEqual(ids, [10, 101, 13, 13, 11, 102, 3, 10, 103, 13, 13, 11]);
  });

  it('uses the eos id it is given', () => {
    const ids = buildChatInputV1(tok, [user('a'), assistant('b'), user('c')], { ...ROOMY, eosTokenId: 7 });
    assert.deepEqual(ids, [10, 101, 13, 13, 11, 102, 7, 10, 103, 13, 13, 11]);
  });

  it('consecutive assistant turns join the round of the user turn before them', () => {
    const ids = buildChatInputV1(tok, [user('a'), assistant('b'), assistant('c'), user('d')], ROOMY);
    assert.deepEqual(ids, [10, 101, 13, 13, 11, 102, 3, 11, 103, 3, 10, 104, 13, 13, 11]);
  });

  it('newest message longer than the budget: final left truncation cuts its start, "Human: " included', () => {
    // max_input = max(10, 20 − 10) = 10. Newest piece = [10, 101…112, 13, 13, 11] (16 ids) ≥ 10 →
    // stop; the older round is never looked at; keep the last 10 ids.
    const ids = buildChatInputV1(tok, [user('x'), assistant('y'), user('abcdefghijkl')], budget(20, 10));
    assert.deepEqual(ids, [106, 107, 108, 109, 110, 111, 112, 13, 13, 11]);
  });

  it('newest message exactly filling the budget is kept whole and ends the walk', () => {
    // [10, 101…106, 13, 13, 11] = 10 ids = max_input.
    const ids = buildChatInputV1(tok, [user('x'), assistant('y'), user('abcdef')], budget(20, 10));
    assert.deepEqual(ids, [10, 101, 102, 103, 104, 105, 106, 13, 13, 11]);
  });

  it('an older round that does not fit is dropped with everything older, even if an older one would fit', () => {
    // max_input = max(16, 32 − 24) = 16. Newest [10,126,13,13,11] = 5. Round (abcdefgh, y) =
    // [10,101…108,13,13] + [11,125,3] = 14 → 19 > 16: stop. Round (x, w) = 7 would have fit (12).
    const messages = [user('x'), assistant('w'), user('abcdefgh'), assistant('y'), user('z')];
    assert.deepEqual(buildChatInputV1(tok, messages, budget(32, 24)), [10, 126, 13, 13, 11]);
  });

  it('an older round that fits exactly (total == max_input) is admitted', () => {
    // max_input = 13. Newest 5 + round (ab, y) 8 = 13 ≤ 13: in. Round (x, w) 7 → 20: out.
    const messages = [user('x'), assistant('w'), user('ab'), assistant('y'), user('z')];
    assert.deepEqual(buildChatInputV1(tok, messages, budget(26, 13)), [10, 101, 102, 13, 13, 11, 125, 3, 10, 126, 13, 13, 11]);
  });

  it('assistant turns before the first user turn are never closed into a round and are dropped', () => {
    assert.deepEqual(buildChatInputV1(tok, [assistant('g'), user('u')], ROOMY), [10, 121, 13, 13, 11]);
  });

  it('encodes each turn as ONE piece: a per-call prefix appears once per turn, not per segment', () => {
    const ids = buildChatInputV1(withMetaspacePrefix(tok), [user('a'), assistant('b'), user('c')], ROOMY);
    assert.deepEqual(ids, [260, 10, 101, 13, 13, 260, 11, 102, 3, 260, 10, 103, 13, 13, 11]);
  });

  it('calls encode newest → oldest with addSpecialTokens: false and never inserts BOS', () => {
    const rec = recording(tok);
    buildChatInputV1(rec, [user('a'), assistant('b'), user('c')], ROOMY);
    assert.deepEqual(
      rec.calls.map((c) => c.text),
      ['Human: c\n\nAssistant: ', 'Assistant: b', 'Human: a\n\n'],
    );
    for (const call of rec.calls) assert.deepEqual(call.options, { addSpecialTokens: false });
    assert.deepEqual(buildChatInputV1(withBos(tok), [user('a'), assistant('b'), user('c')], ROOMY), [10, 101, 13, 13, 11, 102, 3, 10, 103, 13, 13, 11]);
  });

  it('refuses roles v1 does not know', () => {
    assert.throws(() => buildChatInputV1(tok, [{ role: 'system', content: 's' }, user('a')], ROOMY), ChatError);
    assert.throws(() => buildChatInputV1(tok, [user('a'), assistant('b'), { role: 'exec', content: 'r' }], ROOMY), /messages\[2\]/);
  });

  it('never returns more than max_input_tokens ids', () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const word = () => 'abcdefghij'.slice(0, 1 + rand(10)).repeat(1 + rand(3));
    for (let trial = 0; trial < 200; trial++) {
      const turns = 1 + rand(5);
      const messages: ChatMessage[] = [];
      for (let t = 0; t < turns; t++) messages.push(user(word()), assistant(word()));
      messages.push(user(word()));
      const P = 8 + rand(60);
      const N = rand(P);
      const ids = buildChatInputV1(tok, messages, budget(P, N));
      assert.ok(ids.length <= Math.max(Math.floor(P / 2), P - N));
      assert.equal(ids[ids.length - 1], 11);
    }
  });
});
