import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { TsBackend } from '../../src/backend/ts/ts-backend.js';
import { exportSafetensors } from '../../src/convert/to-safetensors.js';
import { GgufFile } from '../../src/formats/gguf.js';
import { SafetensorsFile } from '../../src/formats/safetensors.js';
import { loadModel, readModelConfig } from '../../src/model/load.js';
import type { XverseModel } from '../../src/model/xverse.js';
import { loadTokenizer } from '../../src/tokenizer/load.js';
import { runCli } from '../helpers/cli.js';
import { fixture } from '../helpers/fixtures.js';

const GGUF_F32 = fixture('xverse-tiny/gguf/xverse-tiny-f32.gguf');
const BIN = fixture('xverse-tiny/bin-sharded');
const ST = fixture('xverse-tiny/safetensors');
const IDS = [2, 10, 200, 31, 400, 7, 99, 3];

function logits(model: XverseModel): Float32Array {
  return model.forward(IDS, model.createCache(), { allLogits: true }).slice();
}
const load = (p: string, quantize?: 'q8_0' | 'q4_0') =>
  loadModel(p, { backend: new TsBackend(), kvCacheType: 'f32', ...(quantize ? { quantize } : {}) });

function withTmp(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xverse-conv-'));
  return Promise.resolve(fn(path.join(dir, 'out'))).finally(() => fs.rmSync(dir, { recursive: true, force: true }));
}

test('GGUF → safetensors folder: same logits as the GGUF, config.json read back to the same config, tokenizer kept as tokenizer.gguf', () =>
  withTmp((out) => {
    const files = exportSafetensors(GGUF_F32, out, { backend: new TsBackend() });
    assert.deepEqual([...files].sort(), ['config.json', 'model.safetensors', 'tokenizer.gguf']);
    assert.deepEqual(logits(load(out)), logits(load(GGUF_F32)));
    const a = readModelConfig(out), b = readModelConfig(GGUF_F32);
    assert.deepEqual({ ...a, rmsNormEps: 0 }, { ...b, rmsNormEps: 0 });
    assert.equal(a.rmsNormEps, b.rmsNormEps);
    const text = 'hello world, 你好';
    assert.deepEqual(loadTokenizer(out).encode(text), loadTokenizer(GGUF_F32).encode(text));
  }));

test('PyTorch .bin → q4_0 safetensors, streamed: equal to quantizing the .bin on load, blocks stored as U8 with their metadata', () =>
  withTmp((out) => {
    exportSafetensors(BIN, out, { quantize: 'q4_0', backend: new TsBackend() });
    assert.deepEqual(logits(load(out)), logits(load(BIN, 'q4_0')));
    const st = SafetensorsFile.open(path.join(out, 'model.safetensors'));
    try {
      assert.equal(st.tensors.get('model.layers.0.mlp.up_proj.weight')!.dtype, 'Q4_0');
      assert.equal(st.tensors.get('lm_head.weight')!.dtype, 'Q8_0');
      assert.equal(st.tensors.get('model.norm.weight')!.dtype, 'BF16', 'norms keep their stored type without --dtype');
    } finally {
      st.close();
    }
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    assert.equal(config.quantization_config.weight_type, 'q4_0');
    assert.ok(fs.existsSync(path.join(out, 'tokenizer.json')), 'side files copied');
  }));

test('safetensors → f32 safetensors: values widened exactly (same logits as loading with dtype f32)', () =>
  withTmp((out) => {
    exportSafetensors(ST, out, { dtype: 'f32', backend: new TsBackend() });
    const st = SafetensorsFile.open(path.join(out, 'model.safetensors'));
    try {
      assert.ok([...st.tensors.values()].every((e) => e.dtype === 'F32'));
    } finally {
      st.close();
    }
    assert.deepEqual(logits(load(out)), logits(loadModel(ST, { backend: new TsBackend(), kvCacheType: 'f32', dtype: 'f32' })));
  }));

test('CLI: convert GGUF --to safetensors --quantize q8_0 runs like the GGUF quantized on load; GGUF --to gguf --quantize gives llama-quantize\'s bytes', () =>
  withTmp(async (out) => {
    const conv = await runCli(['convert', GGUF_F32, out, '--to', 'safetensors', '--quantize', 'q8_0', '--backend', 'typescript']);
    assert.equal(conv.code, 0, conv.stderr);
    const args = ['--greedy', '-n', '8', '--prompt-ids', IDS.join(','), '--backend', 'typescript', '--kv-cache', 'f32', '--json'];
    const a = await runCli(['generate', '-m', out, ...args]);
    const b = await runCli(['generate', '-m', GGUF_F32, '--quantize', 'q8_0', ...args]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(JSON.parse(a.stdout).ids.join(','), JSON.parse(b.stdout).ids.join(','));
    for (const q of ['q8_0', 'q4_0'] as const) {
      const file = `${out}-${q}.gguf`;
      const r = await runCli(['convert', GGUF_F32, file, '--to', 'gguf', '--quantize', q]);
      assert.equal(r.code, 0, r.stderr);
      // llama-quantize made the fixture's file from the same f32 GGUF: every tensor's bytes agree.
      const ours = GgufFile.open(file), theirs = GgufFile.open(fixture(`xverse-tiny/gguf/xverse-tiny-${q}.gguf`));
      try {
        assert.deepEqual([...ours.tensors.keys()].sort(), [...theirs.tensors.keys()].sort());
        for (const name of theirs.tensors.keys()) {
          assert.equal(ours.tensors.get(name)!.type.name, theirs.tensors.get(name)!.type.name, name);
          assert.ok(Buffer.from(ours.readTensorBytes(name)).equals(Buffer.from(theirs.readTensorBytes(name))), `${q} ${name} bytes`);
        }
        assert.equal(ours.metadata.strings('tokenizer.ggml.tokens')!.length, theirs.metadata.strings('tokenizer.ggml.tokens')!.length);
      } finally {
        ours.close();
        theirs.close();
      }
    }
  }));
