import { test } from 'node:test';
import { assertClean, runFuzz } from '../helpers/fuzz.js';

const target = new URL('./targets/safetensors.js', import.meta.url);

test('fuzz: safetensors files (header length, header JSON, quantized metadata, data)', { timeout: 120_000 }, async () => {
  assertClean('safetensors', await runFuzz({ module: target, exportName: 'safetensorsTarget' }));
});

test('fuzz: safetensors and torch shard index JSON', { timeout: 120_000 }, async () => {
  assertClean('checkpoint index', await runFuzz({ module: target, exportName: 'checkpointIndexTarget' }));
});
