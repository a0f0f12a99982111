import { test } from 'node:test';
import { assertClean, runFuzz } from '../helpers/fuzz.js';

const target = new URL('./targets/gguf.js', import.meta.url);

test('fuzz: GGUF header, metadata, tensor infos and tensor data', { timeout: 120_000 }, async () => {
  assertClean('gguf', await runFuzz({ module: target, exportName: 'ggufFileTarget' }));
});
