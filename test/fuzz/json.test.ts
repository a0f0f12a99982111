import { test } from 'node:test';
import { assertClean, runFuzz } from '../helpers/fuzz.js';

const target = new URL('./targets/json.js', import.meta.url);

test('fuzz: tokenizer.json + tokenizer_config.json (loadTokenizer, encode, decode)', { timeout: 120_000 }, async () => {
  assertClean('tokenizer.json', await runFuzz({ module: target, exportName: 'tokenizerJsonTarget' }));
});

test('fuzz: config.json (parseModelConfig)', { timeout: 120_000 }, async () => {
  assertClean('config.json', await runFuzz({ module: target, exportName: 'modelConfigTarget' }));
});

test('fuzz: generation_config.json (parseGenerationConfig)', { timeout: 120_000 }, async () => {
  assertClean('generation_config.json', await runFuzz({ module: target, exportName: 'generationConfigTarget' }));
});
