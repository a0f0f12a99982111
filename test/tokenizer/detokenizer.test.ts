import assert from 'node:assert/strict';
import { test } from 'node:test';

import { TokenizerError } from '../../src/errors.js';
import { IncrementalDetokenizer } from '../../src/tokenizer/detokenizer.js';
import { HFTokenizer } from '../../src/tokenizer/hf-tokenizer.js';
import { Llama2cTokenizer } from '../../src/tokenizer/llama2c-tokenizer.js';
import type { DecodeOptions, Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { fixture, readJson } from '../helpers/fixtures.js';

const hf = HFTokenizer.fromFiles(fixture('xverse-tiny', 'safetensors', 'tokenizer.json'), fixture('xverse-tiny', 'safetensors', 'tokenizer_config.json'));
const l2c = Llama2cTokenizer.fromFile(fixture('stories260K', 'tok512.bin'));
const stories = readJson<{ runs: Array<{ published_stdout_without_final_newline: string }>; logits: { tokens_in: number[] } }>(
  fixture('stories260K', 'reference', 'stories260K_reference.json'),
);
const PUBLISHED = stories.runs[0]!.published_stdout_without_final_newline;
const GREEDY = stories.logits.tokens_in.slice(1, 201);

const R = '\uFFFD';

/** Streams `ids` one by one; returns every push result and the flush result last. */
function stream(tokenizer: Tokenizer, ids: readonly number[], options: { context?: readonly number[]; skipSpecialTokens?: boolean } = {}): string[] {
  const d = new IncrementalDetokenizer(tokenizer, options);
  const chunks = ids.map((id) => d.push(id));
  chunks.push(d.flush());
  assert.equal(d.text, chunks.join(''));
  return chunks;
}

/** What the stream must add up to: decode(context + ids) minus decode(context). */
function expected(tokenizer: Tokenizer, ids: readonly number[], context: readonly number[], skipSpecialTokens = false): string {
  const full = tokenizer.decode([...context, ...ids], { skipSpecialTokens });
  const head = tokenizer.decode(context, { skipSpecialTokens });
  assert.ok(full.startsWith(head), `decode(context) ${JSON.stringify(head)} is not a prefix of ${JSON.stringify(full)}`);
  return full.slice(head.length);
}

test('xverse-tiny: Chinese, emoji and é over byte-fallback tokens stream without broken characters', () => {
  const text = '你好，世界 😀🎉 é';
  const ids = hf.encode(text);
  // ▁ 你 好 <，: 3 bytes> 世 界 ▁ <😀: 4 bytes> <🎉: 4 bytes> ▁ <é: 2 bytes>
  assert.equal(ids.length, 1 + 2 + 3 + 2 + 1 + 8 + 1 + 2);
  const chunks = stream(hf, ids);
  for (const c of chunks) assert.ok(!c.includes(R), `chunk ${JSON.stringify(c)} has U+FFFD`);
  assert.equal(chunks.join(''), hf.decode(ids));
  assert.equal(chunks.join(''), text);
  // The leading ▁ is stripped (empty), each byte-fallback character shows up on its last byte.
  assert.deepEqual(chunks, ['', '你', '好', '', '', '，', '世', '界', ' ', '', '', '', '😀', '', '', '', '🎉', ' ', '', 'é', '']);
});

test('xverse-tiny: after a prompt, the stream equals decode(prompt + generated) minus decode(prompt)', () => {
  const context = hf.encode('Human: 你好\n\nAssistant: ');
  const generated = [...hf.encode('hello 世界😀'), 3, ...hf.encode('é\nthe end'), 511, 260];
  for (const skip of [false, true]) {
    const chunks = stream(hf, generated, { context, skipSpecialTokens: skip });
    assert.equal(chunks.join(''), expected(hf, generated, context, skip));
  }
  // The first generated ▁hello keeps its space: it is not the start of the text.
  assert.equal(stream(hf, hf.encode('hello'), { context })[0], ' hello');
  assert.equal(stream(hf, hf.encode('hello'))[0], 'hello');
});

test('xverse-tiny: skipped special tokens do not let the Strip decoder eat a later space', () => {
  assert.deepEqual(stream(hf, [382, 3, 387], { skipSpecialTokens: true }), ['hello', '', ' world', '']);
  assert.equal(hf.decode([382, 3, 387], { skipSpecialTokens: true }), 'hello world');
  // Only specials before: the text starts with the first generated piece, as in a full decode.
  assert.deepEqual(stream(hf, [382, 387], { context: [2], skipSpecialTokens: true }), ['hello', ' world', '']);
  assert.deepEqual(stream(hf, [382], { context: [2] }), [' hello', '']);
});

test('stories260K: streaming the greedy ids after BOS gives the published text', () => {
  const chunks = stream(l2c, GREEDY, { context: [1] });
  assert.equal(chunks.join(''), PUBLISHED);
  assert.equal(chunks[0], 'Once'); // the after-BOS rule
  // BOS generated rather than given as context, skipped: the same text.
  assert.equal(stream(l2c, [1, ...GREEDY], { skipSpecialTokens: true }).join(''), PUBLISHED);
  // No BOS anywhere: run.c keeps the space.
  assert.equal(stream(l2c, GREEDY).join(''), ' ' + PUBLISHED);
});

test('stories260K: byte-fallback characters stream whole', () => {
  const ids = l2c.encode('Ω你 and 😀!', { addSpecialTokens: false });
  const chunks = stream(l2c, ids, { context: [1] });
  for (const c of chunks) assert.ok(!c.includes(R), JSON.stringify(c));
  assert.equal(chunks.join(''), 'Ω你 and 😀!');
});

test('give up holding after 4 pending byte tokens, so invalid output still streams', () => {
  const f0 = 0xf0 + 4; // <0xF0> in xverse-tiny (bytes start at id 4)
  assert.deepEqual(stream(hf, [f0, f0, f0, f0, 382]), ['', '', '', R.repeat(4), ' hello', '']);
  assert.equal(hf.decode([f0, f0, f0, f0, 382]), R.repeat(4) + ' hello');
  const l2cF0 = 0xf0 + 3;
  assert.deepEqual(stream(l2c, [l2cF0, l2cF0, l2cF0, l2cF0, l2cF0]), ['', '', '', R.repeat(4), '', R]);
  assert.equal(l2c.decode([l2cF0, l2cF0, l2cF0, l2cF0, l2cF0]), R.repeat(5));
});

test('after giving up, a byte that turns out to start a character costs one stray U+FFFD, no text', () => {
  // E4 E4 E4 E4 BD A0: the fourth E4 starts 你. The stream showed it as U+FFFD before BD A0 came;
  // 你 is still emitted. A full decode reads "���你" (llama2.c / UTF-8 decoder).
  const b = (x: number): number => x + 3;
  const ids = [b(0xe4), b(0xe4), b(0xe4), b(0xe4), b(0xbd), b(0xa0)];
  assert.deepEqual(stream(l2c, ids), ['', '', '', R.repeat(4), '', '你', '']);
  assert.equal(l2c.decode(ids), R.repeat(3) + '你');
});

test('an invalid byte run after a streamed character: Rust ByteFallback turns the whole run into U+FFFD', () => {
  // <，: EF BC 8C> <0xCE> <pad>: the run EF BC 8C CE is not valid UTF-8, so a full decode (Rust
  // semantics) shows four U+FFFD. The stream had already shown "，" when CE arrived; it then emits the
  // window's text from where it diverges, so nothing after is lost but "，" stays.
  const ids = [0xef + 4, 0xbc + 4, 0x8c + 4, 0xce + 4, 1];
  assert.equal(hf.decode(ids), R.repeat(4) + '<pad>');
  assert.deepEqual(stream(hf, ids), ['', '', '，', '', R.repeat(4) + '<pad>', '']);
  // llama2.c decodes the byte stream as UTF-8, so there the stream equals the full decode.
  const l2cIds = [0xef + 3, 0xbc + 3, 0x8c + 3, 0xce + 3, 2];
  assert.equal(l2c.decode(l2cIds), '，' + R + '\n</s>\n');
  assert.deepEqual(stream(l2c, l2cIds), ['', '', '，', '', R + '\n</s>\n', '']);
});

test('flush emits what is held back', () => {
  // An unfinished 4-byte character: Rust ByteFallback shows one U+FFFD per byte, UTF-8 decoding one.
  assert.deepEqual(stream(hf, [0xf0 + 4, 0x9f + 4]), ['', '', R + R]);
  assert.deepEqual(stream(l2c, [0xf0 + 3, 0x9f + 3]), ['', '', R]);
  const d = new IncrementalDetokenizer(hf);
  assert.equal(d.flush(), '');
  assert.equal(d.push(382), 'hello');
  assert.equal(d.flush(), '');
  assert.equal(d.text, 'hello');
});

test('a rejected id leaves the detokenizer as it was', () => {
  const d = new IncrementalDetokenizer(hf);
  assert.equal(d.push(382), 'hello');
  assert.throws(() => d.push(-1), TokenizerError);
  assert.equal(d.push(512), '', 'an id past the vocabulary adds nothing, as in HF tokenizers');
  assert.equal(d.push(387), ' world');
  assert.equal(d.text, 'hello world');
});

/** Counts how many ids each decode call gets, to check the windows stay small. */
class CountingTokenizer implements Tokenizer {
  maxDecodeLength = 0;
  decodeCalls = 0;
  constructor(private readonly inner: Tokenizer) {}
  get vocabSize(): number { return this.inner.vocabSize; }
  get bosTokenId(): number | null { return this.inner.bosTokenId; }
  get eosTokenId(): number | null { return this.inner.eosTokenId; }
  get padTokenId(): number | null { return this.inner.padTokenId; }
  get unkTokenId(): number | null { return this.inner.unkTokenId; }
  get eosToken(): string | null { return this.inner.eosToken; }
  get kind(): Tokenizer['kind'] { return this.inner.kind; }
  encode(text: string): number[] { return this.inner.encode(text); }
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string {
    this.decodeCalls++;
    this.maxDecodeLength = Math.max(this.maxDecodeLength, ids.length);
    return this.inner.decode(ids, options);
  }
  idToToken(id: number): string | undefined { return this.inner.idToToken(id); }
  tokenToId(token: string): number | undefined { return this.inner.tokenToId(token); }
  isSpecial(id: number): boolean { return this.inner.isSpecial(id); }
}

test('each push decodes a small window, never the whole sequence', () => {
  const counting = new CountingTokenizer(hf);
  const ids = hf.encode('你好，世界 😀🎉 é hello world '.repeat(40));
  assert.ok(ids.length > 800);
  const context = hf.encode('a long prompt '.repeat(50));
  const chunks = stream(counting, ids, { context });
  assert.equal(chunks.join(''), expected(hf, ids, context));
  // At most the anchor character (up to 4 byte tokens) plus 4 pending tokens.
  assert.ok(counting.maxDecodeLength <= 8, `a decode got ${counting.maxDecodeLength} ids`);
  assert.ok(counting.decodeCalls <= 2 * ids.length + 2, `${counting.decodeCalls} decode calls`);
});

test('random texts, contexts and special tokens: the stream always adds up to the full decode', () => {
  let seed = 42;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const pool = ['a', 'b', 'the', 'hello', ' ', '  ', '\n', '你', '好', '，', '😀', '🎉', 'é', 'Ω', '1', '23', '.', '▁'];
  const text = (): string => Array.from({ length: Math.floor(rnd() * 10) }, () => pool[Math.floor(rnd() * pool.length)]).join('');
  for (const [name, tokenizer, specials] of [
    ['xverse-tiny', hf, [0, 1, 2, 3, 510, 511]],
    ['stories260K', l2c, [0, 1, 2]],
  ] as const) {
    for (let round = 0; round < 300; round++) {
      // Specials go only before non-byte tokens: one inside a character's bytes makes invalid UTF-8
      // (covered by its own test below).
      const isByte = (id: number): boolean => /^<0x[0-9A-F]{2}>$/.test(tokenizer.idToToken(id) ?? '');
      const withSpecials = (ids: number[]): number[] =>
        ids.flatMap((id) => (!isByte(id) && rnd() < 0.15 ? [specials[Math.floor(rnd() * specials.length)]!, id] : [id]));
      const context = withSpecials(tokenizer.encode(text(), { addSpecialTokens: rnd() < 0.5 }));
      const generated = withSpecials(tokenizer.encode(text(), { addSpecialTokens: false }));
      const skip = rnd() < 0.5;
      const chunks = stream(tokenizer, generated, { context, skipSpecialTokens: skip });
      assert.equal(chunks.join(''), expected(tokenizer, generated, context, skip), `${name} round ${round}: ${JSON.stringify({ context, generated, skip })}`);
      for (const c of chunks) assert.ok(!c.includes(R), `${name} round ${round}: ${JSON.stringify(c)}`);
    }
  }
});
