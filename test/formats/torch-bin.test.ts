import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { openCheckpoint, type WeightSource } from '../../src/formats/checkpoint.js';
import { TorchBinFile } from '../../src/formats/torch-bin.js';
import { loadModel, type LoadModelOptions } from '../../src/model/load.js';
import type { XverseModel } from '../../src/model/xverse.js';
import { runCli } from '../helpers/cli.js';
import { fixture, readJson, tempDir } from '../helpers/fixtures.js';
import { expectFormatError } from '../helpers/format-errors.js';
import { PickleBuilder, stateDictPickle, type PickledTensor } from '../helpers/pickle-builder.js';
import { writeTorchArchive, type TorchArchive } from '../helpers/torch-zip.js';

const dir = tempDir('xverse-torch-');
const BIN = fixture('xverse-tiny/bin-sharded');
const SAFETENSORS = fixture('xverse-tiny/safetensors');
const ref = readJson<{ prompts: Record<'P1' | 'P2', { ids: number[] }>; llamacpp: { f32: Record<'P1' | 'P2', { greedy: number[] }> } }>(fixture('xverse-tiny/reference.json'));
const exact: LoadModelOptions = { backend: 'typescript', kvCacheType: 'f32' };

const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

/** Logits after the prompt, then 16 greedy ids (each fed back one at a time). */
function run(model: XverseModel, prompt: number[]): { logits: Float32Array; greedy: number[] } {
  const cache = model.createCache();
  const logits = model.forward(prompt, cache);
  const greedy: number[] = [];
  let next = logits;
  for (let i = 0; i < 16; i++) {
    greedy.push(argmax(next));
    next = model.forward([greedy[i]!], cache);
  }
  return { logits, greedy };
}

test('the torch 1.13 fixture shards hold the same 21 BF16 tensors, bit for bit, as the safetensors file', () => {
  const bin = openCheckpoint(BIN);
  const st = openCheckpoint(SAFETENSORS);
  try {
    assert.equal(bin.description, path.join(BIN, 'pytorch_model.bin.index.json'));
    assert.deepEqual(bin.files.map((f) => path.basename(f)), ['pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin']);
    assert.deepEqual([...bin.names()].sort(), [...st.names()].sort());
    for (const name of st.names()) {
      const [a, b] = [bin.entry(name)!, st.entry(name)!];
      assert.deepEqual([a.dtype, a.shape, a.byteLength], [b.dtype, b.shape, b.byteLength], name);
      assert.ok(bytesOf(bin.read(name).data).equals(bytesOf(st.read(name).data)), name);
    }
    // A row range is read on its own: rows 100…109 of the embedding.
    const rows = bin.readRows('model.embed_tokens.weight', 100, 10, new Uint8Array(4096));
    assert.deepEqual(rows.shape, [10, 128]);
    assert.ok(bytesOf(rows.data).equals(bytesOf(st.read('model.embed_tokens.weight').data).subarray(100 * 256, 110 * 256)));
  } finally {
    bin.close();
    st.close();
  }
});

test('the .bin fixture gives logits bit-identical to the safetensors one and llama.cpp\'s greedy ids (f32 and q8_0)', () => {
  for (const quantize of [undefined, 'q8_0'] as const) {
    const options: LoadModelOptions = quantize ? { ...exact, quantize } : exact;
    const fromBin = loadModel(BIN, options);
    const fromSt = loadModel(SAFETENSORS, options);
    for (const name of ['P1', 'P2'] as const) {
      const a = run(fromBin, ref.prompts[name].ids);
      const b = run(fromSt, ref.prompts[name].ids);
      assert.ok(bytesOf(a.logits).equals(bytesOf(b.logits)), `${name} ${quantize ?? 'bf16'}: logits differ`);
      assert.deepEqual(a.greedy, b.greedy);
      // The fixture README: q8_0 greedy ids equal the f32 ones for both prompts.
      assert.deepEqual(a.greedy, ref.llamacpp.f32[name].greedy, `${name} ${quantize ?? 'bf16'}`);
    }
  }
});

const floats = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
const tensor = (t: Partial<PickledTensor> & Pick<PickledTensor, 'name' | 'shape'>): PickledTensor =>
  ({ storageClass: 'FloatStorage', key: '0', storageNumel: 10, offset: 0, ...t });
let counter = 0;
function archive(tensors: PickledTensor[], storages: Record<string, Uint8Array> = { 0: floats([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) }, extra: Partial<TorchArchive> = {}): string {
  return writeTorchArchive(path.join(dir, `t${counter++}.bin`), { pickle: stateDictPickle(tensors), storages, ...extra });
}

test('tensors sharing one storage at different offsets, f16/bf16/f32 storages, parameters and _metadata all load', () => {
  // Like torch: a = x[:4].view(2, 2), b = x[4:7], c = x[7:].view(1, 3) (size-1 dims may carry any stride).
  const file = archive([
    tensor({ name: 'a', shape: [2, 2] }),
    tensor({ name: 'b', shape: [3], offset: 4 }),
    tensor({ name: 'c', shape: [1, 3], offset: 7, stride: [100, 1] }),
    tensor({ name: 'h', shape: [2], storageClass: 'HalfStorage', key: 'half', storageNumel: 2 }),
    tensor({ name: 'g', shape: [1], storageClass: 'BFloat16Storage', key: 'bf', storageNumel: 1 }),
    tensor({ name: 'scalar', shape: [], offset: 9 }),
  ], { 0: floats([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), half: Uint8Array.of(0x00, 0x3c, 0x00, 0xc0), bf: Uint8Array.of(0x80, 0x3f) }, { prefix: 'my-model', storageOptions: { zip64Extra: true } });
  const bin = TorchBinFile.open(file);
  try {
    assert.deepEqual([...bin.tensors.keys()], ['a', 'b', 'c', 'h', 'g', 'scalar']);
    assert.deepEqual([...bin.read('a').data], [0, 1, 2, 3]);
    assert.deepEqual([...bin.read('b').data], [4, 5, 6]);
    assert.deepEqual([...bin.read('c').data], [7, 8, 9]);
    assert.deepEqual(bin.read('c').shape, [1, 3]);
    assert.deepEqual([...bin.read('scalar').data], [9]);
    assert.equal(bin.tensors.get('b')!.offset - bin.tensors.get('a')!.offset, 16);
    assert.deepEqual([bin.read('h').dtype, ...bin.read('h').data], ['f16', 0x3c00, 0xc000]);
    assert.deepEqual([bin.tensors.get('g')!.dtype, ...bin.read('g').data], ['BF16', 0x3f80]);
    assert.deepEqual([...bin.readRows('a', 1, 1, new Uint8Array(64)).data], [2, 3]);
    assert.deepEqual([...bin.readRows('b', 1, 2).data], [5, 6]);
  } finally {
    bin.close();
  }

  // nn.Parameter wrapping and an OrderedDict carrying torch's `_metadata` (BUILD state) also load.
  const p = new PickleBuilder().proto(2).global('collections', 'OrderedDict').emptyTuple().reduce().mark()
    .str('w').global('torch._utils', '_rebuild_parameter')
    .global('torch._utils', '_rebuild_tensor_v2').mark()
    .mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(10).tuple().binpersid()
    .int(2).int(4).tuple1().int(1).tuple1().bool(false).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce()
    .bool(true).global('collections', 'OrderedDict').emptyTuple().reduce().tuple3().reduce()
    .str('step').int(12)
    .setitems()
    .emptyDict().str('_metadata').global('collections', 'OrderedDict').emptyTuple().reduce().setitem().build()
    .stop();
  const pfile = writeTorchArchive(path.join(dir, 'param.bin'), { pickle: p.bytes(), storages: { 0: floats([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) } });
  const pbin = TorchBinFile.open(pfile);
  assert.deepEqual([...pbin.tensors.keys()], ['w'], 'the non-tensor "step" is not a weight');
  assert.deepEqual([...pbin.read('w').data], [2, 3, 4, 5]);
  pbin.close();
});

test('bad tensor layouts and storages are one-line errors naming the file and tensor', () => {
  const name = (f: string) => path.basename(f).replace('.', '\\.');
  let f = archive([tensor({ name: 'w', shape: [3, 3], offset: 4 })]);
  expectFormatError(() => TorchBinFile.open(f), new RegExp(`${name(f)}: tensor "w": F32 \\[3, 3\\] at element offset 4 needs 13 elements but storage "0" holds 10`));
  f = archive([tensor({ name: 'w.T', shape: [2, 3], stride: [1, 2] })]);
  expectFormatError(() => TorchBinFile.open(f), /tensor "w\.T": shape \[2, 3\] with strides \[1, 2\] is not contiguous row-major/);
  f = archive([tensor({ name: 'w', shape: [2, 3], stride: [3] })]);
  expectFormatError(() => TorchBinFile.open(f), /tensor "w": stride \[3\] does not match shape \[2, 3\]/);
  f = archive([tensor({ name: 'w', shape: [2], storageNumel: 5 })], { 0: floats([1, 2, 3, 4]) });
  expectFormatError(() => TorchBinFile.open(f), /storage "0" should hold 5 F32 elements \(20 bytes\) but its zip entry has 16 bytes/);
  f = archive([tensor({ name: 'w', shape: [2], key: '7' })]);
  expectFormatError(() => TorchBinFile.open(f), /archive\/data\.pkl: storage "7" has no zip entry archive\/data\/7 \(pickle offset \d+\)/);
  f = archive([tensor({ name: 'w', shape: [2] })], undefined, { storageOptions: { method: 8 } });
  expectFormatError(() => TorchBinFile.open(f), /zip entry "archive\/data\/0" is compressed \(deflate\)/);
  f = archive([tensor({ name: 'a', shape: [2] }), tensor({ name: 'b', shape: [2], storageClass: 'IntStorage' })]);
  expectFormatError(() => TorchBinFile.open(f), /storage "0" is referenced as both torch\.FloatStorage \[10\] and torch\.IntStorage \[10\]/);
  f = writeTorchArchive(path.join(dir, 'list.bin'), { pickle: new PickleBuilder().proto(2).emptyList().stop().bytes() });
  expectFormatError(() => TorchBinFile.open(f), /list\.bin: archive\/data\.pkl: expected a state_dict \(a dict of tensors\), found a list/);

  // A known non-float storage type opens (an unused int buffer must not block loading) but cannot be read as a weight.
  f = archive([tensor({ name: 'position_ids', shape: [2], storageClass: 'LongStorage', storageNumel: 2 })], { 0: new Uint8Array(16) });
  const bin = TorchBinFile.open(f);
  assert.equal(bin.tensors.get('position_ids')!.dtype, 'I64');
  expectFormatError(() => bin.read('position_ids'), /tensor "position_ids" has dtype I64, which cannot be loaded as a weight \(supported: BF16, F16, F32\)/);
  bin.close();
});

test('legacy (non-zip) torch files, wrong magic and truncated shards say what is wrong', () => {
  const legacyDir = path.join(dir, 'legacy');
  fs.mkdirSync(legacyDir);
  // torch < 1.6 / _use_new_zipfile_serialization=False: a pickled magic number first (PROTO 2, LONG1 …).
  fs.writeFileSync(path.join(legacyDir, 'pytorch_model.bin'), Uint8Array.of(0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e));
  expectFormatError(() => openCheckpoint(legacyDir), /pytorch_model\.bin: is a legacy \(pre-1\.6, non-zip\) torch\.save checkpoint.*torch\.save\(torch\.load\(f\), f2\).*safetensors/);
  const gguf = path.join(dir, 'model.bin');
  fs.writeFileSync(gguf, Buffer.from('GGUF\x03\x00\x00\x00'));
  expectFormatError(() => openCheckpoint(gguf), /model\.bin: not a PyTorch checkpoint \(expected a zip archive starting with "PK", found bytes 47 47 55 46\)/);
  const shard = fs.readFileSync(path.join(BIN, 'pytorch_model-00002-of-00002.bin'));
  const cut = path.join(dir, 'cut.bin');
  fs.writeFileSync(cut, shard.subarray(0, shard.length / 2));
  expectFormatError(() => openCheckpoint(cut), /cut\.bin: no zip end-of-central-directory record/);
  // Tail intact but storage bytes gone: the central directory now lies past the end of the file.
  fs.writeFileSync(cut, Buffer.concat([shard.subarray(0, 1000), shard.subarray(shard.length - 2000)]));
  expectFormatError(() => openCheckpoint(cut), /cut\.bin: .*(runs past|past the|read of)/);
});

test('pytorch_model.bin.index.json is validated: weight_map object of file names inside the folder, files present', () => {
  const d = path.join(dir, 'sharded');
  fs.mkdirSync(d);
  const s1 = archive([tensor({ name: 'a', shape: [2] })]);
  fs.copyFileSync(s1, path.join(d, 's1.bin'));
  const writeIndex = (index: unknown) => fs.writeFileSync(path.join(d, 'pytorch_model.bin.index.json'), JSON.stringify(index));
  writeIndex({ weight_map: { a: 's1.bin' } });
  const src: WeightSource = openCheckpoint(d);
  assert.deepEqual([...src.read('a').data], [0, 1]);
  src.close();
  writeIndex({ weight_map: { a: 's1.bin', b: 's2.bin' } });
  expectFormatError(() => openCheckpoint(d), /pytorch_model\.bin\.index\.json: shard s2\.bin is listed but missing/);
  writeIndex({ weight_map: { a: '../sharded/s1.bin' } });
  expectFormatError(() => openCheckpoint(d), /pytorch_model\.bin\.index\.json: weight_map\["a"\] must be a shard file name inside the folder, got "\.\.\/sharded\/s1\.bin"/);
  writeIndex({ weight_map: { a: path.join(d, 's1.bin') } });
  expectFormatError(() => openCheckpoint(d), /weight_map\["a"\] must be a shard file name inside the folder/);
  writeIndex({ weight_map: { a: 3 } });
  expectFormatError(() => openCheckpoint(d), /weight_map\["a"\] must be a shard file name inside the folder, got 3/);
  writeIndex({ weight_map: ['s1.bin'] });
  expectFormatError(() => openCheckpoint(d), /pytorch_model\.bin\.index\.json: missing "weight_map" object/);
  writeIndex({ weight_map: { a: 's1.bin', z: 's1.bin' } });
  const partial = openCheckpoint(d);
  expectFormatError(() => partial.entry('z'), /tensor "z" is mapped to s1\.bin but that file does not contain it/);
  partial.close();
});

test('a folder with pytorch_model.bin or a lone .bin path opens; safetensors wins when both are present', () => {
  const d = path.join(dir, 'single');
  fs.mkdirSync(d);
  fs.copyFileSync(archive([tensor({ name: 'a', shape: [2] })]), path.join(d, 'pytorch_model.bin'));
  let src = openCheckpoint(d);
  assert.equal(src.description, path.join(d, 'pytorch_model.bin'));
  assert.deepEqual([...src.read('a').data], [0, 1]);
  src.close();
  src = openCheckpoint(path.join(BIN, 'pytorch_model-00002-of-00002.bin'));
  assert.equal(src.names().length, 11);
  src.close();
  fs.copyFileSync(path.join(SAFETENSORS, 'model.safetensors'), path.join(d, 'model.safetensors'));
  src = openCheckpoint(d);
  assert.equal(src.description, path.join(d, 'model.safetensors'));
  src.close();
});

test('xverse convert IN OUT --to safetensors reads a .bin folder; the result gives the same logits', async () => {
  const out = path.join(dir, 'converted');
  const r = await runCli(['convert', BIN, out, '--to', 'safetensors', '--backend', 'typescript']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(fs.existsSync(path.join(out, 'model.safetensors')));
  const a = run(loadModel(BIN, exact), ref.prompts.P2.ids);
  const b = run(loadModel(out, exact), ref.prompts.P2.ids);
  assert.ok(bytesOf(a.logits).equals(bytesOf(b.logits)));
  assert.deepEqual(b.greedy, ref.llamacpp.f32.P2.greedy);
});
