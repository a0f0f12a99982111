import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { exportGguf } from '../../src/convert/to-gguf.js';
import { ggufTensorName } from '../../src/convert/gguf-names.js';
import { readGgufVocab, vocabMetadata } from '../../src/convert/gguf-vocab.js';
import { FormatError } from '../../src/errors.js';
import { GgufFile, GGUF_TOKEN_TYPE, type GgufValue } from '../../src/formats/gguf.js';
import { f32ToBf16, f32ToF16 } from '../../src/tensor/dtype.js';
import { syntheticTokenizer } from '../../bench/synthetic.js';
import { runCli } from '../helpers/cli.js';
import { fixture, tempDir } from '../helpers/fixtures.js';
import { tinyConfig, writeSyntheticModel } from '../helpers/synthetic-model.js';

/**
 * GGUF export checked against llama.cpp's own output for the same checkpoint: the xverse-tiny
 * fixture's GGUFs were written by convert_hf_to_gguf.py (f32) and llama-quantize (q8_0, q4_0).
 */

const dir = tempDir('xverse-gguf-export-');
const SAFETENSORS = fixture('xverse-tiny/safetensors');
const reference = (type: string) => fixture(`xverse-tiny/gguf/xverse-tiny-${type}.gguf`);
const out = (name: string) => path.join(dir, name);

/** Metadata as a key-sorted list, so two files can be compared whatever their key order. */
function sortedMetadata(g: GgufFile): Array<[string, GgufValue]> {
  return [...g.metadata.entries].sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/** Which tensors (and their first differing block) differ between two files, for a readable failure. */
function tensorDifferences(ours: GgufFile, theirs: GgufFile): string[] {
  const diffs: string[] = [];
  for (const [name, info] of theirs.tensors) {
    const mine = ours.tensors.get(name);
    if (!mine) { diffs.push(`${name}: missing`); continue; }
    if (mine.type.name !== info.type.name || mine.dims.join() !== info.dims.join()) {
      diffs.push(`${name}: ${mine.type.name} [${mine.dims}] vs ${info.type.name} [${info.dims}]`);
      continue;
    }
    const a = ours.readTensorBytes(name);
    const b = theirs.readTensorBytes(name);
    const at = a.findIndex((x, i) => x !== b[i]);
    if (at >= 0) diffs.push(`${name}: first difference in block ${Math.floor(at / info.type.typeSize)} (byte ${at})`);
  }
  for (const name of ours.tensors.keys()) if (!theirs.tensors.has(name)) diffs.push(`${name}: extra`);
  return diffs;
}

test('f32 export reproduces llama.cpp\'s converter output byte for byte (metadata, tensor order, q/k permutation, padding)', () => {
  const file = out('tiny-f32.gguf');
  const result = exportGguf(SAFETENSORS, file, { outtype: 'f32', name: 'xverse-tiny' });
  assert.equal(result.architecture, 'xverse');
  assert.equal(result.fileType, 0);
  const ours = GgufFile.open(file);
  const theirs = GgufFile.open(reference('f32'));
  // Structured comparisons first, for a readable failure; then the whole file.
  assert.deepEqual([...ours.metadata.entries], [...theirs.metadata.entries]);
  assert.deepEqual([...ours.tensors.keys()], [...theirs.tensors.keys()]);
  assert.deepEqual(tensorDifferences(ours, theirs), []);
  assert.equal(ours.dataOffset, theirs.dataOffset);
  assert.ok(Buffer.from(fs.readFileSync(file)).equals(fs.readFileSync(reference('f32'))), 'files are byte-identical');
  ours.close();
  theirs.close();
});

for (const quant of ['q8_0', 'q4_0'] as const) {
  test(`--quantize ${quant}: same metadata and tensor bytes as llama-quantize's ${quant} file`, () => {
    const file = out(`tiny-${quant}.gguf`);
    exportGguf(SAFETENSORS, file, { quantize: quant, name: 'xverse-tiny' });
    const ours = GgufFile.open(file);
    const theirs = GgufFile.open(reference(quant));
    // llama-quantize moves general.file_type to the end and writes tensors in its own order; the
    // key/value pairs and every tensor's type, dims and bytes are the same.
    assert.deepEqual(sortedMetadata(ours), sortedMetadata(theirs));
    assert.deepEqual(tensorDifferences(ours, theirs), []);
    assert.equal(ours.tensorInfo('output.weight').type.name, 'Q8_0');
    assert.equal(ours.tensorInfo('blk.0.attn_norm.weight').type.name, 'F32');
    assert.equal(fs.statSync(file).size, fs.statSync(reference(quant)).size);
    ours.close();
    theirs.close();
  });
}

test('default export is the converter\'s f16 (norms f32), --outtype bf16 gives bf16; values match the f32 reference', () => {
  const theirs = GgufFile.open(reference('f32'));
  for (const [outtype, fileType, narrow] of [[undefined, 1, f32ToF16], ['bf16', 32, f32ToBf16]] as const) {
    const file = out(`tiny-${outtype ?? 'default'}.gguf`);
    exportGguf(SAFETENSORS, file, outtype ? { outtype, name: 'xverse-tiny' } : { name: 'xverse-tiny' });
    const ours = GgufFile.open(file);
    assert.equal(ours.metadata.integer('general.file_type'), fileType);
    for (const [name, info] of ours.tensors) {
      const ref = theirs.readTensor(name).data as Float32Array;
      if (info.dims.length === 1) {
        assert.equal(info.type.name, 'F32');
        assert.deepEqual(ours.readTensor(name).data, ref);
      } else {
        assert.equal(info.type.name, outtype === 'bf16' ? 'BF16' : 'F16');
        assert.deepEqual(ours.readTensor(name).data, Uint16Array.from(ref, (v) => narrow(v)), name);
      }
    }
    ours.close();
  }
  theirs.close();
});

test('xverse convert CLI: writes the file, reports it on stdout, one-line errors', async () => {
  const file = out('cli.gguf');
  const ok = await runCli(['convert', SAFETENSORS, file, '--to', 'gguf', '--quantize', 'q8_0', '--name', 'xverse-tiny']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /cli\.gguf: GGUF xverse, 21 tensors \(q8_0\/f32\)/);
  const g = GgufFile.open(file);
  assert.deepEqual(tensorDifferences(g, GgufFile.open(reference('q8_0'))), []);
  g.close();
  const missing = await runCli(['convert', path.join(dir, 'nope'), file, '--to', 'gguf']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^xverse: FormatError: .*nope: no such file or folder\n$/);
  const noTo = await runCli(['convert', SAFETENSORS, file]);
  assert.notEqual(noTo.code, 0);
  assert.match(noTo.stderr, /--to/);
  const conflict = await runCli(['convert', SAFETENSORS, file, '--to', 'gguf', '--outtype', 'q8_0', '--quantize', 'q4_0']);
  assert.equal(conflict.code, 1);
  assert.match(conflict.stderr, /conflicts with --quantize q4_0/);
});

test('rows that are not whole 32-value blocks stay in the float type; tied XVERSE heads get an output.weight', () => {
  const model = out('odd');
  // hidden 48: q/k/v/o, gate and up rows have 48 values (not quantizable); down rows have 96.
  writeSyntheticModel(model, tinyConfig({ hidden_size: 48, intermediate_size: 96, num_attention_heads: 4, tie_word_embeddings: true }), { dtype: 'bf16' });
  fs.writeFileSync(path.join(model, 'tokenizer.json'), JSON.stringify(syntheticTokenizer(300)));
  const file = out('odd.gguf');
  const warnings: string[] = [];
  const result = exportGguf(model, file, { quantize: 'q4_0', onWarning: (w) => warnings.push(w) });
  assert.deepEqual(warnings, []);
  const g = GgufFile.open(file);
  assert.equal(g.metadata.string('general.name'), 'odd');
  assert.equal(g.tensorInfo('blk.0.attn_q.weight').type.name, 'F16');
  assert.equal(g.tensorInfo('blk.0.ffn_gate.weight').type.name, 'F16');
  assert.equal(g.tensorInfo('blk.0.ffn_down.weight').type.name, 'Q4_0');
  assert.equal(g.tensorInfo('token_embd.weight').type.name, 'F16');
  // llama.cpp's xverse graph needs output.weight: the tied embedding is written under that name too.
  assert.deepEqual(g.readTensorBytes('output.weight'), g.readTensorBytes('token_embd.weight'));
  assert.equal(result.tensors.length, 2 + 2 * 9 + 1);
  g.close();
});

test('llama models get llama metadata, no output.weight when tied, and shards are read in the converter\'s order', () => {
  const model = out('llama');
  const config = tinyConfig({ model_type: 'llama', architectures: ['LlamaForCausalLM'], num_key_value_heads: 2, rope_theta: 500000, tie_word_embeddings: true });
  writeSyntheticModel(model, config, { dtype: 'f16', maxShardBytes: 20000 });
  fs.writeFileSync(path.join(model, 'tokenizer.json'), JSON.stringify(syntheticTokenizer(300)));
  const file = out('llama.gguf');
  exportGguf(model, file, { outtype: 'f32' });
  const g = GgufFile.open(file);
  const m = g.metadata;
  assert.equal(m.string('general.architecture'), 'llama');
  assert.equal(m.integer('llama.vocab_size'), 300);
  assert.equal(m.integer('llama.attention.head_count_kv'), 2);
  assert.equal(m.number('llama.rope.freq_base'), 500000);
  assert.equal(m.integer('llama.rope.dimension_count'), 16);
  assert.equal(m.has('llama.tensor_data_layout'), false);
  assert.equal(g.tensors.has('output.weight'), false);
  assert.deepEqual(g.tensorInfo('blk.0.attn_k.weight').dims, [64, 32]);
  // Shard files in name order, tensors sorted by name within each.
  const index = JSON.parse(fs.readFileSync(path.join(model, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
  const shards = Object.values(index.weight_map);
  assert.ok(new Set(shards).size > 1, 'the model is sharded');
  const expected = Object.keys(index.weight_map).sort((a, b) => {
    const [fa, fb] = [index.weight_map[a]!, index.weight_map[b]!];
    return fa !== fb ? (fa < fb ? -1 : 1) : a < b ? -1 : 1;
  });
  assert.deepEqual([...g.tensors.keys()], expected.map((n) => ggufTensorName(n, 'index')));
  g.close();
});

test('vocabulary rules: NUL and <0xNN> are BYTE, added tokens CONTROL or USER_DEFINED, holes UNUSED, special ids and flags', () => {
  const model = out('vocab');
  fs.mkdirSync(model, { recursive: true });
  fs.writeFileSync(path.join(model, 'tokenizer.json'), JSON.stringify({
    model: { type: 'BPE', vocab: { '<s>': 0, '</s>': 1, '\u0000': 2, '<0x41>': 3, 'a': 4, '<user>': 5 } },
    added_tokens: [
      { id: 0, content: '<s>', special: true }, { id: 1, content: '</s>', special: true },
      { id: 5, content: '<user>', special: false }, { id: 7, content: '<tool>', special: true },
    ],
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [] },
  }));
  fs.writeFileSync(path.join(model, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: { content: '</s>' }, add_eos_token: true, chat_template: '{{ x }}' }));
  const v = readGgufVocab(model, 8, { pad_token_id: 4, bos_token_id: 6, unk_token_id: 99 });
  assert.deepEqual(v.tokens, ['<s>', '</s>', "<b'\\x00'>", '<0x41>', 'a', '<user>', '[PAD6]', '<tool>']);
  const T = GGUF_TOKEN_TYPE;
  assert.deepEqual(v.tokenTypes, [T.control, T.control, T.byte, T.byte, T.normal, T.userDefined, T.unused, T.control]);
  const meta = new Map(vocabMetadata(v));
  assert.deepEqual([...meta.keys()], [
    'tokenizer.ggml.model', 'tokenizer.ggml.pre', 'tokenizer.ggml.tokens', 'tokenizer.ggml.token_type',
    'tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id', 'tokenizer.ggml.padding_token_id',
    'tokenizer.ggml.add_bos_token', 'tokenizer.ggml.add_eos_token', 'tokenizer.chat_template',
  ]);
  // bos from tokenizer_config (0), not config.json (6); unk 99 is out of range and skipped.
  assert.deepEqual(meta.get('tokenizer.ggml.bos_token_id'), { type: 'u32', value: 0 });
  assert.deepEqual(meta.get('tokenizer.ggml.padding_token_id'), { type: 'u32', value: 4 });
  assert.deepEqual(meta.get('tokenizer.ggml.add_bos_token'), { type: 'bool', value: true });
  assert.deepEqual(meta.get('tokenizer.ggml.add_eos_token'), { type: 'bool', value: true });
  assert.throws(() => readGgufVocab(model, 4, {}), (e: unknown) => e instanceof FormatError && /token id 7 is outside the model's vocab_size 4/.test(e.message));
  fs.rmSync(path.join(model, 'tokenizer.json'));
  assert.throws(() => readGgufVocab(model, 8, {}), (e: unknown) => e instanceof FormatError && /no tokenizer\.json/.test(e.message));
});

test('a 100,534-token vocabulary exports in well under the time budget', () => {
  const model = out('bigvocab');
  writeSyntheticModel(model, tinyConfig({ vocab_size: 100534, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1 }), { dtype: 'bf16' });
  fs.writeFileSync(path.join(model, 'tokenizer.json'), JSON.stringify(syntheticTokenizer(100534)));
  const started = performance.now();
  exportGguf(model, out('bigvocab.gguf'), { quantize: 'q8_0' });
  const seconds = (performance.now() - started) / 1000;
  assert.ok(seconds < 10, `export took ${seconds.toFixed(1)} s`);
  const g = GgufFile.open(out('bigvocab.gguf'));
  const tokens = g.metadata.strings('tokenizer.ggml.tokens')!;
  assert.equal(tokens.length, 100534);
  assert.equal(tokens[100533], '▁t100533');
  assert.equal(g.metadata.numbers('tokenizer.ggml.token_type')![100], GGUF_TOKEN_TYPE.byte);
  g.close();
});
