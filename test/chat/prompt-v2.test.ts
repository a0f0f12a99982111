// v2 (XVERSE-13B-2-Chat / 7B-Chat / 65B-Chat) layouts. Every expected array below is written out by
// hand from spec §3.2 with the table in fake-tokenizer.ts: "Human: "=10, "Assistant: "=11,
// "Exec: "=12, "\n"=13, eos=3, letters a…z = 101…126, Metaspace-style per-call prefix = 260.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { ChatMessage } from '../../src/chat/messages.js';
import { buildChatInputV2, maxInputTokensV2 } from '../../src/chat/prompt-v2.js';
import { ChatError } from '../../src/errors.js';
import { TableTokenizer, recording, withBos, withMetaspacePrefix } from './fake-tokenizer.js';

const tok = new TableTokenizer();
const meta = withMetaspacePrefix(tok);
/** 8192 / 2048 / 6144 → max_input_tokens 6144: nothing is ever truncated in these histories. */
const ROOMY = { maxPositionEmbeddings: 8192, maxNewTokens: 2048, maxTokenizerTruncation: 6144, eosTokenId: 3 };
/** max(P // 2, P − N), capped by `trunc` when given. */
const budget = (maxPositionEmbeddings: number, maxNewTokens: number, maxTokenizerTruncation: number | null = null) => ({
  maxPositionEmbeddings,
  maxNewTokens,
  maxTokenizerTruncation,
  eosTokenId: 3,
});

const system = (content: string): ChatMessage => ({ role: 'system', content });
const user = (content: string): ChatMessage => ({ role: 'user', content });
const assistant = (content: string): ChatMessage => ({ role: 'assistant', content });
const exec = (content: string): ChatMessage => ({ role: 'exec', content });

describe('maxInputTokensV2', () => {
  it('is min(max_tokenizer_truncation, max(P // 2, P − max_new_tokens))', () => {
    assert.equal(maxInputTokensV2(8192, 2048, 6144), 6144);
    assert.equal(maxInputTokensV2(16384, 2048, 6144), 6144);
    assert.equal(maxInputTokensV2(8192, 6000, 6144), 4096);
    assert.equal(maxInputTokensV2(2048, 2048, 6144), 1024);
  });
  it('uses the max(...) term alone when the config has no max_tokenizer_truncation', () => {
    assert.equal(maxInputTokensV2(16384, 2048, null), 14336);
    assert.equal(maxInputTokensV2(2048, 2048, null), 1024);
  });
  it('rejects a non-positive cap', () => {
    assert.throws(() => maxInputTokensV2(8192, 2048, 0), ChatError);
  });
});

describe('buildChatInputV2', () => {
  it('single turn: P_user + enc("hi\\n\\n") + P_asst', () => {
    assert.deepEqual(buildChatInputV2(tok, [user('hi')], ROOMY), [10, 108, 109, 13, 13, 11]);
  });

  it('multi-turn: assistant = P_asst + enc(content) + [eos]', () => {
    const ids = buildChatInputV2(tok, [user('a'), assistant('b'), user('c')], ROOMY);
    assert.deepEqual(ids, [10, 101, 13, 13, 11, 102, 3, 10, 103, 13, 13, 11]);
  });

  it('system + tool call + exec result + follow-up question', () => {
    const messages = [system('s'), user('q'), assistant('c'), exec('r'), assistant('a'), user('u')];
    assert.deepEqual(buildChatInputV2(tok, messages, ROOMY), [
      10, 119, 13, // Human: s\n           (system: P_user + enc("s\n"))
      10, 117, 13, 13, // Human: q\n\n
      11, 103, 3, // Assistant: c<eos>
      12, 118, 13, 13, // Exec: r\n\n       (an older exec closes its round like a user turn)
      11, 101, 3, // Assistant: a<eos>
      10, 121, 13, 13, 11, // Human: u\n\nAssistant:
    ]);
  });

  it('newest exec message: "Exec: {result}\\n\\n" then "Assistant: "', () => {
    const ids = buildChatInputV2(tok, [user('q'), assistant('c'), exec('r')], ROOMY);
    assert.deepEqual(ids, [10, 117, 13, 13, 11, 103, 3, 12, 118, 13, 13, 11]);
  });

  it('newest message longer than the budget is right-truncated to max_input − len(P_asst), then P_asst', () => {
    // max_input = 10, len(P_asst) = 1 → keep the first 9 of [10, 101…112, 13, 13]; returns at once
    // (10 ≥ 10), the older round is never looked at.
    const ids = buildChatInputV2(tok, [user('z'), assistant('y'), user('abcdefghijkl')], budget(20, 10));
    assert.deepEqual(ids, [10, 101, 102, 103, 104, 105, 106, 107, 108, 11]);
  });

  it('max_tokenizer_truncation caps the budget; null means no cap', () => {
    // min(8, max(1024, 1536)) = 8 → keep 7 of [10, 101…110, 13, 13].
    assert.deepEqual(buildChatInputV2(tok, [user('abcdefghij')], budget(2048, 512, 8)), [10, 101, 102, 103, 104, 105, 106, 11]);
    assert.deepEqual(buildChatInputV2(tok, [user('abcdefghij')], budget(2048, 512, null)), [
      10, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 13, 13, 11,
    ]);
  });

  it('the right-truncation counts the role prefix and can cut into it', () => {
    // Per-call prefix tokenizer: P_asst = [260, 11] (2 ids), budget 3 → keep 1 id of
    // [260, 12, 260, 118, 13, 13] (P_exec + enc("r\n\n")).
    assert.deepEqual(buildChatInputV2(meta, [exec('r')], budget(2048, 512, 3)), [260, 260, 11]);
  });

  it('refuses a budget that cannot hold P_asst', () => {
    assert.throws(() => buildChatInputV2(meta, [user('a')], budget(2048, 512, 1)), /cannot hold the "Assistant: " prefix/);
  });

  it('an older round that does not fit is dropped with everything older (system too), even if older ones would fit', () => {
    // max_input = 16. Newest [10,126,13,13,11] = 5. Round (abcdefgh, y) = 11 + 3 = 14 → 19 > 16: stop.
    // Round (x, w) = 7 (→ 12) and the system [10,119,13] = 3 would both have fit.
    const messages = [system('s'), user('x'), assistant('w'), user('abcdefgh'), assistant('y'), user('z')];
    assert.deepEqual(buildChatInputV2(tok, messages, budget(32, 24)), [10, 126, 13, 13, 11]);
  });

  it('an older round that fits exactly (total == max_input) is admitted', () => {
    const messages = [user('x'), assistant('w'), user('ab'), assistant('y'), user('z')];
    assert.deepEqual(buildChatInputV2(tok, messages, budget(26, 13)), [10, 101, 102, 13, 13, 11, 125, 3, 10, 126, 13, 13, 11]);
  });

  it('the system message is added only if it still fits', () => {
    // system [10, 101…106, 13] = 8; round (x, y) = 7; newest 5 → 12 without, 20 with the system.
    const messages = [system('abcdef'), user('x'), assistant('y'), user('z')];
    assert.deepEqual(buildChatInputV2(tok, messages, budget(40, 20)), [
      10, 101, 102, 103, 104, 105, 106, 13, 10, 124, 13, 13, 11, 125, 3, 10, 126, 13, 13, 11,
    ]);
    assert.deepEqual(buildChatInputV2(tok, messages, budget(38, 19)), [10, 124, 13, 13, 11, 125, 3, 10, 126, 13, 13, 11]);
  });

  it('assistant turns between the system message and the first user turn go in or out with the system', () => {
    const messages = [system('s'), assistant('g'), user('u')];
    assert.deepEqual(buildChatInputV2(tok, messages, ROOMY), [10, 119, 13, 11, 107, 3, 10, 121, 13, 13, 11]);
    // max_input 10: newest 5 + (system 3 + assistant 3) = 11 > 10 → both dropped.
    assert.deepEqual(buildChatInputV2(tok, messages, budget(20, 10)), [10, 121, 13, 13, 11]);
  });

  it('assistant turns before any user/exec turn (no system) are never closed into a round and are dropped', () => {
    assert.deepEqual(buildChatInputV2(tok, [assistant('g'), user('u')], ROOMY), [10, 121, 13, 13, 11]);
  });

  it('encodes prefixes and contents separately: a per-call prefix appears at every segment boundary', () => {
    assert.deepEqual(buildChatInputV2(meta, [user('a'), assistant('b'), user('c')], ROOMY), [
      260, 10, 260, 101, 13, 13, // ▁Human: ▁a\n\n
      260, 11, 260, 102, 3, // ▁Assistant: ▁b<eos>
      260, 10, 260, 103, 13, 13, 260, 11, // ▁Human: ▁c\n\n▁Assistant:
    ]);
    assert.deepEqual(buildChatInputV2(meta, [system('s'), user('q'), assistant('c'), exec('r')], ROOMY), [
      260, 10, 260, 119, 13, // ▁Human: ▁s\n
      260, 10, 260, 117, 13, 13, // ▁Human: ▁q\n\n
      260, 11, 260, 103, 3, // ▁Assistant: ▁c<eos>
      260, 12, 260, 118, 13, 13, 260, 11, // ▁Exec: ▁r\n\n▁Assistant:
    ]);
  });

  it('calls encode only on the prefixes and the per-message pieces, with addSpecialTokens: false, and never inserts BOS', () => {
    const rec = recording(tok);
    buildChatInputV2(rec, [system('s'), user('a'), assistant('b'), exec('c')], ROOMY);
    assert.deepEqual(rec.calls.map((c) => c.text).sort(), ['Assistant: ', 'Exec: ', 'Human: ', 'a\n\n', 'b', 'c\n\n', 's\n'].sort());
    for (const call of rec.calls) assert.deepEqual(call.options, { addSpecialTokens: false });
    assert.deepEqual(buildChatInputV2(withBos(tok), [user('a'), assistant('b'), user('c')], ROOMY), [10, 101, 13, 13, 11, 102, 3, 10, 103, 13, 13, 11]);
  });

  it('uses the eos id it is given', () => {
    assert.deepEqual(buildChatInputV2(tok, [user('a'), assistant('b'), user('c')], { ...ROOMY, eosTokenId: 7 }), [
      10, 101, 13, 13, 11, 102, 7, 10, 103, 13, 13, 11,
    ]);
  });

  it('refuses a misplaced system message and a history that does not end in user/exec', () => {
    assert.throws(() => buildChatInputV2(tok, [user('a'), system('s'), user('b')], ROOMY), /messages\[1\]: a system message/);
    assert.throws(() => buildChatInputV2(tok, [user('a'), assistant('b')], ROOMY), /messages\[1\]: the last message/);
  });

  it('never returns more than max_input_tokens ids and always ends with P_asst', () => {
    let seed = 987;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const word = () => 'klmnopqrst'.slice(0, 1 + rand(10)).repeat(1 + rand(3));
    for (let trial = 0; trial < 200; trial++) {
      const messages: ChatMessage[] = rand(2) === 0 ? [system(word())] : [];
      const turns = 1 + rand(5);
      for (let t = 0; t < turns; t++) messages.push(rand(3) === 0 ? exec(word()) : user(word()), assistant(word()));
      messages.push(rand(2) === 0 ? exec(word()) : user(word()));
      const P = 8 + rand(60);
      const N = rand(P);
      const cap = rand(2) === 0 ? null : 2 + rand(40);
      const ids = buildChatInputV2(meta, messages, budget(P, N, cap));
      assert.ok(ids.length <= maxInputTokensV2(P, N, cap));
      assert.deepEqual(ids.slice(-2), [260, 11]);
    }
  });
});
