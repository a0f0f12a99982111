import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { FormatError } from '../../src/errors.js';
import { openCheckpoint } from '../../src/formats/checkpoint.js';
import { SafetensorsFile, tensorSources, writeSafetensors } from '../../src/formats/safetensors.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { fixture, tempDir } from '../helpers/fixtures.js';

const dir = tempDir();

/** Builds a safetensors file by hand from a header object and raw data bytes. */
function rawSafetensors(file: string, header: unknown, data: Uint8Array, headerLengthOverride?: bigint): string {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLengthOverride ?? BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, data]));
  return file;
}

function expectFormatError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof FormatError, `expected FormatError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), 'error message is one line');
    return true;
  });
}

test('writes and reads back f32, f16 and bf16 tensors bit-exactly, header padded to 8 bytes', () => {
  const tensors: Array<[string, Tensor]> = [
    ['a', { dtype: 'f32', shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, 1e-8, -0]) }],
    ['b', { dtype: 'f16', shape: [3], data: Uint16Array.from([0x3c00, 0xc000, 0x0001]) }],
    ['c', { dtype: 'bf16', shape: [1, 2], data: Uint16Array.from([0x3f80, 0x7f80]) }],
  ];
  const file = path.join(dir, 'rt.safetensors');
  writeSafetensors(file, tensorSources(tensors), { format: 'pt' });
  const bytes = fs.readFileSync(file);
  assert.equal(Number(bytes.readBigUInt64LE(0)) % 8, 0);
  const st = SafetensorsFile.open(file);
  assert.deepEqual(st.metadata, { format: 'pt' });
  for (const [name, t] of tensors) {
    const back = st.read(name);
    assert.equal(back.dtype, t.dtype);
    assert.deepEqual(back.shape, t.shape);
    assert.deepEqual([...back.data], [...t.data]);
  }
  st.close();
});

test('reads the fixture checkpoint written by another tool (xverse-tiny, BF16, 21 tensors)', () => {
  const st = SafetensorsFile.open(fixture('xverse-tiny/safetensors/model.safetensors'));
  assert.equal(st.tensors.size, 21);
  const e = st.tensors.get('model.layers.1.mlp.down_proj.weight')!;
  assert.equal(e.dtype, 'BF16');
  assert.deepEqual(e.shape, [128, 352]);
  st.close();
});

test('truncated file: a tensor running past the end names the tensor and the file', () => {
  const src = fs.readFileSync(fixture('xverse-tiny/safetensors/model.safetensors'));
  const file = path.join(dir, 'truncated.safetensors');
  fs.writeFileSync(file, src.subarray(0, src.length - 1000));
  expectFormatError(() => SafetensorsFile.open(file), /truncated\.safetensors: tensor "model\.layers\.1\.self_attn\.v_proj\.weight": data ends at byte \d+ but the file holds only \d+ data bytes/);
});

test('header length larger than the file is refused before reading it', () => {
  const file = rawSafetensors(path.join(dir, 'long-header.safetensors'), { x: 1 }, new Uint8Array(0), 5000n);
  expectFormatError(() => SafetensorsFile.open(file), /header claims 5000 bytes but the file has only \d+/);
});

test('absurd header length is refused without allocating it', () => {
  const file = rawSafetensors(path.join(dir, 'huge-header.safetensors'), {}, new Uint8Array(0), 1n << 60n);
  expectFormatError(() => SafetensorsFile.open(file), /exceeds the \d+-byte limit/);
});

test('a file shorter than 8 bytes and non-JSON headers are FormatErrors', () => {
  const tiny = path.join(dir, 'tiny.safetensors');
  fs.writeFileSync(tiny, Buffer.from([1, 2, 3]));
  expectFormatError(() => SafetensorsFile.open(tiny), /not a safetensors file/);
  const file = path.join(dir, 'garbage.safetensors');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(4n);
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from('{no]')]));
  expectFormatError(() => SafetensorsFile.open(file), /not valid UTF-8 JSON/);
});

test('unknown dtype, wrong byte count, bad shape and overlapping tensors name the tensor', () => {
  const data = new Uint8Array(16);
  const cases: Array<[unknown, RegExp]> = [
    [{ w: { dtype: 'Q9', shape: [4], data_offsets: [0, 16] } }, /tensor "w": unknown dtype "Q9"/],
    [{ w: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, /tensor "w": F32 \[3\] needs 12 bytes but data_offsets span 16/],
    [{ w: { dtype: 'F32', shape: [-4], data_offsets: [0, 16] } }, /tensor "w": shape must be a list of non-negative integers/],
    [{ w: { dtype: 'F32', shape: [4], data_offsets: [8, 4] } }, /tensor "w": data_offsets end 4 is before begin 8/],
    [{ a: { dtype: 'F32', shape: [3], data_offsets: [0, 12] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, /tensors "a" and "b" overlap/],
  ];
  cases.forEach(([header, pattern], i) => {
    const file = rawSafetensors(path.join(dir, `bad${i}.safetensors`), header, data);
    expectFormatError(() => SafetensorsFile.open(file), pattern);
  });
});

test('a known but non-float dtype fails only when that tensor is read, naming tensor and file', () => {
  const file = rawSafetensors(path.join(dir, 'int.safetensors'), { ids: { dtype: 'I32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8));
  const st = SafetensorsFile.open(file);
  expectFormatError(() => st.read('ids'), /int\.safetensors: tensor "ids" has dtype I32, which cannot be loaded/);
  st.close();
});

test('sharded index: missing shard, tensor absent from its shard and path traversal are errors', () => {
  const d = path.join(dir, 'sharded');
  fs.mkdirSync(d);
  writeSafetensors(path.join(d, 's1.safetensors'), tensorSources([['a', { dtype: 'f32', shape: [1], data: Float32Array.of(1) }]]));
  const writeIndex = (map: Record<string, string>) =>
    fs.writeFileSync(path.join(d, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: map }));
  writeIndex({ a: 's1.safetensors', b: 's2.safetensors' });
  let src = openCheckpoint(d);
  assert.deepEqual([...src.read('a').data], [1]);
  expectFormatError(() => src.entry('b'), /shard s2\.safetensors is listed but missing/);
  src.close();
  writeIndex({ a: 's1.safetensors', c: 's1.safetensors' });
  src = openCheckpoint(d);
  expectFormatError(() => src.entry('c'), /tensor "c" is mapped to s1\.safetensors but that file does not contain it/);
  src.close();
  writeIndex({ a: '../s1.safetensors' });
  expectFormatError(() => openCheckpoint(d), /weight_map\["a"\] must be a shard file name inside the folder/);
  fs.writeFileSync(path.join(d, 'model.safetensors.index.json'), '{"weight_map": [}');
  expectFormatError(() => openCheckpoint(d), /model\.safetensors\.index\.json: not valid JSON/);
});

test('a folder without weights says what it looked for', () => {
  const empty = path.join(dir, 'empty');
  fs.mkdirSync(empty);
  expectFormatError(() => openCheckpoint(empty), /no weights found \(looked for model\.safetensors\.index\.json, model\.safetensors.*pytorch_model\.bin\)/);
});

// Regressions found by test/fuzz/safetensors.test.ts.
const deepArray = (depth: number): string => '['.repeat(depth) + '0' + ']'.repeat(depth);

test('a deeply nested shape or data_offsets is a FormatError, not a stack overflow in the message', () => {
  const d = tempDir();
  for (const field of ['shape', 'data_offsets']) {
    const file = path.join(d, `deep-${field}.safetensors`);
    const entry = field === 'shape' ? `{"dtype":"F32","shape":${deepArray(20000)},"data_offsets":[0,4]}` : `{"dtype":"F32","shape":[1],"data_offsets":${deepArray(20000)}}`;
    const json = Buffer.from(`{"t":${entry}}`);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    fs.writeFileSync(file, Buffer.concat([len, json, Buffer.alloc(4)]));
    expectFormatError(() => SafetensorsFile.open(file), new RegExp(`tensor "t": .*${field === 'shape' ? 'shape' : 'data_offsets'}.*…`));
  }
});

test('a tensor name with a line break still gives a one-line error', () => {
  const d = tempDir();
  const file = rawSafetensors(path.join(d, 'nl.safetensors'), { 'a\nb': { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4));
  expectFormatError(() => SafetensorsFile.open(file), /tensor "a b": F32 \[2\] needs 8 bytes/);
});

test('index: a deeply nested, overlong or folder shard name is a FormatError', () => {
  const d = tempDir();
  writeSafetensors(path.join(d, 's1.safetensors'), tensorSources([['a', { dtype: 'f32', shape: [1], data: Float32Array.of(1) }]]));
  const index = path.join(d, 'model.safetensors.index.json');
  fs.writeFileSync(index, `{"weight_map":{"a":${deepArray(20000)}}}`);
  expectFormatError(() => openCheckpoint(index), /weight_map\["a"\] must be a shard file name inside the folder, got \[…\]$/);
  for (const shard of ['x'.repeat(70000), '.']) {
    fs.writeFileSync(index, JSON.stringify({ weight_map: { a: shard } }));
    const src = openCheckpoint(index);
    expectFormatError(() => src.read('a'), /is listed but missing \(or not a file\)/);
    src.close();
  }
  fs.writeFileSync(path.join(d, 'pytorch_model.bin.index.json'), JSON.stringify({ weight_map: { a: 'y'.repeat(70000) } }));
  expectFormatError(() => openCheckpoint(path.join(d, 'pytorch_model.bin.index.json')), /is listed but missing/);
});
