/**
 * Bad GGUF models fail with one-line FormatErrors naming the file and the key or tensor at fault,
 * before any weight is read: variants of the xverse-tiny f32 GGUF with one thing changed. Also
 * the name table and row permutation that import and export share.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { FormatError } from '../../src/errors.js';
import { ggmlTypeByName, gv } from '../../src/formats/gguf.js';
import { ggufRowOfHfRow, ggufTensorName, hfRowOfGgufRow, hfTensorName, permuteHeadRows, unpermuteHeadRows } from '../../src/formats/gguf-names.js';
import { loadModel } from '../../src/model/load.js';
import { fixture, tempDir } from '../helpers/fixtures.js';
import { rewriteGguf, type GgufEdits } from '../helpers/gguf-rewrite.js';

const dir = tempDir('xverse-gguf-errors-');
const F32 = fixture('xverse-tiny/gguf/xverse-tiny-f32.gguf');

function variant(name: string, edits: GgufEdits): string {
  const file = path.join(dir, `${name}.gguf`);
  rewriteGguf(F32, file, edits);
  return file;
}

function assertFormatError(file: string, pattern: RegExp): void {
  assert.throws(() => loadModel(file, { backend: 'typescript' }), (e: unknown) => {
    assert.ok(e instanceof FormatError, `expected a FormatError, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
    assert.ok(e.message.startsWith(`${file}: `), `names the file: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

test('unknown or missing architecture', () => {
  assertFormatError(variant('qwen', { metadata: { 'general.architecture': gv.string('qwen2') } }),
    /general\.architecture "qwen2" is not supported \(supported: xverse, llama\)/);
  assertFormatError(variant('no-arch', { metadata: { 'general.architecture': null } }), /metadata "general\.architecture" is missing/);
});

test('missing tensor, named as in the file', () => {
  assertFormatError(variant('no-ffn-up', { tensors: { 'blk.1.ffn_up.weight': null } }), /missing tensor "blk\.1\.ffn_up\.weight" \(xverse\.block_count is 2\)/);
});

test('metadata that is missing, mistyped, out of range or inconsistent with the tensors', () => {
  assertFormatError(variant('no-blocks', { metadata: { 'xverse.block_count': null } }), /metadata "xverse\.block_count" is missing/);
  assertFormatError(variant('string-width', { metadata: { 'xverse.embedding_length': gv.string('128') } }), /metadata "xverse\.embedding_length" must be an integer, got string/);
  assertFormatError(variant('zero-heads', { metadata: { 'xverse.attention.head_count': gv.u32(0) } }), /"xverse\.attention\.head_count" must be at least 1, got 0/);
  assertFormatError(variant('kv-heads', { metadata: { 'xverse.attention.head_count_kv': gv.u32(3) } }), /xverse\.attention\.head_count_kv/);
  assertFormatError(variant('no-eps', { metadata: { 'xverse.attention.layer_norm_rms_epsilon': null } }), /"xverse\.attention\.layer_norm_rms_epsilon" is missing/);
  assertFormatError(variant('yarn', { metadata: { 'xverse.rope.scaling.type': gv.string('yarn') } }), /xverse\.rope\.scaling\.type "yarn" is not supported/);
  assertFormatError(variant('bos', { metadata: { 'tokenizer.ggml.bos_token_id': gv.u32(9999) } }), /"tokenizer\.ggml\.bos_token_id" = 9999 is outside the vocabulary of 512 tokens/);
  assertFormatError(variant('ffn', { metadata: { 'xverse.feed_forward_length': gv.u32(300) } }),
    /tensor "blk\.0\.ffn_gate\.weight" has GGUF dims \[128, 352\], the metadata \(xverse\.feed_forward_length, xverse\.embedding_length\) implies \[128, 300\]/);
  const tokens = Array.from({ length: 500 }, (_, i) => `t${i}`);
  assertFormatError(variant('vocab', { metadata: { 'tokenizer.ggml.tokens': gv.strings(tokens), 'tokenizer.ggml.token_type': null } }),
    /tensor "token_embd\.weight" has GGUF dims \[128, 512\], the metadata \(the vocabulary size \(tokenizer\.ggml\.tokens\), xverse\.embedding_length\) implies \[128, 500\]/);
  assertFormatError(variant('layout', { metadata: { 'xverse.tensor_data_layout': gv.string('reference') } }), /xverse\.tensor_data_layout "reference" is not supported/);
});

test('unsupported tensor type: names the tensor and lists the supported types', () => {
  // Q8_1 (36-byte blocks of 32) is a real ggml type that xverse-ts neither multiplies nor decodes.
  const q8_1 = ggmlTypeByName('Q8_1')!;
  const file = variant('q8_1', { tensors: { 'blk.0.attn_v.weight': { type: q8_1, dims: [128, 128], bytes: new Uint8Array(128 * 4 * 36) } } });
  assertFormatError(file, /tensor "blk\.0\.attn_v\.weight" has type Q8_1, which is not supported \(supported: F32, F16, Q4_0, Q8_0, BF16; Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K dequantized to F32\)/);
});

test('not a GGUF file at all, or missing', () => {
  const bad = path.join(dir, 'text.gguf');
  fs.writeFileSync(bad, 'hello, world');
  assertFormatError(bad, /not a GGUF file \(magic "hell", expected "GGUF"\)/);
  assertFormatError(path.join(dir, 'missing.gguf'), /no such file/);
});

test('name table: every HF weight name maps to GGUF and back; unknown GGUF names map to null', () => {
  const hf = ['model.embed_tokens.weight', 'model.norm.weight', 'lm_head.weight',
    ...['input_layernorm', 'self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj',
      'post_attention_layernorm', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'].map((s) => `model.layers.13.${s}.weight`)];
  for (const name of hf) assert.equal(hfTensorName(ggufTensorName(name, 'test')!), name);
  assert.equal(ggufTensorName('model.layers.13.self_attn.k_proj.weight', 'test'), 'blk.13.attn_k.weight');
  assert.equal(hfTensorName('rope_freqs.weight'), null);
  assert.equal(hfTensorName('blk.0.attn_qkv.weight'), null);
});

test('row permutation: llama.cpp\'s reshape(n_head, 2, d/2, cols).swapaxes(1, 2) and its inverse', () => {
  // Two heads of 6 rows: HF rows (0 1 2 | 3 4 5) are the rotate_half pairs (0,3) (1,4) (2,5), which
  // llama.cpp stores adjacent: GGUF order 0 3 1 4 2 5 within each head.
  const hf = Uint8Array.from({ length: 12 }, (_, i) => i);
  const gguf = permuteHeadRows(hf, 1, 6);
  assert.deepEqual(Array.from(gguf), [0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11]);
  assert.deepEqual(Array.from(unpermuteHeadRows(gguf, 1, 6)), Array.from(hf));
  for (let r = 0; r < 12; r++) assert.equal(hfRowOfGgufRow(ggufRowOfHfRow(r, 6), 6), r);
  // Rows of several bytes move whole.
  const wide = Uint8Array.from({ length: 24 }, (_, i) => i);
  assert.deepEqual(Array.from(unpermuteHeadRows(permuteHeadRows(wide, 3, 4), 3, 4)), Array.from(wide));
});
