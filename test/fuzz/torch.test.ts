import { test } from 'node:test';
import { assertClean, runFuzz } from '../helpers/fuzz.js';

const target = new URL('./targets/torch.js', import.meta.url);

test('fuzz: PyTorch .bin zip structure (end records, central directory, local headers)', { timeout: 120_000 }, async () => {
  assertClean('torch zip', await runFuzz({ module: target, exportName: 'torchZipTarget' }));
});

test('fuzz: PyTorch .bin data.pkl (mutated pickle in a valid zip)', { timeout: 120_000 }, async () => {
  assertClean('torch pickle', await runFuzz({ module: target, exportName: 'torchPickleTarget' }));
});
