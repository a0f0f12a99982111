import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { ConfigError, FormatError, TokenizerError } from '../../src/errors.js';
import { Llama2cTokenizer } from '../../src/tokenizer/llama2c-tokenizer.js';
import { mergePieces, type MergeLookup } from '../../src/tokenizer/spm-merge.js';
import { fixture, readJson, tempDir } from '../helpers/fixtures.js';
import { readGgufVocab, readVocabTestInputs, readVocabTestOutputs } from '../helpers/gguf-vocab.js';

const TOK512 = fixture('stories260K', 'tok512.bin');
const tok = Llama2cTokenizer.fromFile(TOK512);

interface StoriesReference {
  runs: Array<{ published_stdout_without_final_newline: string }>;
  logits: { tokens_in: number[] };
}
const stories = readJson<StoriesReference>(fixture('stories260K', 'reference', 'stories260K_reference.json'));
const PUBLISHED = stories.runs[0]!.published_stdout_without_final_newline;
/** BOS + the 200 greedy tokens of `run stories260K.bin -z tok512.bin -t 0.0 -n 200`. */
const GREEDY = stories.logits.tokens_in.slice(0, 201);

test('tok512.bin parses: 512 pieces, llama2.c layout', () => {
  assert.equal(tok.kind, 'llama2c');
  assert.equal(tok.vocabSize, 512);
  assert.equal(tok.maxTokenLength, 7);
  assert.equal(tok.unkTokenId, 0);
  assert.equal(tok.bosTokenId, 1);
  assert.equal(tok.eosTokenId, 2);
  assert.equal(tok.padTokenId, null);
  assert.equal(tok.idToToken(0), '<unk>');
  assert.equal(tok.idToToken(1), '\n<s>\n');
  assert.equal(tok.eosToken, '\n</s>\n');
  assert.equal(tok.idToToken(3), '<0x00>');
  assert.equal(tok.idToToken(258), '<0xFF>');
  assert.equal(tok.idToToken(259), ' t');
  assert.equal(tok.idToToken(511), '\u200a');
  assert.equal(tok.idToToken(512), undefined);
  assert.equal(tok.score(260), -1);
  assert.equal(tok.score(511), -252);
  assert.equal(tok.tokenToId(' the'), 265);
  assert.equal(tok.tokenToId('not a piece'), undefined);
  assert.deepEqual([0, 1, 2, 3, 259].map((id) => tok.isSpecial(id)), [true, true, true, false, false]);
});

test('decoding the greedy ids gives exactly the text llama2.c published', () => {
  assert.equal(GREEDY.length, 201);
  assert.equal(tok.decode(GREEDY, { skipSpecialTokens: true }), PUBLISHED);
  // Without skipping, BOS prints its piece; the first piece after it still loses its space.
  assert.equal(tok.decode(GREEDY), '\n<s>\n' + PUBLISHED);
  // The space is only dropped after BOS.
  assert.equal(tok.decode(GREEDY.slice(1)), ' ' + PUBLISHED);
});

test('encoding the published text gives back the greedy ids (BOS added by default)', () => {
  assert.deepEqual(tok.encode(PUBLISHED), GREEDY);
  assert.deepEqual(tok.encode(PUBLISHED, { addSpecialTokens: false }), GREEDY.slice(1));
  assert.deepEqual(tok.encode('Once upon a time', { addEos: true }), [1, 403, 407, 261, 378, 2]);
});

test('empty text: no dummy prefix', () => {
  assert.deepEqual(tok.encode(''), [1]);
  assert.deepEqual(tok.encode('', { addSpecialTokens: false }), []);
  assert.equal(tok.decode([]), '');
});

test('unknown code points fall back to their UTF-8 bytes (byte + 3) and decode back', () => {
  // 'é' is a piece of this vocabulary; 'Ω' (CE A9) and '你' (E4 BD A0) are not.
  assert.equal(tok.tokenToId('é'), 485);
  const ids = tok.encode('éΩ你', { addSpecialTokens: false });
  assert.deepEqual(ids, [410, 485, 0xce + 3, 0xa9 + 3, 0xe4 + 3, 0xbd + 3, 0xa0 + 3]); // 410 is ' ', the dummy prefix
  assert.equal(tok.decode([1, ...ids]), '\n<s>\néΩ你'); // the ' ' piece after BOS loses its space
  assert.equal(tok.decode(ids), ' éΩ你');
});

test('decode: the after-BOS rule applies to every BOS, never to byte pieces', () => {
  const once = tok.tokenToId(' Once')!;
  assert.equal(tok.decode([once, 1, once], { skipSpecialTokens: true }), ' OnceOnce');
  assert.equal(tok.decode([1, 0x20 + 3], { skipSpecialTokens: true }), ' '); // <0x20> keeps its space
  assert.equal(tok.decode([0xe4 + 3, 0xbd + 3]), '\uFFFD'); // an unfinished character
  assert.equal(tok.decode([once, 512, once]), ' Once Once', 'ids past the vocabulary add nothing');
  assert.throws(() => tok.decode([-2]), (e: unknown) => e instanceof TokenizerError && e.message.includes('token id -2') && e.message.includes(TOK512));
  assert.throws(() => tok.decode([0.5]), TokenizerError);
});

/** A hand-made vocabulary: ids 0–2 special, then the pieces given. */
function vocab(pieces: Array<[string, number]>): Llama2cTokenizer {
  const all: Array<[string, number]> = [['<unk>', 0], ['<s>', 0], ['</s>', 0], ...pieces];
  return Llama2cTokenizer.fromPieces(
    all.map(([p]) => p),
    all.map(([, s]) => s),
    { source: 'hand-made' },
  );
}

test('merging: highest score first, leftmost on ties, nothing at or below -1e10', () => {
  const base: Array<[string, number]> = [[' ', -5], ['a', -5], ['b', -5], ['c', -5]];
  // ids: ' '=3 a=4 b=5 c=6, then the merged pieces from 7
  const tie = vocab([...base, ['ab', -1], ['bc', -1]]);
  assert.deepEqual(tie.encode('abc', { addSpecialTokens: false }), [3, 7, 6]);
  const right = vocab([...base, ['ab', -2], ['bc', -1]]);
  assert.deepEqual(right.encode('abc', { addSpecialTokens: false }), [3, 4, 8]);
  const floor = vocab([...base, ['ab', -1e10], ['bc', -1e11]]);
  assert.deepEqual(floor.encode('abc', { addSpecialTokens: false }), [3, 4, 5, 6]);
  // A merge can build on an earlier one; ' ab' needs ' ' + 'ab'.
  const chain = vocab([...base, ['ab', -1], [' ab', -3], ['bc', -2]]);
  assert.deepEqual(chain.encode('abc', { addSpecialTokens: false }), [8, 6]);
  // Without byte tokens, an unknown character cannot be encoded.
  assert.throws(() => tie.encode('x'), (e: unknown) => e instanceof TokenizerError && /U\+0078/.test(e.message) && e.message.includes('hand-made'));
});

/** run.c's merge loop as written: rescan every adjacent pair after each merge. */
function rescanMerge(ids: number[], lookup: MergeLookup): number[] {
  const out = ids.slice();
  for (;;) {
    let best = -1;
    let bestScore = -Infinity;
    let bestId = -1;
    for (let i = 0; i + 1 < out.length; i++) {
      const m = lookup(out[i]!, out[i + 1]!);
      if (m !== undefined && m.score > bestScore) {
        bestScore = m.score;
        best = i;
        bestId = m.id;
      }
    }
    if (best < 0) return out;
    out.splice(best, 2, bestId);
  }
}

test('the heap merge picks the same pair as run.c rescanning, on random vocabularies', () => {
  let seed = 7;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (let round = 0; round < 300; round++) {
    // Symbols 0..3 are letters; pairs map to new ids with scores drawn from a few values (many ties).
    const table = new Map<string, { id: number; score: number }>();
    let nextId = 4;
    for (let k = 0; k < 12; k++) {
      const a = Math.floor(rnd() * nextId);
      const b = Math.floor(rnd() * nextId);
      if (!table.has(`${a},${b}`)) table.set(`${a},${b}`, { id: nextId++, score: Math.floor(rnd() * 4) });
    }
    const lookup: MergeLookup = (l, r) => table.get(`${l},${r}`);
    const ids = Array.from({ length: Math.floor(rnd() * 20) }, () => Math.floor(rnd() * 4));
    assert.deepEqual(mergePieces(ids, lookup), rescanMerge(ids, lookup), `round ${round}: ${JSON.stringify(ids)}`);
  }
});

test('llama.cpp SPM vectors: all 46 strings of ggml-vocab-llama-spm.gguf (no BOS)', () => {
  const gguf = readGgufVocab(fixture('tokenizer-vectors', 'ggml-vocab-llama-spm.gguf'));
  assert.equal(gguf.model, 'llama');
  assert.equal(gguf.tokens.length, 32000);
  assert.equal(gguf.scores?.length, 32000);
  assert.equal(gguf.tokenTypes?.length, 32000);
  // The layout Llama2cTokenizer assumes: 0 unk, 1 BOS, 2 EOS (CONTROL/UNKNOWN types), bytes at 3 + byte (BYTE type 6).
  assert.deepEqual(gguf.tokens.slice(0, 4), ['<unk>', '<s>', '</s>', '<0x00>']);
  for (let b = 0; b < 256; b++) {
    assert.equal(gguf.tokens[3 + b], `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    assert.equal(gguf.tokenTypes![3 + b], 6);
  }

  const spm = Llama2cTokenizer.fromPieces(
    gguf.tokens.map((p) => p.replaceAll('\u2581', ' ')),
    gguf.scores!,
    { source: 'ggml-vocab-llama-spm.gguf' },
  );
  const inputs = readVocabTestInputs(fixture('tokenizer-vectors', 'ggml-vocab-llama-spm.gguf.inp'));
  const outputs = readVocabTestOutputs(fixture('tokenizer-vectors', 'ggml-vocab-llama-spm.gguf.out'));
  assert.equal(inputs.length, 46);
  assert.equal(outputs.length, 46);
  const failures: string[] = [];
  inputs.forEach((text, i) => {
    const got = spm.encode(text, { addSpecialTokens: false });
    if (JSON.stringify(got) !== JSON.stringify(outputs[i])) failures.push(`#${i} ${JSON.stringify(text)}: ${got.join(' ')} != ${outputs[i]!.join(' ')}`);
  });
  assert.deepEqual(failures, []);
  // And decoding gives the text back, with llama.cpp's dummy-prefix space in front.
  inputs.forEach((text, i) => assert.equal(spm.decode(outputs[i]!), text === '' ? '' : ' ' + text));
});

function tokFile(parts: Array<number | ['f32', number] | Uint8Array>): Uint8Array {
  const chunks = parts.map((p) => {
    if (p instanceof Uint8Array) return p;
    const b = Buffer.alloc(4);
    if (Array.isArray(p)) b.writeFloatLE(p[1], 0);
    else b.writeInt32LE(p, 0);
    return b;
  });
  return Buffer.concat(chunks);
}
const piece = (s: string): Array<number | ['f32', number] | Uint8Array> => [['f32', 0], Buffer.byteLength(s), Buffer.from(s)];

test('parsing bounds every size and names the file and token in errors', () => {
  const good = tokFile([4, ...piece('<unk>'.slice(0, 4)), ...piece('<s>'), ...piece('</s>'), ...piece('ab')]);
  assert.equal(Llama2cTokenizer.fromBuffer(good).vocabSize, 4);
  assert.equal(Llama2cTokenizer.fromBuffer(good, { vocabSize: 3 }).vocabSize, 3); // the rest is ignored, as run.c does

  const cases: Array<[Uint8Array, { vocabSize?: number }, RegExp]> = [
    [new Uint8Array([1, 0]), {}, /^t\.bin: 2 bytes, too short/],
    [tokFile([0]), {}, /^t\.bin: max_token_len 0 is not in 1\.\.65536/],
    [tokFile([-5]), {}, /max_token_len -5/],
    [good, { vocabSize: 5 }, /^t\.bin: truncated at token 4 of 5 \(0 bytes left/],
    [good.subarray(0, good.length - 1), {}, /^t\.bin: truncated at token 3 \(length 2, 1 bytes left\)/],
    [good.subarray(0, good.length - 5), {}, /^t\.bin: truncated at token 3 \(5 bytes left, need 8/],
    [tokFile([4, ...piece('<unk>')]), {}, /^t\.bin: token 0 has length 5, outside 0\.\.max_token_len 4/],
    [tokFile([4, ['f32', 0], -1]), {}, /token 0 has length -1/],
    [tokFile([4, ['f32', 0], 0x7fffffff]), {}, /token 0 has length 2147483647/],
    [tokFile([4, ...piece('a'), ...piece('b')]), {}, /^t\.bin: 2 tokens; a llama2\.c vocabulary needs at least/],
  ];
  for (const [bytes, options, pattern] of cases) {
    assert.throws(() => Llama2cTokenizer.fromBuffer(bytes, { ...options, source: 't.bin' }), (e: unknown) => {
      assert.ok(e instanceof FormatError, String(e));
      assert.match(e.message, pattern);
      return true;
    });
  }
  assert.throws(() => Llama2cTokenizer.fromBuffer(good, { vocabSize: 0 }), ConfigError);
});

test('the real file truncated: FormatError names the path and the token', () => {
  const dir = tempDir();
  const cut = path.join(dir, 'cut.bin');
  fs.writeFileSync(cut, fs.readFileSync(TOK512).subarray(0, 3000));
  assert.throws(() => Llama2cTokenizer.fromFile(cut), (e: unknown) => e instanceof FormatError && e.message.startsWith(`${cut}: truncated at token `));
  assert.throws(() => Llama2cTokenizer.fromFile(TOK512, { vocabSize: 513 }), (e: unknown) => e instanceof FormatError && e.message.startsWith(`${TOK512}: truncated at token 512 of 513`));
  assert.throws(() => Llama2cTokenizer.fromFile(path.join(dir, 'none.bin')), (e: unknown) => e instanceof FormatError && /none\.bin: cannot read llama2\.c tokenizer \(file not found\)/.test(e.message));
});

test('overrides from the model config', () => {
  const o = Llama2cTokenizer.fromFile(TOK512, { bosTokenId: null, eosTokenId: 2, padTokenId: 0 });
  assert.equal(o.bosTokenId, 1);
  assert.equal(o.padTokenId, 0);
  assert.throws(() => Llama2cTokenizer.fromFile(TOK512, { bosTokenId: 600 }), ConfigError);
});
