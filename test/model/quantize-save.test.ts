import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { AutoModelForCausalLM, AutoTokenizer } from '../../src/api/pretrained.js';
import type { Backend } from '../../src/backend/backend.js';
import { TsBackend } from '../../src/backend/ts/ts-backend.js';
import { FormatError } from '../../src/errors.js';
import { SafetensorsFile } from '../../src/formats/safetensors.js';
import { matrixTypes } from '../../src/model/quantize.js';
import type { XverseModel } from '../../src/model/xverse.js';
import { runCli } from '../helpers/cli.js';
import { fixture, REPO_ROOT } from '../helpers/fixtures.js';
import { nativeBackend, skipNative } from '../helpers/native.js';

const STORIES = path.join(REPO_ROOT, 'models/stories260K');
const TINY = fixture('xverse-tiny/safetensors');
const PROMPT = [1, 403, 407, 261, 378, 300, 412, 261];

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'xverse-quant-'));
}

function logits(model: XverseModel, ids = PROMPT): Float32Array {
  return model.forward(ids, model.createCache(), { allLogits: true }).slice();
}

const backends: Array<[string, () => Backend, string | false]> = [
  ['typescript', () => new TsBackend(), false],
  ['native', () => nativeBackend(), skipNative],
];

for (const [name, make, skip] of backends) {
  for (const [dir, label] of [[STORIES, 'stories260K'], [TINY, 'xverse-tiny']] as const) {
    test(`${name}: model.quantize(8 | 4) in memory equals quantize-on-load bit for bit (${label})`, { skip }, async () => {
      for (const [bits, mode] of [[8, 'q8_0'], [4, 'q4_0']] as const) {
        const backend = make();
        const inMemory = (await AutoModelForCausalLM.fromPretrained(dir, { backend, kvCacheType: 'f32' })).quantize(bits);
        const onLoad = await AutoModelForCausalLM.fromPretrained(dir, { backend, kvCacheType: 'f32', quantize: mode });
        assert.deepEqual(matrixTypes(inMemory.model.weights, backend), matrixTypes(onLoad.model.weights, backend));
        assert.ok((matrixTypes(inMemory.model.weights, backend)[mode] ?? 0) > 0, `some matrices are ${mode}`);
        const ids = label === 'stories260K' ? PROMPT : PROMPT.map((id) => id % inMemory.config.vocabSize);
        assert.deepEqual(logits(inMemory.model, ids), logits(onLoad.model, ids));
      }
    });
  }
}

test('quantize() keeps a tied head tied, is idempotent, and refuses other bit widths', async () => {
  const model = await AutoModelForCausalLM.fromPretrained(STORIES, { backend: 'typescript' });
  model.quantize(8);
  const w = model.model.weights;
  assert.equal(w.lmHead, w.embed, 'tied head still shares the embedding');
  const before = w.layers[0]!.q;
  model.quantize('q8_0');
  assert.equal(model.model.weights.layers[0]!.q, before, 'already q8_0: nothing redone');
  assert.throws(() => model.quantize(3 as 8), /quantize\(bits\) takes 8 or 4, got 3/);
  assert.throws(() => model.quantize('q5_0' as 'q8_0'), /quantize must be 8, 4, "q8_0" or "q4_0"/);
});

test('savePretrained writes a quantized folder that reloads without re-quantizing, with identical logits', async () => {
  const out = tmpDir();
  try {
    const model = (await AutoModelForCausalLM.fromPretrained(TINY, { backend: 'typescript', kvCacheType: 'f32' })).quantize(4);
    const files = model.savePretrained(out);
    assert.ok(files.includes('model.safetensors') && files.includes('config.json') && files.includes('tokenizer.json'), files.join(','));
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    assert.equal(config.quantization_config.weight_type, 'q4_0');
    assert.equal(config.quantization_config.block_size, 32);
    const st = SafetensorsFile.open(path.join(out, 'model.safetensors'));
    assert.equal(st.tensors.get('model.layers.0.mlp.up_proj.weight')!.dtype, 'Q4_0');
    assert.equal(st.tensors.get('lm_head.weight')!.dtype, 'Q8_0', 'q4_0 keeps the head at q8_0');
    assert.equal(st.tensors.get('model.norm.weight')!.dtype, 'F32');
    st.close();

    // A backend that cannot quantize proves the reload reads the blocks as they are.
    const noQuantize = new TsBackend();
    noQuantize.quantize = () => { throw new Error('re-quantized on reload'); };
    const reloaded = await AutoModelForCausalLM.fromPretrained(out, { backend: noQuantize, kvCacheType: 'f32' });
    const ids = PROMPT.map((id) => id % model.config.vocabSize);
    assert.deepEqual(logits(reloaded.model, ids), logits(model.model, ids));
    const tokenizer = await AutoTokenizer.fromPretrained(out);
    assert.deepEqual(tokenizer.encode('hello world'), (await AutoTokenizer.fromPretrained(TINY)).encode('hello world'));
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('savePretrained shards past maxShardBytes with an index, and replaces a previous save', async () => {
  const out = tmpDir();
  try {
    const model = (await AutoModelForCausalLM.fromPretrained(STORIES, { backend: 'typescript' })).quantize(8);
    model.savePretrained(out, { maxShardBytes: 100_000 });
    const shards = fs.readdirSync(out).filter((f) => f.endsWith('.safetensors'));
    assert.ok(shards.length > 1 && fs.existsSync(path.join(out, 'model.safetensors.index.json')), shards.join(','));
    const reloaded = await AutoModelForCausalLM.fromPretrained(out, { backend: 'typescript' });
    assert.deepEqual(logits(reloaded.model), logits(model.model));
    // Saving again unsharded leaves no stale shards or index behind.
    model.savePretrained(out);
    assert.deepEqual(fs.readdirSync(out).filter((f) => f.includes('safetensors')), ['model.safetensors']);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('savePretrained refuses the folder the model came from', async () => {
  const model = await AutoModelForCausalLM.fromPretrained(STORIES, { backend: 'typescript' });
  assert.throws(() => model.savePretrained(STORIES), (e: unknown) => e instanceof FormatError && /the folder the model was loaded from/.test(e.message));
});

test('CLI: convert --to safetensors --quantize q4_0, then generate from it = generate --quantize q4_0', async () => {
  const out = tmpDir();
  try {
    const conv = await runCli(['convert', STORIES, out, '--to', 'safetensors', '--quantize', 'q4_0']);
    assert.equal(conv.code, 0, conv.stderr);
    assert.match(conv.stdout, /safetensors model folder/);
    const args = ['--greedy', '-n', '24', 'Once upon a time'];
    const fromSaved = await runCli(['generate', '-m', out, ...args]);
    const onLoad = await runCli(['generate', '--quantize', 'q4_0', ...args]);
    assert.equal(fromSaved.code, 0, fromSaved.stderr);
    assert.equal(onLoad.code, 0, onLoad.stderr);
    assert.equal(fromSaved.stdout, onLoad.stdout);
    assert.ok(fromSaved.stdout.length > 40, fromSaved.stdout);
    const bad = await runCli(['generate', '--quantize', 'q5_0', ...args]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--quantize <type>' argument 'q5_0' is invalid/);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
