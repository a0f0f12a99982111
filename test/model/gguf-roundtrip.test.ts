/**
 * GGUF files written here, loaded as models:
 * - safetensors → `exportGguf` → model, for a `llama` model with GQA (k permuted per key/value
 *   head), a tied embedding (no output.weight), rope_theta and linear RoPE scaling, and for an
 *   untied `xverse` model: the logits equal the safetensors folder's, loaded in the same storage
 *   type, bit for bit, for every outtype (f32, f16, bf16, q8_0);
 * - a file whose matrices are Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K blocks: the weights are the
 *   blocks dequantized (q/k rows put back in Hugging Face order), whole or read in row ranges, and
 *   the model computes what the same weights stored as F32 compute, also when quantized on load.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { TsBackend } from '../../src/backend/ts/ts-backend.js';
import { exportGguf, type GgufOutType } from '../../src/convert/to-gguf.js';
import { ggmlTypeByName, gv, type GgufValue } from '../../src/formats/gguf.js';
import { ggufTensorName } from '../../src/formats/gguf-names.js';
import { openGgufWeights } from '../../src/model/gguf-weights.js';
import { loadModel, readModelConfig, type LoadModelOptions } from '../../src/model/load.js';
import type { XverseModel } from '../../src/model/xverse.js';
import { dequantizeBlocks, type DequantType } from '../../src/tensor/dequant.js';
import { f32ToF16 } from '../../src/tensor/dtype.js';
import { syntheticTokenizer } from '../../bench/synthetic.js';
import { fixture, tempDir } from '../helpers/fixtures.js';
import { unpermuteRows } from '../helpers/gguf-model.js';
import { writeGgufFile, type GgufTensorData } from '../helpers/gguf-rewrite.js';
import { seededRandom, tinyConfig, writeSyntheticModel } from '../helpers/synthetic-model.js';

const dir = tempDir('xverse-gguf-roundtrip-');
const PROMPT = [2, 17, 250, 5, 99, 260, 31];

function logits(model: XverseModel, ids = PROMPT): number[] {
  const cache = model.createCache();
  const out = Array.from(model.forward(ids, cache));
  return [...out, ...model.forward([7], cache)];
}

function writeFolder(name: string, config: Record<string, unknown>): string {
  const folder = path.join(dir, name);
  writeSyntheticModel(folder, config, { dtype: 'f32' });
  fs.writeFileSync(path.join(folder, 'tokenizer.json'), JSON.stringify(syntheticTokenizer(config['vocab_size'] as number)));
  return folder;
}

/** How the safetensors folder must be loaded to hold what a GGUF of this outtype holds. */
function sameStorage(outtype: GgufOutType): LoadModelOptions {
  if (outtype === 'q8_0') return { quantize: 'q8_0' };
  return { dtype: outtype };
}

const cases: Array<[string, Record<string, unknown>]> = [
  ['llama, GQA, tied, rope_theta, linear scaling', tinyConfig({
    model_type: 'llama', architectures: ['LlamaForCausalLM'], num_key_value_heads: 2, tie_word_embeddings: true,
    rope_theta: 500000, rope_scaling: { type: 'linear', factor: 2 },
  })],
  ['xverse, MHA, untied', tinyConfig()],
];

for (const [label, config] of cases) {
  test(`exportGguf round trip (${label}): same config and bit-identical logits for outtype f32, f16, bf16, q8_0`, () => {
    const folder = writeFolder(label.split(',')[0]!, config);
    const backend = new TsBackend();
    const expectedConfig = readModelConfig(folder);
    for (const outtype of ['f32', 'f16', 'bf16', 'q8_0'] as const) {
      const file = path.join(dir, `${path.basename(folder)}-${outtype}.gguf`);
      exportGguf(folder, file, { outtype });
      const c = readModelConfig(file);
      assert.deepEqual({ ...c, rmsNormEps: 0 }, { ...expectedConfig, rmsNormEps: 0 }, outtype);
      assert.equal(c.rmsNormEps, Math.fround(expectedConfig.rmsNormEps));
      const fromGguf = loadModel(file, { backend, kvCacheType: 'f32' });
      const fromFolder = loadModel(folder, { backend, kvCacheType: 'f32', ...sameStorage(outtype) });
      assert.deepEqual(logits(fromGguf), logits(fromFolder), `${label} ${outtype}`);
    }
    if (config['tie_word_embeddings']) {
      assert.equal(openGgufWeights(path.join(dir, 'llama-f16.gguf')).entry('lm_head.weight'), undefined, 'tied: no output.weight');
    }
  });
}

// ---- a file of the block types that are dequantized on load ----

const KQ = { hidden: 256, ffn: 512, heads: 4, kvHeads: 2, vocab: 300 };
/** Which type each tensor is stored in: every decoded type, on permuted and plain projections. */
const KQ_TYPES: Readonly<Record<string, DequantType | 'q8_0' | 'f32'>> = {
  'token_embd.weight': 'q6_k',
  'blk.0.attn_norm.weight': 'f32',
  'blk.0.attn_q.weight': 'q4_k',
  'blk.0.attn_k.weight': 'q5_k',
  'blk.0.attn_v.weight': 'q5_0',
  'blk.0.attn_output.weight': 'q4_1',
  'blk.0.ffn_norm.weight': 'f32',
  'blk.0.ffn_gate.weight': 'q5_1',
  'blk.0.ffn_up.weight': 'q8_0',
  'blk.0.ffn_down.weight': 'q6_k',
  'output_norm.weight': 'f32',
  'output.weight': 'q4_k',
};
/** Where each block type keeps its f16 scales (byte offsets in the block), so random blocks get sane ones. */
const SCALE_OFFSETS: Readonly<Record<string, readonly number[]>> = {
  q8_0: [0], q4_1: [0, 2], q5_0: [0], q5_1: [0, 2], q4_k: [0, 2], q5_k: [0, 2], q6_k: [208],
};

function kquantMetadata(): Map<string, GgufValue> {
  return new Map<string, GgufValue>([
    ['general.architecture', gv.string('llama')],
    ['llama.block_count', gv.u32(1)],
    ['llama.context_length', gv.u32(128)],
    ['llama.embedding_length', gv.u32(KQ.hidden)],
    ['llama.feed_forward_length', gv.u32(KQ.ffn)],
    ['llama.attention.head_count', gv.u32(KQ.heads)],
    ['llama.attention.head_count_kv', gv.u32(KQ.kvHeads)],
    ['llama.attention.layer_norm_rms_epsilon', gv.f32(1e-5)],
    ['tokenizer.ggml.tokens', gv.strings(Array.from({ length: KQ.vocab }, (_, i) => `t${i}`))],
  ]);
}

/** Row-major shape of each tensor. */
function kquantShape(name: string): number[] {
  const hd = KQ.hidden / KQ.heads;
  if (name.endsWith('norm.weight')) return [KQ.hidden];
  if (name === 'token_embd.weight' || name === 'output.weight') return [KQ.vocab, KQ.hidden];
  if (name.endsWith('attn_k.weight') || name.endsWith('attn_v.weight')) return [KQ.kvHeads * hd, KQ.hidden];
  if (name.endsWith('ffn_gate.weight') || name.endsWith('ffn_up.weight')) return [KQ.ffn, KQ.hidden];
  if (name.endsWith('ffn_down.weight')) return [KQ.hidden, KQ.ffn];
  return [KQ.hidden, KQ.hidden];
}

/** Random blocks with small positive f16 scales (random scale bytes could be inf or NaN). */
function randomTensor(name: string, type: string, rand: () => number): GgufTensorData {
  const shape = kquantShape(name);
  const info = ggmlTypeByName(type)!;
  const values = shape.reduce((a, b) => a * b, 1);
  if (type === 'f32') {
    const data = Float32Array.from({ length: values }, () => 1 + (rand() - 0.5) * 0.2);
    return { type: info, dims: [...shape].reverse(), bytes: new Uint8Array(data.buffer) };
  }
  const blocks = values / info.blockSize;
  const bytes = Uint8Array.from({ length: blocks * info.typeSize }, () => Math.floor(rand() * 256));
  for (let b = 0; b < blocks; b++) {
    for (const off of SCALE_OFFSETS[type]!) {
      const h = f32ToF16((0.5 + rand()) * (type === 'q8_0' ? 4e-4 : 2e-3));
      bytes[b * info.typeSize + off] = h & 0xff;
      bytes[b * info.typeSize + off + 1] = h >> 8;
    }
  }
  return { type: info, dims: [...shape].reverse(), bytes };
}

/** The decoded types as plain F32 (still in GGUF row order); Q8_0 and F32 as they are, since the model takes them as stored. */
function asF32(t: GgufTensorData): GgufTensorData {
  const name = t.type.name.toLowerCase();
  if (name === 'f32' || name === 'q8_0') return t;
  const values = dequantizeBlocks(name as DequantType, t.bytes);
  return { type: ggmlTypeByName('F32')!, dims: t.dims, bytes: new Uint8Array(values.buffer) };
}

test('Q4_1/Q5_0/Q5_1/Q4_K/Q5_K/Q6_K tensors are dequantized on load: weights, row ranges and logits equal the same weights stored as F32', () => {
  const rand = seededRandom(11);
  const blocks = new Map(Object.entries(KQ_TYPES).map(([name, type]) => [name, randomTensor(name, type, rand)]));
  const kquantFile = path.join(dir, 'kquants.gguf');
  const f32File = path.join(dir, 'kquants-as-f32.gguf');
  writeGgufFile(kquantFile, kquantMetadata(), blocks);
  writeGgufFile(f32File, kquantMetadata(), new Map([...blocks].map(([n, t]) => [n, asF32(t)])));

  const source = openGgufWeights(kquantFile);
  try {
    for (const [ggufName, t] of blocks) {
      const hfName = hfNameOf(ggufName);
      assert.equal(ggufTensorName(hfName, 'test'), ggufName);
      assert.equal(source.ggufName(hfName), ggufName);
      const entry = source.entry(hfName)!;
      assert.deepEqual(entry.shape, kquantShape(ggufName), ggufName);
      const stored = t.type.name.toLowerCase();
      assert.equal(entry.dtype, stored === 'q8_0' ? 'Q8_0' : 'F32', ggufName);
      if (stored === 'q8_0' || stored === 'f32') continue;
      // Expected: decode everything, then put q/k rows back (the test helper's own un-permutation).
      let expected = new Uint8Array(dequantizeBlocks(stored as DequantType, t.bytes).buffer);
      const heads = ggufName.includes('attn_q') ? KQ.heads : ggufName.includes('attn_k') ? KQ.kvHeads : 0;
      if (heads) expected = unpermuteRows({ name: ggufName, type: 'f32', shape: kquantShape(ggufName), bytes: expected }, heads);
      const whole = source.read(hfName);
      assert.deepEqual(new Uint8Array(whole.data.buffer, whole.data.byteOffset, whole.data.byteLength), expected, `${ggufName} whole`);
      // A row range that starts and ends inside heads, read into an unaligned buffer.
      const rowBytes = kquantShape(ggufName)[1]! * 4;
      const into = new Uint8Array(1 + 21 * rowBytes).subarray(1);
      const part = source.readRows(hfName, 5, 21, into);
      assert.deepEqual(part.shape, [21, kquantShape(ggufName)[1]]);
      assert.deepEqual(new Uint8Array(part.data.buffer, part.data.byteOffset, part.data.byteLength), expected.subarray(5 * rowBytes, 26 * rowBytes), `${ggufName} rows 5…25`);
    }
  } finally {
    source.close();
  }

  const backend = new TsBackend();
  const ids = [1, 50, 299, 7];
  const kq = loadModel(kquantFile, { backend, kvCacheType: 'f32' });
  const f32 = loadModel(f32File, { backend, kvCacheType: 'f32' });
  assert.deepEqual(logits(kq, ids), logits(f32, ids));
  const kq8 = loadModel(kquantFile, { backend, kvCacheType: 'f32', quantize: 'q8_0' });
  const f32q8 = loadModel(f32File, { backend, kvCacheType: 'f32', quantize: 'q8_0' });
  assert.deepEqual(logits(kq8, ids), logits(f32q8, ids));
});

/** The Hugging Face name of one of the k-quant file's tensors. */
function hfNameOf(ggufName: string): string {
  const names: Record<string, string> = {
    'token_embd.weight': 'model.embed_tokens.weight', 'output_norm.weight': 'model.norm.weight', 'output.weight': 'lm_head.weight',
  };
  if (names[ggufName]) return names[ggufName]!;
  const layer: Record<string, string> = {
    attn_norm: 'input_layernorm', attn_q: 'self_attn.q_proj', attn_k: 'self_attn.k_proj', attn_v: 'self_attn.v_proj',
    attn_output: 'self_attn.o_proj', ffn_norm: 'post_attention_layernorm', ffn_gate: 'mlp.gate_proj', ffn_up: 'mlp.up_proj', ffn_down: 'mlp.down_proj',
  };
  const m = /^blk\.(\d+)\.(\w+)\.weight$/.exec(ggufName)!;
  return `model.layers.${m[1]}.${layer[m[2]!]}.weight`;
}

test('the xverse-tiny f32 GGUF read through the weight source equals the safetensors tensors exactly (names, shapes, un-permuted q/k)', async () => {
  const { SafetensorsFile } = await import('../../src/formats/safetensors.js');
  const { convertTensor } = await import('../../src/tensor/convert.js');
  const st = SafetensorsFile.open(fixture('xverse-tiny/safetensors/model.safetensors'));
  const source = openGgufWeights(fixture('xverse-tiny/gguf/xverse-tiny-f32.gguf'));
  try {
    assert.deepEqual(source.names().sort(), [...st.tensors.keys()].sort());
    for (const name of st.tensors.keys()) {
      const expected = convertTensor(st.read(name), 'f32');
      const actual = source.read(name);
      assert.deepEqual(actual.shape, expected.shape, name);
      assert.deepEqual(actual.data, expected.data, name);
    }
  } finally {
    source.close();
    st.close();
  }
});
