import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { FormatError, TokenizerError } from '../../src/errors.js';
import { gv, writeGguf, type GgufValue } from '../../src/formats/gguf.js';
import { IncrementalDetokenizer } from '../../src/tokenizer/detokenizer.js';
import { GgufTokenizer } from '../../src/tokenizer/gguf-tokenizer.js';
import { HFTokenizer } from '../../src/tokenizer/hf-tokenizer.js';
import { loadTokenizer } from '../../src/tokenizer/load.js';
import { KNOWN_PRE_TOKENIZERS, preTokenizerFor } from '../../src/tokenizer/pretokenizers.js';
import type { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { runCli } from '../helpers/cli.js';
import { fixture, readJson, tempDir } from '../helpers/fixtures.js';
import { readVocabTestInputs, readVocabTestOutputs } from '../helpers/gguf-vocab.js';

const VECTORS = fixture('tokenizer-vectors');
const SPM_FILE = path.join(VECTORS, 'ggml-vocab-llama-spm.gguf');
const GPT2_FILE = path.join(VECTORS, 'ggml-vocab-gpt-2.gguf');
const XVERSE_GGUF = fixture('xverse-tiny', 'gguf', 'xverse-tiny-f32.gguf');
const XVERSE_DIR = fixture('xverse-tiny', 'safetensors');

const spm = loadTokenizer(SPM_FILE);
const gpt2 = loadTokenizer(GPT2_FILE);

/** llama.cpp's test-tokenizer-0 data: 46 strings and the ids it expects without BOS. */
function vectors(file: string): Array<{ text: string; ids: number[] }> {
  const inputs = readVocabTestInputs(`${file}.inp`);
  const outputs = readVocabTestOutputs(`${file}.out`);
  assert.equal(inputs.length, 46);
  assert.equal(outputs.length, 46);
  return inputs.map((text, i) => ({ text, ids: outputs[i]! }));
}

function checkVectors(tok: Tokenizer, file: string): void {
  const failures: string[] = [];
  for (const [i, { text, ids }] of vectors(file).entries()) {
    const got = tok.encode(text, { addSpecialTokens: false });
    if (JSON.stringify(got) !== JSON.stringify(ids)) failures.push(`#${i} ${JSON.stringify(text)}: ${got.join(' ')} != ${ids.join(' ')}`);
  }
  assert.deepEqual(failures, []);
}

/** Decoding the expected ids gives back every string; streaming them one by one gives the same text. */
function checkDecoding(tok: Tokenizer, file: string): void {
  for (const { text, ids } of vectors(file)) {
    assert.equal(tok.decode(ids), text, JSON.stringify(text));
    const detok = new IncrementalDetokenizer(tok);
    let streamed = '';
    for (const id of ids) streamed += detok.push(id);
    streamed += detok.flush();
    assert.equal(streamed, text, `streamed ${JSON.stringify(text)}`);
  }
}

test('llama.cpp SPM vectors: all 46 strings of ggml-vocab-llama-spm.gguf through loadTokenizer (no BOS)', () => {
  assert.ok(spm instanceof GgufTokenizer);
  checkVectors(spm, SPM_FILE);
});

test('llama.cpp GPT-2 vectors: all 46 strings of ggml-vocab-gpt-2.gguf through loadTokenizer', () => {
  assert.ok(gpt2 instanceof GgufTokenizer);
  checkVectors(gpt2, GPT2_FILE);
});

test('decode round trips the vectors, also through the incremental detokenizer (UTF-8 split over tokens)', () => {
  checkDecoding(spm, SPM_FILE);
  checkDecoding(gpt2, GPT2_FILE);
});

test('SPM vocab-only file: metadata, BOS rule, token lookups', () => {
  const t = spm as GgufTokenizer;
  assert.equal(t.kind, 'gguf');
  assert.equal(t.model, 'llama');
  assert.equal(t.vocabSize, 32000);
  assert.deepEqual([t.unkTokenId, t.bosTokenId, t.eosTokenId, t.padTokenId], [0, 1, 2, null]);
  assert.equal(t.eosToken, '</s>');
  assert.equal(t.hasScores, true);
  assert.equal(t.preTokenizer, null);
  // add_bos_token is true in the file: BOS unless addSpecialTokens is false, as llama.cpp adds it.
  assert.deepEqual(t.encode('Hello world'), [1, 15043, 3186]);
  assert.deepEqual(t.encode(''), [1]);
  assert.deepEqual(t.encode('', { addSpecialTokens: false }), []);
  assert.equal(t.idToToken(15043), '\u2581Hello');
  assert.equal(t.idToToken(13), '<0x0A>');
  assert.equal(t.idToToken(32000), undefined);
  assert.equal(t.tokenToId('\u2581Hello'), 15043);
  assert.equal(t.tokenToId('Hello world'), undefined);
  assert.deepEqual([0, 1, 2, 13, 15043].map((id) => t.isSpecial(id)), [true, true, true, false, false]);
  // Control tokens in the text are matched whole (parse_special), and text after them gets the prefix.
  assert.deepEqual(t.encode('<s>Hello</s>', { addSpecialTokens: false }), [1, 15043, 2]);
  // Decoding: special tokens kept or skipped; the first token decoded loses its prefix space.
  assert.equal(t.decode([1, 15043, 3186, 2]), '<s> Hello world</s>');
  assert.equal(t.decode([1, 15043, 3186, 2], { skipSpecialTokens: true }), 'Hello world');
  assert.equal(t.decode([29871, 13]), '\n');
  assert.equal(t.decode([15043, 32000, 3186]), 'Hello world'); // ids past the vocabulary add nothing
  assert.throws(() => t.decode([-1]), (e: unknown) => e instanceof TokenizerError && e.message.includes('ggml-vocab-llama-spm.gguf'));
});

test('GPT-2 vocab-only file: metadata, no BOS by default, byte-level pieces', () => {
  const t = gpt2 as GgufTokenizer;
  assert.equal(t.model, 'gpt2');
  assert.equal(t.vocabSize, 50257);
  assert.equal(t.preTokenizer, 'gpt-2');
  assert.deepEqual([t.bosTokenId, t.eosTokenId, t.unkTokenId, t.padTokenId], [50256, 50256, null, null]);
  assert.equal(t.addBosToken, false);
  assert.deepEqual(t.encode('Hello world'), [15496, 995]);
  assert.deepEqual(t.encode('Hello<|endoftext|> world'), [15496, 50256, 995]);
  assert.equal(t.idToToken(18435), '\u0120Hello');
  assert.equal(t.idToToken(198), '\u010a');
  assert.equal(t.decode([15496, 50256, 995]), 'Hello<|endoftext|> world');
  assert.equal(t.decode([15496, 50256, 995], { skipSpecialTokens: true }), 'Hello world');
  // ' 🦙' is five bytes over three tokens: half a character decodes to U+FFFD, the whole one to itself.
  assert.equal(t.decode([12520, 99]), ' \ufffd');
  assert.equal(t.decode([12520, 99, 247]), ' 🦙');
});

test('the pre-tokenizers split as their expressions say (digit groups, contractions, trailing spaces)', () => {
  const split = (name: string, text: string) => preTokenizerFor(name, 't.gguf').split(text);
  assert.deepEqual(split('gpt-2', "I'm   here\n"), ['I', "'m", '  ', ' here', '\n']);
  assert.deepEqual(split('gpt-2', 'x 1234567'), ['x', ' 1234567']);
  assert.deepEqual(split('llama3', 'x 1234567'), ['x', ' ', '123', '456', '7']);
  assert.deepEqual(split('llama-bpe', "I'M here!!\n\nok"), ['I', "'M", ' here', '!!\n\n', 'ok']);
  assert.deepEqual(split('qwen2', 'a123'), ['a', '1', '2', '3']);
  assert.deepEqual(split('starcoder', 'v12 x'), ['v', '1', '2', ' x']);
  assert.deepEqual(split('deepseek-coder', 'ab 12\n你好'), ['ab', ' ', '1', '2', '\n', '你好']);
  assert.deepEqual(split('falcon', 'a+b 1234'), ['a', '+', 'b', ' ', '123', '4']);
  assert.deepEqual(split('default', 'x=12345'), ['x', '=', '123', '45']);
  assert.deepEqual(split('gpt-2', ''), []);
  assert.ok(KNOWN_PRE_TOKENIZERS.includes('deepseek-llm') && KNOWN_PRE_TOKENIZERS.includes('refact'));
});

// ---- hand-built vocabularies -------------------------------------------------------------------

const TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, byte: 6 } as const;
const BYTE_TOKENS = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);

/** A SentencePiece vocabulary: <unk> <s> </s>, 256 byte tokens (ids 3–258), then `pieces`. */
function spmVocab(pieces: Array<[string, number?]>, extra: Array<[string, GgufValue]> = []): Map<string, GgufValue> {
  const tokens = ['<unk>', '<s>', '</s>', ...BYTE_TOKENS, ...pieces.map((p) => p[0])];
  const types = [TYPE.unknown, TYPE.control, TYPE.control, ...BYTE_TOKENS.map(() => TYPE.byte), ...pieces.map((p) => p[1] ?? TYPE.normal)];
  return new Map<string, GgufValue>([
    ['general.architecture', gv.string('llama')],
    ['tokenizer.ggml.model', gv.string('llama')],
    ['tokenizer.ggml.pre', gv.string('default')],
    ['tokenizer.ggml.tokens', gv.strings(tokens)],
    ['tokenizer.ggml.token_type', gv.numbers('i32', types)],
    ...extra,
  ]);
}

function writeVocab(name: string, metadata: Map<string, GgufValue>): string {
  const file = path.join(tempDir(), name);
  writeGguf(file, metadata, []);
  return file;
}

// Ids of the pieces below: 259 ▁, 260 a, 261 b, 262 c, 263 ▁a, 264 ab, 265 bc, 266 ▁é, 267 <tool> (user-defined).
const PIECES: Array<[string, number?]> = [['\u2581'], ['a'], ['b'], ['c'], ['\u2581a'], ['ab'], ['bc'], ['\u2581é'], ['<tool>', TYPE.userDefined]];

test('SPM without tokenizer.ggml.scores: every score is 0, so the leftmost pair that forms a token merges first', () => {
  const noScores = loadTokenizer(writeVocab('no-scores.gguf', spmVocab(PIECES))) as GgufTokenizer;
  assert.equal(noScores.hasScores, false);
  // ▁ a b c: the pairs ▁a, ab, bc are all tokens with score 0 → ▁a (leftmost), then bc.
  assert.deepEqual(noScores.encode('abc', { addSpecialTokens: false }), [263, 265]);

  // The same vocabulary with scores ranking ab first: ▁ ab c, and neither ▁ab nor abc is a token.
  const scores = new Array(noScores.vocabSize).fill(0);
  scores[263] = -3;
  scores[264] = -1;
  scores[265] = -2;
  const scored = loadTokenizer(writeVocab('scores.gguf', new Map([...spmVocab(PIECES), ['tokenizer.ggml.scores', gv.numbers('f32', scores)]])));
  assert.deepEqual(scored.encode('abc', { addSpecialTokens: false }), [259, 264, 262]);

  // The xverse-tiny case: "worll" merges ▁ worl l in llama.cpp, ▁ wo r ll by tokenizer.json's merge ranks.
  const xverse = loadTokenizer(XVERSE_GGUF);
  assert.deepEqual(xverse.encode('worll'), [260, 385, 272]);
  assert.deepEqual(loadTokenizer(XVERSE_DIR).encode('worll'), [260, 383, 278, 379]);
});

test('SPM: unknown characters stay one symbol (llama.cpp), then fall back to <0xNN> tokens', () => {
  const t = loadTokenizer(writeVocab('spm.gguf', spmVocab(PIECES)));
  // 'é' is not a token, but '▁é' is: llama.cpp joins them (llama2.c would have split é into bytes first).
  assert.deepEqual(t.encode('é', { addSpecialTokens: false }), [266]);
  // 'x' and 'é' alone are not tokens: their UTF-8 bytes, at 3 + byte.
  assert.deepEqual(t.encode('xé', { addSpecialTokens: false }), [259, 3 + 0x78, 3 + 0xc3, 3 + 0xa9]);
  assert.equal(t.decode([259, 3 + 0x78, 3 + 0xc3, 3 + 0xa9]), 'xé');
  // Without byte tokens such a character cannot be encoded: a one-line TokenizerError.
  const meta = new Map([...spmVocab([['\u2581'], ['a']])]);
  meta.set('tokenizer.ggml.tokens', gv.strings(['<unk>', '<s>', '</s>', '\u2581', 'a']));
  meta.set('tokenizer.ggml.token_type', gv.numbers('i32', [2, 3, 3, 1, 1]));
  const noBytes = loadTokenizer(writeVocab('no-bytes.gguf', meta));
  assert.throws(() => noBytes.encode('aé'), (e: unknown) => e instanceof TokenizerError && /U\+00E9/.test(e.message) && e.message.includes('no-bytes.gguf'));
});

test('SPM: user-defined and control tokens are matched whole before merging; BOS/EOS and the space prefix follow the file', () => {
  const t = loadTokenizer(writeVocab('spm.gguf', spmVocab(PIECES)));
  assert.deepEqual(t.encode('a<tool>a'), [1, 263, 267, 263]); // add_bos defaults to true for SPM
  assert.deepEqual(t.encode('<s>a', { addSpecialTokens: false }), [1, 263]);
  assert.equal(t.decode([263, 267, 263]), 'a<tool> a');
  assert.equal(t.isSpecial(267), false);
  assert.equal(t.decode([1, 263, 2], { skipSpecialTokens: true }), 'a');

  const flags = spmVocab(PIECES, [
    ['tokenizer.ggml.add_bos_token', gv.bool(false)],
    ['tokenizer.ggml.add_eos_token', gv.bool(true)],
    ['tokenizer.ggml.add_space_prefix', gv.bool(false)],
  ]);
  const noPrefix = loadTokenizer(writeVocab('flags.gguf', flags));
  assert.deepEqual(noPrefix.encode('a'), [260, 2]);
  assert.deepEqual(noPrefix.encode(' a', { addSpecialTokens: false }), [263]);
  assert.equal(noPrefix.decode([263]), ' a'); // no prefix added, none removed
});

/** A byte-level BPE vocabulary spelling "hello" and " hello" by merges, plus 'oh' that no merge builds. */
function bpeVocab(pre: string | undefined, extra: Array<[string, GgufValue]> = []): Map<string, GgufValue> {
  const tokens = ['h', 'e', 'l', 'o', '\u0120', 'he', 'll', 'hell', 'hello', '\u0120hello', 'oh', '<|end|>'];
  const types = tokens.map((t) => (t === '<|end|>' ? TYPE.control : TYPE.normal));
  return new Map<string, GgufValue>([
    ['tokenizer.ggml.model', gv.string('gpt2')],
    ...(pre === undefined ? [] : [['tokenizer.ggml.pre', gv.string(pre)] as [string, GgufValue]]),
    ['tokenizer.ggml.tokens', gv.strings(tokens)],
    ['tokenizer.ggml.token_type', gv.numbers('i32', types)],
    ['tokenizer.ggml.merges', gv.strings(['h e', 'l l', 'he ll', 'hell o', '\u0120 hello'])],
    ['tokenizer.ggml.bos_token_id', gv.u32(11)],
    ['tokenizer.ggml.eos_token_id', gv.u32(11)],
    ...extra,
  ]);
}

test('BPE: merges by rank, special tokens whole; llama3 ignores merges for whole-token words and adds BOS', () => {
  const t = loadTokenizer(writeVocab('bpe.gguf', bpeVocab('gpt-2')));
  assert.deepEqual(t.encode('hello hello<|end|>oh'), [8, 9, 11, 3, 0]);
  assert.equal(t.decode([8, 9, 11, 3, 0]), 'hello hello<|end|>oh');
  const llama3 = loadTokenizer(writeVocab('bpe-llama3.gguf', bpeVocab('llama-bpe'))) as GgufTokenizer;
  assert.equal(llama3.addBosToken, true);
  assert.deepEqual(llama3.encode('oh hello'), [11, 10, 9]);
  // No pre key: llama.cpp's 'default' pre-tokenizer.
  assert.equal((loadTokenizer(writeVocab('bpe-nopre.gguf', bpeVocab(undefined))) as GgufTokenizer).preTokenizer, 'default');
  // A byte with no token: a TokenizerError rather than llama.cpp's silent drop.
  assert.throws(() => t.encode('x'), (e: unknown) => e instanceof TokenizerError && e.message.includes('0x78'));
});

test('bad tokenizer metadata: one-line FormatErrors naming the file and the value', () => {
  const cases: Array<[string, Map<string, GgufValue>, RegExp]> = [
    ['bert.gguf', new Map([...spmVocab(PIECES), ['tokenizer.ggml.model', gv.string('bert')]]), /unknown tokenizer\.ggml\.model "bert" \(supported: llama, gpt2\)/],
    ['pre.gguf', bpeVocab('made-up'), /unknown tokenizer\.ggml\.pre "made-up" \(known: default, gpt-2, .*llama3.*qwen2.*deepseek-llm.*deepseek-coder.*falcon.*starcoder.*refact/],
    ['no-merges.gguf', new Map([...bpeVocab('gpt-2')].filter(([k]) => k !== 'tokenizer.ggml.merges')), /no tokenizer\.ggml\.merges/],
    ['no-model.gguf', new Map([['general.architecture', gv.string('llama')]]), /no tokenizer\.ggml\.model: the file carries no tokenizer/],
    ['short-scores.gguf', new Map([...spmVocab(PIECES), ['tokenizer.ggml.scores', gv.numbers('f32', [0, 0])]]), /tokenizer\.ggml\.scores has 2 entries for 268 tokens/],
    ['bad-tokens.gguf', new Map([...spmVocab(PIECES), ['tokenizer.ggml.tokens', gv.numbers('i32', [1])]]), /"tokenizer\.ggml\.tokens" must be an array of strings, got array of i32/],
    ['bad-merge.gguf', new Map([...bpeVocab('gpt-2'), ['tokenizer.ggml.merges', gv.strings(['ab'])]]), /tokenizer\.ggml\.merges\[0\] "ab" is not "left right"/],
  ];
  for (const [name, metadata, pattern] of cases) {
    const file = writeVocab(name, metadata);
    assert.throws(() => loadTokenizer(file), (e: unknown) => {
      assert.ok(e instanceof FormatError, `${name}: ${String(e)}`);
      assert.ok(e.message.startsWith(file), e.message);
      assert.ok(!e.message.includes('\n'));
      assert.match(e.message, pattern);
      return true;
    });
  }
  // A truncated file is the GGUF reader's FormatError; a GGUF without a .gguf name is still found by its magic.
  const dir = tempDir();
  const cut = path.join(dir, 'cut.gguf');
  fs.writeFileSync(cut, fs.readFileSync(SPM_FILE).subarray(0, 100_000));
  assert.throws(() => loadTokenizer(cut), (e: unknown) => e instanceof FormatError && e.message.startsWith(cut));
  const renamed = path.join(dir, 'vocab.bin');
  fs.copyFileSync(GPT2_FILE, renamed);
  assert.equal(loadTokenizer(renamed).kind, 'gguf');
});

test('xverse-tiny GGUF (llama.cpp converter output): llama.cpp ids for every tokenizer check, agreeing with tokenizer.json where they must', () => {
  interface Case { text: string; hf_ids: number[]; hf_decode: string; hf_decode_skip_special: string; llamacpp_gguf_ids: number[]; same: boolean }
  const checks = readJson<{ tokenizer_checks: { cases: Case[] } }>(fixture('xverse-tiny', 'reference.json')).tokenizer_checks.cases;
  const gguf = loadTokenizer(XVERSE_GGUF) as GgufTokenizer;
  const hf = loadTokenizer(XVERSE_DIR);
  assert.ok(hf instanceof HFTokenizer);
  assert.equal(gguf.hasScores, false);
  assert.equal(gguf.addBosToken, false);
  assert.deepEqual([gguf.unkTokenId, gguf.padTokenId, gguf.bosTokenId, gguf.eosTokenId, gguf.eosToken], [0, 1, 2, 3, '<|endoftext|>']);
  assert.equal(checks.length, 9);
  for (const c of checks) {
    assert.deepEqual(gguf.encode(c.text), c.llamacpp_gguf_ids, JSON.stringify(c.text));
    assert.deepEqual(gguf.decode(c.hf_ids), c.hf_decode);
    assert.deepEqual(gguf.decode(c.hf_ids, { skipSpecialTokens: true }), c.hf_decode_skip_special);
    if (c.same) assert.deepEqual(gguf.encode(c.text), hf.encode(c.text), JSON.stringify(c.text));
  }
  assert.deepEqual(checks.filter((c) => !c.same).map((c) => c.text), ['worll']);
  // Same vocabulary: every id has the same token text and the same special flag as in tokenizer.json.
  assert.equal(gguf.vocabSize, hf.vocabSize);
  for (let id = 0; id < gguf.vocabSize; id++) {
    assert.equal(gguf.idToToken(id), hf.idToToken(id), `id ${id}`);
    assert.equal(gguf.isSpecial(id), hf.isSpecial(id), `id ${id}`);
  }
});

test('xverse tokenize --model FILE.gguf works on vocab-only files', async () => {
  const hello = vectors(SPM_FILE)[11]!;
  assert.equal(hello.text, 'Hello world');
  let r = await runCli(['tokenize', '--model', SPM_FILE, hello.text]);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, `${hello.ids.join(' ')}\n`);
  r = await runCli(['tokenize', '--model', SPM_FILE, '--bos', '--json', '--tokens', hello.text]);
  assert.deepEqual(JSON.parse(r.stdout), [{ id: 1, token: '<s>' }, { id: 15043, token: '\u2581Hello' }, { id: 3186, token: '\u2581world' }]);
  const emoji = vectors(GPT2_FILE)[18]!;
  r = await runCli(['tokenize', '--tokenizer', GPT2_FILE, emoji.text]);
  assert.equal(r.stdout, `${emoji.ids.join(' ')}\n`);
  const bad = writeVocab('bad.gguf', bpeVocab('made-up'));
  r = await runCli(['tokenize', '--model', bad, 'x']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^xverse: FormatError: .*bad\.gguf: unknown tokenizer\.ggml\.pre "made-up" \(known: /);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});
