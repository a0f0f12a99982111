import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { FormatError } from '../../src/errors.js';
import { HFTokenizer } from '../../src/tokenizer/hf-tokenizer.js';
import { Llama2cTokenizer } from '../../src/tokenizer/llama2c-tokenizer.js';
import { loadTokenizer } from '../../src/tokenizer/load.js';
import { fixture, tempDir } from '../helpers/fixtures.js';

const XVERSE_DIR = fixture('xverse-tiny', 'safetensors');
const TOK512 = fixture('stories260K', 'tok512.bin');

test('a model folder with tokenizer.json + tokenizer_config.json', () => {
  const tok = loadTokenizer(XVERSE_DIR);
  assert.ok(tok instanceof HFTokenizer);
  assert.equal(tok.kind, 'tokenizer.json');
  assert.equal(tok.bosTokenId, 2);
  assert.equal(tok.eosTokenId, 3);
  assert.deepEqual(tok.encode('hello world'), [382, 387]);
});

test('a tokenizer.json path uses the tokenizer_config.json beside it', () => {
  const tok = loadTokenizer(path.join(XVERSE_DIR, 'tokenizer.json'));
  assert.equal(tok.kind, 'tokenizer.json');
  assert.equal(tok.eosToken, '<|endoftext|>');
});

test('tokenizer.json without a config: no special ids unless the model config gives them', () => {
  const dir = tempDir();
  fs.copyFileSync(path.join(XVERSE_DIR, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  const bare = loadTokenizer(dir);
  assert.equal(bare.bosTokenId, null);
  assert.equal(bare.eosTokenId, null);
  const withIds = loadTokenizer(dir, { bosTokenId: 2, eosTokenId: 3, padTokenId: 1 });
  assert.deepEqual([withIds.bosTokenId, withIds.eosTokenId, withIds.padTokenId, withIds.eosToken], [2, 3, 1, '<|endoftext|>']);
});

test('overrides reach the tokenizer', () => {
  const tok = loadTokenizer(XVERSE_DIR, { eosTokenId: 511, padTokenId: null });
  assert.equal(tok.eosTokenId, 511);
  assert.equal(tok.padTokenId, 1);
});

test('a folder with only tokenizer.bin, and a llama2.c file given directly', () => {
  const dir = tempDir();
  fs.copyFileSync(TOK512, path.join(dir, 'tokenizer.bin'));
  const fromDir = loadTokenizer(dir);
  assert.ok(fromDir instanceof Llama2cTokenizer);
  assert.equal(fromDir.kind, 'llama2c');
  assert.equal(fromDir.vocabSize, 512);
  const fromFile = loadTokenizer(TOK512, { eosTokenId: 2 });
  assert.equal(fromFile.kind, 'llama2c');
  assert.deepEqual(fromFile.encode('Once upon a time'), [1, 403, 407, 261, 378]);
});

test('tokenizer.json wins over tokenizer.bin in the same folder', () => {
  const dir = tempDir();
  fs.copyFileSync(path.join(XVERSE_DIR, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  fs.copyFileSync(TOK512, path.join(dir, 'tokenizer.bin'));
  assert.equal(loadTokenizer(dir).kind, 'tokenizer.json');
});

test('nothing found: FormatError names the folder and what was looked for', () => {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, 'tokenizer.json')); // a folder of that name is not a tokenizer
  assert.throws(() => loadTokenizer(dir), (e: unknown) => e instanceof FormatError && e.message === `${dir}: no tokenizer found (looked for tokenizer.json, tokenizer.bin and tokenizer.gguf)`);
  const missing = path.join(dir, 'nope');
  assert.throws(() => loadTokenizer(missing), (e: unknown) => e instanceof FormatError && e.message === `${missing}: no such tokenizer file or model folder`);
});

test('bad files surface as FormatErrors naming them', () => {
  const dir = tempDir();
  const json = path.join(dir, 'tok.json');
  fs.writeFileSync(json, '{ not json');
  assert.throws(() => loadTokenizer(json), (e: unknown) => e instanceof FormatError && e.message.startsWith(`${json}: not valid JSON`));
  const bin = path.join(dir, 'tok.model');
  fs.writeFileSync(bin, Buffer.from([7, 0, 0, 0, 1, 2]));
  assert.throws(() => loadTokenizer(bin), (e: unknown) => e instanceof FormatError && e.message.startsWith(`${bin}: truncated at token 0`));
});
