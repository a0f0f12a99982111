import { test } from 'node:test';
import { assertClean, runFuzz } from '../helpers/fuzz.js';

const target = new URL('./targets/gguf.js', import.meta.url);

test('fuzz: GGUF embedded tokenizer (loadTokenizer on .gguf, encode + decode)', { timeout: 120_000 }, async () => {
  assertClean('gguf tokenizer', await runFuzz({ module: target, exportName: 'ggufTokenizerTarget' }));
});

test('fuzz: GGUF model loading (loadModel on .gguf)', { timeout: 120_000 }, async () => {
  assertClean('gguf model', await runFuzz({ module: target, exportName: 'ggufModelTarget' }));
});
