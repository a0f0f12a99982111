import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { ConfigError, FormatError, TokenizerError } from '../../src/errors.js';
import { HFTokenizer } from '../../src/tokenizer/hf-tokenizer.js';
import { fixture, readJson, tempDir } from '../helpers/fixtures.js';

type Json = { [key: string]: any };

const TOKENIZER_JSON = fixture('xverse-tiny', 'safetensors', 'tokenizer.json');
const TOKENIZER_CONFIG = fixture('xverse-tiny', 'safetensors', 'tokenizer_config.json');

interface TokenizerCheck {
  text: string;
  hf_ids: number[];
  hf_tokens: string[];
  hf_decode: string;
  hf_decode_skip_special: string;
}
const checks = readJson<{ tokenizer_checks: { cases: TokenizerCheck[] } }>(fixture('xverse-tiny', 'reference.json')).tokenizer_checks.cases;

const fresh = (): Json => readJson<Json>(TOKENIZER_JSON);
const config = (): Json => readJson<Json>(TOKENIZER_CONFIG);
const tok = HFTokenizer.fromFiles(TOKENIZER_JSON, TOKENIZER_CONFIG);

test('fixture has the nine reference cases', () => {
  assert.equal(checks.length, 9);
});

for (const c of checks) {
  test(`reference case ${JSON.stringify(c.text)}: ids, tokens, decode`, () => {
    const ids = tok.encode(c.text);
    assert.deepEqual(ids, c.hf_ids);
    assert.deepEqual(
      ids.map((id) => tok.idToToken(id)),
      c.hf_tokens,
    );
    assert.equal(tok.decode(c.hf_ids), c.hf_decode);
    assert.equal(tok.decode(c.hf_ids, { skipSpecialTokens: true }), c.hf_decode_skip_special);
  });
}

test('worll follows BPE merge ranks, not llama.cpp leftmost-pair merging', () => {
  assert.deepEqual(tok.encode('worll'), [260, 383, 278, 379]);
});

test('special ids come from tokenizer_config.json', () => {
  assert.equal(tok.kind, 'tokenizer.json');
  assert.equal(tok.vocabSize, 512); // 510 vocab entries + the two think tokens
  assert.equal(tok.bosTokenId, 2);
  assert.equal(tok.eosTokenId, 3);
  assert.equal(tok.padTokenId, 1);
  assert.equal(tok.unkTokenId, 0);
  assert.equal(tok.eosToken, '<|endoftext|>');
  assert.equal(tok.tokenToId('<|startofthink|>'), 510);
  assert.equal(tok.idToToken(511), '<|endofthink|>');
  assert.equal(tok.idToToken(512), undefined);
  assert.equal(tok.idToToken(-1), undefined);
  assert.equal(tok.tokenToId('no such token'), undefined);
});

test('isSpecial marks exactly the special added tokens', () => {
  const special: number[] = [];
  for (let id = 0; id < tok.vocabSize; id++) if (tok.isSpecial(id)) special.push(id);
  assert.deepEqual(special, [0, 1, 2, 3, 510, 511]);
});

test('the same files in bin-sharded/ load identically', () => {
  const other = HFTokenizer.fromFiles(fixture('xverse-tiny', 'bin-sharded', 'tokenizer.json'), fixture('xverse-tiny', 'bin-sharded', 'tokenizer_config.json'));
  assert.deepEqual(other.encode('Hello, 你好 é\n<|endoftext|>'), tok.encode('Hello, 你好 é\n<|endoftext|>'));
});

test('addSpecialTokens defaults to the library (true), which adds nothing with a null post_processor', () => {
  assert.deepEqual(tok.encode('hello'), [382]);
  assert.deepEqual(tok.encode('hello', { addSpecialTokens: true }), [382]);
  assert.deepEqual(tok.encode('hello', { addSpecialTokens: false }), [382]);
  assert.deepEqual(tok.encode(''), []);
});

test('a TemplateProcessing post_processor adds BOS by default and not when asked', () => {
  const json = fresh();
  json['post_processor'] = {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '<|startoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { '<|startoftext|>': { id: '<|startoftext|>', ids: [2], tokens: ['<|startoftext|>'] } },
  };
  const withBos = HFTokenizer.fromJson(json, config());
  assert.deepEqual(withBos.encode('hello'), [2, 382]);
  assert.deepEqual(withBos.encode('hello', { addSpecialTokens: false }), [382]);
});

test('decode: empty input, gaps and bad ids', () => {
  assert.equal(tok.decode([]), '');
  assert.equal(tok.decode(new Int32Array([382, 387])), 'hello world');
  // Ids past the vocabulary (a padded embedding can sample them) are dropped, as the Rust library does.
  assert.equal(tok.decode([382, 512, 100000, 387]), 'hello world');
  assert.throws(() => tok.decode([-1]), (e: unknown) => e instanceof TokenizerError && /token id -1/.test(e.message) && e.message.includes(TOKENIZER_JSON));
  assert.throws(() => tok.decode([1.5]), TokenizerError);

  // An id inside the range that names no token is dropped, as the Rust library does.
  const json = fresh();
  delete json['model']['vocab']['▁tok121']; // id 509
  const gappy = HFTokenizer.fromJson(json, config());
  assert.equal(gappy.vocabSize, 512);
  assert.equal(gappy.decode([382, 509, 387]), 'hello world');
});

test('decode of invalid byte runs follows Rust ByteFallback: one U+FFFD per byte token', () => {
  // Values from tokenizers 0.23.2; @huggingface/tokenizers alone gives "5�G" and "é�".
  assert.equal(tok.decode([57, 191, 75]), '\uFFFD\uFFFD\uFFFD'); // <0x35> <0xBB> <0x47>
  assert.equal(tok.decode([199, 173, 199]), '\uFFFD\uFFFD\uFFFD'); // <0xC3> <0xA9> <0xC3>
  assert.equal(tok.decode([199, 173, 260, 199]), 'é \uFFFD'); // a non-byte token ends the run
  assert.equal(tok.decode([199, 173]), 'é');
});

test('a Metaspace pre-tokenizer splits before every ▁ (Rust split=true), so ▁▁ never forms', () => {
  const json = fresh();
  json['normalizer'] = null;
  json['pre_tokenizer'] = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true };
  json['model']['vocab']['▁▁'] = 388;
  delete json['model']['vocab']['▁tok0'];
  json['model']['merges'].push('▁ ▁');
  const meta = HFTokenizer.fromJson(json, config());
  assert.deepEqual(meta.encode('a  b'), [260, 261, 260, 260, 262]); // ▁ a ▁ ▁ b (Rust)
  assert.deepEqual(meta.encode('hello world'), [382, 387]);

  json['pre_tokenizer'] = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: false };
  const unsplit = HFTokenizer.fromJson(json, config());
  assert.deepEqual(unsplit.encode('a  b'), [260, 261, 388, 262]); // ▁ a ▁▁ b
});

test('Metaspace "first" inside a Sequence prefixes only the start of the text', () => {
  const json = fresh();
  json['normalizer'] = null;
  json['pre_tokenizer'] = {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Digits', individual_digits: true },
      { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true },
    ],
  };
  const seq = HFTokenizer.fromJson(json, config());
  // Rust pre-tokens: ▁1 2 ▁a 3 4
  assert.deepEqual(seq.encode('12 a34'), [260, 314, 315, 260, 261, 316, 317]);
});

test('Digits splits Unicode numerics like Rust char::is_numeric', () => {
  const json = fresh();
  json['pre_tokenizer'] = { type: 'Digits', individual_digits: false };
  const digits = HFTokenizer.fromJson(json, config());
  // "▁x" | "²½" are separate pre-tokens, so x is not merged with anything and ² ½ fall back to bytes.
  assert.deepEqual(digits.encode('x²½'), [260, 284, 198, 182, 198, 193]);
});

test('a Metaspace decoder strips per prepend_scheme like Rust', () => {
  // Rust drops the ▁ of the first token only, and nothing with "never" (the library alone strips one
  // leading space whatever the scheme).
  const json = fresh();
  json['decoder'] = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true };
  assert.equal(HFTokenizer.fromJson(json, config()).decode([260, 260, 280, 383]), ' two');
  json['decoder'] = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'never', split: true };
  assert.equal(HFTokenizer.fromJson(json, config()).decode([260, 260, 280, 383]), '  two');
});

test('overrides: numbers win, null keeps the tokenizer value, out of range is a ConfigError', () => {
  const o = HFTokenizer.fromFiles(TOKENIZER_JSON, TOKENIZER_CONFIG, { bosTokenId: null, eosTokenId: 511, padTokenId: 3 });
  assert.equal(o.bosTokenId, 2);
  assert.equal(o.eosTokenId, 511);
  assert.equal(o.eosToken, '<|endofthink|>');
  assert.equal(o.padTokenId, 3);
  assert.throws(() => HFTokenizer.fromFiles(TOKENIZER_JSON, TOKENIZER_CONFIG, { eosTokenId: 512 }), (e: unknown) => e instanceof ConfigError && /eos_token_id 512/.test(e.message));
});

test('without tokenizer_config.json: no bos/eos/pad, unk from model.unk_token', () => {
  const bare = HFTokenizer.fromFiles(TOKENIZER_JSON);
  assert.equal(bare.bosTokenId, null);
  assert.equal(bare.eosTokenId, null);
  assert.equal(bare.eosToken, null);
  assert.equal(bare.padTokenId, null);
  assert.equal(bare.unkTokenId, 0);
  assert.equal(bare.isSpecial(3), true); // added tokens still say special
  assert.equal(HFTokenizer.fromFiles(TOKENIZER_JSON, undefined, { eosTokenId: 3 }).eosToken, '<|endoftext|>');
});

test('special tokens given as AddedToken objects, and unknown ones rejected', () => {
  const c = config();
  c['bos_token'] = { content: '<|startoftext|>', lstrip: false };
  c['eos_token'] = { __type: 'AddedToken', content: '<|endoftext|>' };
  c['pad_token'] = null;
  const t = HFTokenizer.fromJson(fresh(), c);
  assert.equal(t.bosTokenId, 2);
  assert.equal(t.eosTokenId, 3);
  assert.equal(t.padTokenId, null);

  c['eos_token'] = '</s>';
  assert.throws(
    () => HFTokenizer.fromJson(fresh(), c, { source: 'a/tokenizer.json', configSource: 'a/tokenizer_config.json' }),
    (e: unknown) => e instanceof FormatError && e.message === 'a/tokenizer_config.json: eos_token "</s>" is not in the vocabulary of a/tokenizer.json',
  );
  c['eos_token'] = 7;
  assert.throws(() => HFTokenizer.fromJson(fresh(), c), (e: unknown) => e instanceof FormatError && /eos_token must be a string/.test(e.message));
});

test('clean_up_tokenization_spaces only when tokenizer_config.json says true', () => {
  const ids = tok.encode('a . b');
  assert.equal(HFTokenizer.fromJson(fresh(), {}).decode(ids), 'a . b');
  assert.equal(HFTokenizer.fromJson(fresh(), { clean_up_tokenization_spaces: true }).decode(ids), 'a. b');
});

test('malformed or missing files are one-line FormatErrors naming the file', () => {
  const dir = tempDir();
  const write = (name: string, text: string): string => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };
  const cases: Array<[() => unknown, RegExp]> = [
    [() => HFTokenizer.fromFiles(path.join(dir, 'missing.json')), /missing\.json: cannot read \(file not found\)/],
    [() => HFTokenizer.fromFiles(write('bad.json', '{"model": ')), /bad\.json: not valid JSON/],
    [() => HFTokenizer.fromFiles(write('array.json', '[1]')), /array\.json: expected a JSON object/],
    [() => HFTokenizer.fromFiles(write('nomodel.json', '{"added_tokens": []}')), /nomodel\.json: missing "model" object/],
    [() => HFTokenizer.fromFiles(write('novocab.json', '{"model": {"type": "BPE"}}')), /novocab\.json: missing model\.vocab/],
    [() => HFTokenizer.fromFiles(write('added.json', JSON.stringify({ ...fresh(), added_tokens: [{ id: 'x' }] }))), /added\.json: added_tokens\[0\] needs/],
    [() => HFTokenizer.fromFiles(write('vocab.json', JSON.stringify({ ...fresh(), model: { ...fresh()['model'], vocab: { a: -1 } } }))), /vocab\.json: model\.vocab\["a"\]/],
    [() => HFTokenizer.fromFiles(write('unknown.json', JSON.stringify({ ...fresh(), model: { type: 'Nope', vocab: {} } }))), /unknown\.json: model\.type "Nope" is not supported/],
    [() => HFTokenizer.fromFiles(write('nomerges.json', JSON.stringify({ ...fresh(), model: { type: 'BPE', vocab: {} } }))), /nomerges\.json: BPE model\.merges must be an array/],
    [() => HFTokenizer.fromFiles(write('badpipe.json', JSON.stringify({ ...fresh(), decoder: { type: 'NoSuchDecoder' } }))), /badpipe\.json: unsupported or malformed tokenizer/],
    [() => HFTokenizer.fromFiles(TOKENIZER_JSON, write('cfg.json', 'nope')), /cfg\.json: not valid JSON/],
    [() => HFTokenizer.fromJson('{', undefined, { source: 'inline' }), /^inline: not valid JSON/],
  ];
  for (const [run, pattern] of cases) {
    assert.throws(run, (e: unknown) => {
      assert.ok(e instanceof FormatError, `expected FormatError, got ${String(e)}`);
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes('\n'), `multi-line message: ${e.message}`);
      return true;
    });
  }
});

test('encode rejects non-strings, and pieces that map to no id, with a TokenizerError', () => {
  assert.throws(() => tok.encode(42 as unknown as string), TokenizerError);
  const json = fresh();
  json['model']['byte_fallback'] = false;
  json['model']['unk_token'] = '<missing>';
  const noUnk = HFTokenizer.fromJson(json, {}, { source: 'x/tokenizer.json' });
  assert.deepEqual(noUnk.encode('hello'), [382]);
  assert.throws(() => noUnk.encode('é'), (e: unknown) => e instanceof TokenizerError && e.message.startsWith('x/tokenizer.json: cannot encode "é"'));
});

test('a non-string model.end_of_word_suffix is a FormatError at load, not a RangeError when encoding (found by test/fuzz/json.test.ts)', () => {
  const json = readJson<Record<string, Record<string, unknown>>>(fixture('xverse-tiny', 'safetensors', 'tokenizer.json'));
  const deep = JSON.parse('['.repeat(20000) + '0' + ']'.repeat(20000)) as unknown;
  for (const key of ['end_of_word_suffix', 'continuing_subword_prefix', 'unk_token']) {
    assert.throws(() => HFTokenizer.fromJson({ ...json, model: { ...json['model'], [key]: deep } }, undefined, { source: 'tok.json' }),
      (err: unknown) => err instanceof FormatError && err.message === `tok.json: model.${key} must be a string or null`);
  }
});
