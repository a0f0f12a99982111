import { test } from 'node:test';
import { assertClean, runFuzz } from '../helpers/fuzz.js';

const target = new URL('./targets/llama2c.js', import.meta.url);

test('fuzz: llama2.c tokenizer.bin (load, encode, decode)', { timeout: 120_000 }, async () => {
  assertClean('llama2.c tokenizer', await runFuzz({ module: target, exportName: 'llama2cTokenizerTarget' }));
});

test('fuzz: llama2.c checkpoint (header fields, truncation)', { timeout: 120_000 }, async () => {
  assertClean('llama2.c checkpoint', await runFuzz({ module: target, exportName: 'llama2cCheckpointTarget' }));
});
