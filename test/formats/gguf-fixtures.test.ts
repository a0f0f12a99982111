import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GgufFile, GGUF_TOKEN_TYPE } from '../../src/formats/gguf.js';
import { SafetensorsFile } from '../../src/formats/safetensors.js';
import { toF32 } from '../../src/tensor/dtype.js';
import { fixture } from '../helpers/fixtures.js';

/** Reads the GGUF files llama.cpp's own tools wrote (xverse-tiny/gguf) and checks what its README documents. */

const gguf = (type: string) => fixture(`xverse-tiny/gguf/xverse-tiny-${type}.gguf`);

test('xverse-tiny GGUF metadata: architecture, hyperparameters and the tokenizer as documented', () => {
  for (const type of ['f32', 'q8_0', 'q4_0']) {
    const g = GgufFile.open(gguf(type));
    const m = g.metadata;
    assert.equal(g.version, 3);
    assert.equal(g.alignment, 32);
    assert.equal(m.entries.size, 25);
    assert.equal(m.string('general.architecture'), 'xverse');
    assert.equal(m.string('general.name'), 'xverse-tiny');
    assert.equal(m.string('xverse.tensor_data_layout'), 'Meta AI original pth');
    assert.equal(m.integer('xverse.context_length'), 2048);
    assert.equal(m.integer('xverse.embedding_length'), 128);
    assert.equal(m.integer('xverse.block_count'), 2);
    assert.equal(m.integer('xverse.feed_forward_length'), 352);
    assert.equal(m.integer('xverse.rope.dimension_count'), 32);
    assert.equal(m.integer('xverse.attention.head_count'), 4);
    assert.equal(m.integer('xverse.attention.head_count_kv'), 4);
    assert.equal(m.number('xverse.attention.layer_norm_rms_epsilon'), Math.fround(1e-6));
    assert.equal(m.has('xverse.rope.freq_base'), false);
    assert.equal(m.integer('general.file_type'), { f32: 0, q8_0: 7, q4_0: 2 }[type]);
    assert.equal(m.string('tokenizer.ggml.model'), 'llama');
    assert.equal(m.string('tokenizer.ggml.pre'), 'default');
    const tokens = m.strings('tokenizer.ggml.tokens')!;
    const types = m.numbers('tokenizer.ggml.token_type')!;
    assert.equal(tokens.length, 512);
    assert.deepEqual(tokens.slice(0, 5), ['<unk>', '<pad>', '<|startoftext|>', '<|endoftext|>', '<0x00>']);
    assert.deepEqual([tokens[260], tokens[382], tokens[510], tokens[511]], ['▁', '▁hello', '<|startofthink|>', '<|endofthink|>']);
    types.forEach((t, id) => {
      const expected = id <= 3 || id >= 510 ? GGUF_TOKEN_TYPE.control : id <= 259 ? GGUF_TOKEN_TYPE.byte : GGUF_TOKEN_TYPE.normal;
      assert.equal(t, expected, `token ${id} type`);
    });
    assert.equal(m.integer('tokenizer.ggml.bos_token_id'), 2);
    assert.equal(m.integer('tokenizer.ggml.eos_token_id'), 3);
    assert.equal(m.integer('tokenizer.ggml.unknown_token_id'), 0);
    assert.equal(m.integer('tokenizer.ggml.padding_token_id'), 1);
    assert.equal(m.bool('tokenizer.ggml.add_bos_token'), false);
    assert.equal(m.bool('tokenizer.ggml.add_eos_token'), false);
    assert.equal(m.has('tokenizer.ggml.scores'), false);
    assert.equal(m.has('tokenizer.ggml.merges'), false);
    g.close();
  }
});

test('xverse-tiny GGUF tensor infos: names, types, [in, out] dims, aligned offsets inside the file', () => {
  const expectedType = (type: string, name: string) =>
    name.endsWith('norm.weight') ? 'F32' : type === 'f32' ? 'F32' : type === 'q4_0' && name === 'output.weight' ? 'Q8_0' : type.toUpperCase();
  for (const type of ['f32', 'q8_0', 'q4_0']) {
    const g = GgufFile.open(gguf(type));
    assert.equal(g.tensors.size, 21);
    const names = ['token_embd.weight', 'output_norm.weight', 'output.weight'];
    for (const l of [0, 1]) {
      for (const n of ['attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down']) names.push(`blk.${l}.${n}.weight`);
    }
    assert.deepEqual([...g.tensors.keys()].sort(), names.sort());
    for (const info of g.tensors.values()) {
      assert.equal(info.type.name, expectedType(type, info.name), `${type} ${info.name}`);
      assert.equal(info.offset % 32, 0);
      assert.equal(info.offset >= g.dataOffset, true);
    }
    assert.deepEqual(g.tensorInfo('token_embd.weight').dims, [128, 512]);
    assert.deepEqual(g.tensorInfo('output.weight').dims, [128, 512]);
    assert.deepEqual(g.tensorInfo('blk.0.ffn_down.weight').dims, [352, 128]);
    assert.deepEqual(g.tensorInfo('blk.1.ffn_up.weight').dims, [128, 352]);
    assert.deepEqual(g.tensorInfo('blk.1.ffn_up.weight').shape, [352, 128]);
    assert.deepEqual(g.tensorInfo('output_norm.weight').dims, [128]);
    g.close();
  }
});

test('xverse-tiny f32 GGUF holds the safetensors weights, with q/k rows in llama.cpp\'s interleaved order', () => {
  const g = GgufFile.open(gguf('f32'));
  const st = SafetensorsFile.open(fixture('xverse-tiny/safetensors/model.safetensors'));
  const hf = (name: string) => {
    const t = st.read(name);
    return toF32('bf16', t.data as Uint16Array);
  };
  assert.deepEqual(g.readTensor('token_embd.weight').data, hf('model.embed_tokens.weight'));
  assert.deepEqual(g.readTensor('output_norm.weight').data, hf('model.norm.weight'));
  assert.deepEqual(g.readTensor('blk.1.ffn_down.weight').data, hf('model.layers.1.mlp.down_proj.weight'));
  for (const [gg, h] of [['attn_q', 'q_proj'], ['attn_k', 'k_proj']]) {
    const ours = g.readTensor(`blk.0.${gg}.weight`).data as Float32Array;
    const theirs = hf(`model.layers.0.self_attn.${h}.weight`);
    // 4 heads of 32 rows: GGUF row h·32 + 2i + j is HF row h·32 + j·16 + i.
    for (let head = 0; head < 4; head++) {
      for (let i = 0; i < 16; i++) {
        for (let j = 0; j < 2; j++) {
          const a = ours.subarray((head * 32 + 2 * i + j) * 128, (head * 32 + 2 * i + j + 1) * 128);
          const b = theirs.subarray((head * 32 + j * 16 + i) * 128, (head * 32 + j * 16 + i + 1) * 128);
          assert.deepEqual(a, b);
        }
      }
    }
  }
  // v is not permuted.
  assert.deepEqual(g.readTensor('blk.0.attn_v.weight').data, hf('model.layers.0.self_attn.v_proj.weight'));
  st.close();
  g.close();
});
