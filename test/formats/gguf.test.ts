import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { FormatError } from '../../src/errors.js';
import { GgufFile, ggmlTypeByName, gv, writeGguf, type GgufTensorWrite, type GgufValue } from '../../src/formats/gguf.js';
import { f32ToBf16, f32ToF16 } from '../../src/tensor/dtype.js';
import { quantizeRows } from '../../src/tensor/quant.js';
import { tempDir } from '../helpers/fixtures.js';

const dir = tempDir('xverse-gguf-');
let fileNo = 0;
const tmp = (name = 'f') => path.join(dir, `${name}-${fileNo++}.gguf`);

function expectFormatError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof FormatError, `expected FormatError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), 'error message is one line');
    return true;
  });
}

/** Little-endian builder for hand-made (hostile) GGUF files. */
class Raw {
  private parts: Buffer[] = [];
  u32(v: number): this { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.parts.push(b); return this; }
  u64(v: bigint | number): this { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.parts.push(b); return this; }
  str(s: string, lengthOverride?: bigint): this { const b = Buffer.from(s); this.u64(lengthOverride ?? BigInt(b.length)); this.parts.push(b); return this; }
  bytes(b: Uint8Array): this { this.parts.push(Buffer.from(b)); return this; }
  header(tensors: bigint | number, kvs: bigint | number, version = 3): this { return this.u32(0x46554747).u32(version).u64(tensors).u64(kvs); }
  /** A tensor info: name, dims (ne0 first), ggml type id, relative offset. */
  tensor(name: string, dims: number[], type: number, offset: number | bigint): this {
    this.str(name).u32(dims.length);
    for (const d of dims) this.u64(d);
    return this.u32(type).u64(offset);
  }
  padTo(alignment: number): this {
    const n = this.parts.reduce((s, p) => s + p.length, 0);
    this.parts.push(Buffer.alloc((alignment - (n % alignment)) % alignment));
    return this;
  }
  write(file: string): string { fs.writeFileSync(file, Buffer.concat(this.parts)); return file; }
}

const f32Bytes = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
const u16Bytes = (values: number[]) => new Uint8Array(Uint16Array.from(values).buffer);

test('round trip: every metadata value type, in order, with edge values', () => {
  const metadata = new Map<string, GgufValue>([
    ['general.architecture', gv.string('xverse')],
    ['t.u8', gv.u8(255)], ['t.i8', gv.i8(-128)], ['t.u16', gv.u16(65535)], ['t.i16', gv.i16(-32768)],
    ['t.u32', gv.u32(0xffffffff)], ['t.i32', gv.i32(-0x80000000)], ['t.f32', gv.f32(Math.fround(1e-6))],
    ['t.f64', gv.f64(Math.PI)], ['t.u64', gv.u64((1n << 64n) - 1n)], ['t.i64', gv.i64(-(1n << 63n))],
    ['t.true', gv.bool(true)], ['t.false', gv.bool(false)],
    ['t.string', gv.string('héllo ✓ 你好')], ['t.empty', gv.string('')],
    ['a.u8', gv.numbers('u8', [0, 1, 255])], ['a.i8', gv.numbers('i8', [-128, 127])], ['a.u16', gv.numbers('u16', [7])],
    ['a.i16', gv.numbers('i16', [-1])], ['a.u32', gv.numbers('u32', [1, 2, 3])], ['a.i32', gv.numbers('i32', [3, -6, 1])],
    ['a.f32', gv.numbers('f32', [0.5, -2])], ['a.f64', gv.numbers('f64', [1 / 3])],
    ['a.u64', gv.bigints('u64', [0n, 1n << 40n])], ['a.i64', gv.bigints('i64', [-5n])],
    ['a.bool', gv.bools([true, false, true])], ['a.string', gv.strings(['<unk>', '', '▁the', '<0x0A>'])],
    ['a.empty', gv.strings([])],
  ]);
  const file = tmp('meta');
  writeGguf(file, metadata, []);
  const g = GgufFile.open(file);
  assert.equal(g.version, 3);
  assert.deepEqual([...g.metadata.entries.keys()], [...metadata.keys()], 'key order is kept');
  assert.deepEqual(g.metadata.entries, metadata);
  assert.equal(g.metadata.integer('t.u32'), 0xffffffff);
  assert.equal(g.metadata.string('general.architecture'), 'xverse');
  assert.deepEqual(g.metadata.numbers('a.i32'), [3, -6, 1]);
  assert.equal(g.metadata.number('t.f32'), Math.fround(1e-6));
  expectFormatError(() => g.metadata.string('t.u8'), /metadata "t\.u8" must be a string, got u8/);
  expectFormatError(() => g.metadata.integer('t.u64'), /too large/);
  assert.equal(g.metadata.string('missing'), undefined);
  assert.equal(g.tensors.size, 0);
  g.close();
});

test('round trip: F32, F16, BF16, Q8_0 and Q4_0 tensors, streamed in chunks, aligned to 32 bytes', () => {
  const q8Src = Float32Array.from({ length: 2 * 64 }, (_, i) => Math.sin(i) * 3);
  const q4Src = Float32Array.from({ length: 3 * 32 }, (_, i) => Math.cos(i));
  const specs: Array<{ name: string; type: string; dims: number[]; bytes: Uint8Array }> = [
    { name: 'a.f32', type: 'f32', dims: [3, 2], bytes: f32Bytes([1, -2, 3.5, 0, 1e-8, -0]) },
    { name: 'b.f16', type: 'f16', dims: [3], bytes: u16Bytes([f32ToF16(1), f32ToF16(-2), 1]) },
    { name: 'c.bf16', type: 'bf16', dims: [2, 1], bytes: u16Bytes([f32ToBf16(1.5), 0x7f80]) },
    { name: 'd.q8_0', type: 'q8_0', dims: [64, 2], bytes: quantizeRows('q8_0', q8Src, 2, 64) },
    { name: 'e.q4_0', type: 'q4_0', dims: [32, 3], bytes: quantizeRows('q4_0', q4Src, 3, 32) },
    { name: 'f.one', type: 'f32', dims: [1], bytes: f32Bytes([42]) },
  ];
  const tensors: GgufTensorWrite[] = specs.map((s) => ({
    name: s.name, type: s.type as GgufTensorWrite['type'], dims: s.dims,
    // Odd-sized chunks: the writer must not care how the bytes arrive.
    data: function* () { for (let i = 0; i < s.bytes.length; i += 5) yield s.bytes.subarray(i, i + 5); },
  }));
  const file = tmp('tensors');
  const progress: string[] = [];
  const layout = writeGguf(file, new Map([['general.architecture', gv.string('llama')]]), tensors, { onTensor: (p) => progress.push(p.name) });
  assert.deepEqual(progress, specs.map((s) => s.name));
  assert.equal(fs.statSync(file).size, layout.fileSize);
  const g = GgufFile.open(file);
  assert.equal(g.dataOffset % 32, 0);
  assert.equal(g.dataOffset, layout.dataOffset);
  for (const [i, s] of specs.entries()) {
    const info = g.tensorInfo(s.name);
    assert.equal(info.offset % 32, 0, `${s.name} aligned`);
    assert.equal(info.offset, layout.tensors[i]!.offset);
    assert.deepEqual(info.dims, s.dims);
    assert.deepEqual(info.shape, [...s.dims].reverse());
    assert.equal(info.type.tensorType, s.type);
    assert.deepEqual(g.readTensorBytes(s.name), s.bytes);
    const t = g.readTensor(s.name);
    assert.equal(t.dtype, s.type);
    assert.deepEqual(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), s.bytes);
  }
  // Padding between tensors is zeros.
  const raw = fs.readFileSync(file);
  const a = g.tensorInfo('a.f32');
  assert.ok(raw.subarray(a.offset + a.byteLength, g.tensorInfo('b.f16').offset).every((b) => b === 0));
  const rows = g.readRows('d.q8_0', 1, 1);
  assert.deepEqual(rows.shape, [1, 64]);
  assert.deepEqual(rows.data, specs[3]!.bytes.subarray(34 * 2));
  assert.throws(() => g.readRows('d.q8_0', 1, 2), RangeError);
  g.close();
});

test('a non-default alignment is recorded as general.alignment and honoured by the reader', () => {
  const file = tmp('align');
  writeGguf(file, new Map(), [
    { name: 'x', type: 'f32', dims: [3], data: () => [f32Bytes([1, 2, 3])] },
    { name: 'y', type: 'f32', dims: [1], data: () => [f32Bytes([4])] },
  ], { alignment: 64 });
  const g = GgufFile.open(file);
  assert.equal(g.alignment, 64);
  assert.deepEqual(g.metadata.get('general.alignment'), gv.u32(64));
  assert.equal(g.tensorInfo('y').offset % 64, 0);
  assert.deepEqual(g.readTensor('y').data, Float32Array.from([4]));
  g.close();
});

test('writer refuses bad input and leaves no file behind', () => {
  const file = tmp('bad');
  assert.throws(() => writeGguf(file, new Map([['k', gv.u8(256)]]), []), /"k": 256 does not fit in u8/);
  assert.throws(() => writeGguf(file, new Map([['k', gv.u64(-1n)]]), []), /does not fit in u64/);
  assert.throws(() => writeGguf(file, new Map(), [{ name: 'q', type: 'q8_0', dims: [33, 1], data: () => [] }]), /multiple of 32/);
  const dup = { name: 'd', type: 'f32' as const, dims: [1], data: () => [f32Bytes([1])] };
  assert.throws(() => writeGguf(file, new Map(), [dup, dup]), /duplicate/);
  assert.throws(() => writeGguf(file, new Map(), [{ ...dup, name: 'n'.repeat(64) }]), /names must be/);
  expectFormatError(() => writeGguf(file, new Map(), [{ name: 'short', type: 'f32', dims: [4], data: () => [f32Bytes([1])] }]), /produced 4 bytes, expected 16/);
  expectFormatError(() => writeGguf(file, new Map(), [{ name: 'long', type: 'f32', dims: [1], data: () => [f32Bytes([1, 2])] }]), /produced more than 4 bytes/);
  assert.equal(fs.existsSync(file), false);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
});

test('reads the GGUF v2 layout too', () => {
  const file = new Raw().header(0, 1, 2).str('general.name').u32(8).str('v2').write(tmp('v2'));
  assert.equal(GgufFile.open(file).metadata.string('general.name'), 'v2');
});

test('hostile headers fail cleanly, in one line, before allocating', () => {
  const before = process.memoryUsage().arrayBuffers;
  const started = Date.now();
  expectFormatError(() => GgufFile.open(new Raw().u32(0x46554746).u32(3).u64(0).u64(0).write(tmp())), /not a GGUF file \(magic "FGUF"/);
  expectFormatError(() => GgufFile.open(new Raw().bytes(Buffer.from('GG')).write(tmp())), /not a GGUF file \(2 bytes\)/);
  expectFormatError(() => GgufFile.open(new Raw().header(0, 0, 1).write(tmp())), /version 1 is not supported/);
  expectFormatError(() => GgufFile.open(new Raw().header(0, 0, 0x03000000).write(tmp())), /big-endian/);
  // Truncated inside the fixed header and inside a metadata value.
  expectFormatError(() => GgufFile.open(new Raw().u32(0x46554747).u32(3).u32(0).write(tmp())), /truncated: tensor count at offset 8 needs 8 bytes/);
  expectFormatError(() => GgufFile.open(new Raw().header(0, 1).str('general.name').u32(4).write(tmp())), /truncated: general\.name at offset \d+ needs 4 bytes/);
  // A string whose length runs past the end of the file.
  expectFormatError(() => GgufFile.open(new Raw().header(0, 1).str('k', 1n << 40n).bytes(new Uint8Array(16)).write(tmp())), /metadata key 0 length 1099511627776 .* exceeds .*past the end of the file/);
  expectFormatError(() => GgufFile.open(new Raw().header(0, 1).str('k').u32(8).u64(100).bytes(Buffer.from('short')).write(tmp())), /value of "k" length 100 .*past the end of the file/);
  // Absurd counts: 2^60 tensors, 2^40 array items, 2^50 metadata entries.
  expectFormatError(() => GgufFile.open(new Raw().header(1n << 60n, 0).write(tmp())), /tensor count 1152921504606846976 at offset 8 exceeds 0 \(more than the rest of the file can hold/);
  expectFormatError(() => GgufFile.open(new Raw().header(0, 1n << 50n).write(tmp())), /metadata count .* exceeds/);
  expectFormatError(() => GgufFile.open(new Raw().header(0, 1).str('a').u32(9).u32(4).u64(1n << 40n).u32(1).write(tmp())), /length of "a" 1099511627776 at offset 41 exceeds 1 \(more than the rest of the file can hold; truncated\?\)/);
  expectFormatError(() => GgufFile.open(new Raw().header(0, 1).str('a').u32(9).u32(8).u64(3).str('x').write(tmp())), /truncated/);
  // Unknown value types, nested arrays, bad bools, duplicate keys.
  expectFormatError(() => GgufFile.open(new Raw().header(0, 1).str('k').u32(13).write(tmp())), /metadata "k" has unknown value type 13/);
  expectFormatError(() => GgufFile.open(new Raw().header(0, 1).str('k').u32(9).u32(99).u64(0).write(tmp())), /array of unknown value type 99/);
  expectFormatError(() => GgufFile.open(new Raw().header(0, 1).str('k').u32(9).u32(9).u64(0).write(tmp())), /array of arrays/);
  expectFormatError(() => GgufFile.open(new Raw().header(0, 1).str('k').u32(7).bytes(Uint8Array.of(2)).write(tmp())), /bool byte 2/);
  expectFormatError(() => GgufFile.open(new Raw().header(0, 2).str('k').u32(4).u32(1).str('k').u32(4).u32(1).write(tmp())), /duplicate metadata key "k"/);
  expectFormatError(() => GgufFile.open(new Raw().header(0, 1).str('general.alignment').u32(4).u32(24).write(tmp())), /alignment 24 is not a power of two/);
  expectFormatError(() => GgufFile.open(new Raw().header(0, 1).str('general.alignment').u32(8).str('32').write(tmp())), /general\.alignment" must be u32, got string/);
  assert.ok(Date.now() - started < 2000, 'hostile headers are rejected quickly');
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024, 'no large buffers were allocated');
});

test('hostile tensor infos and data ranges fail cleanly', () => {
  const one = (name: string, dims: number[], type: number, offset: number | bigint, dataBytes = 64) =>
    new Raw().header(1, 0).tensor(name, dims, type, offset).padTo(32).bytes(new Uint8Array(dataBytes)).write(tmp());
  expectFormatError(() => GgufFile.open(one('t', [16], 0, 0, 32)), /tensor "t": data at offset 64 \(64 bytes\) runs past the end of the file/);
  expectFormatError(() => GgufFile.open(one('t', [4], 0, 1n << 62n)), /tensor "t" offset .* exceeds/);
  expectFormatError(() => GgufFile.open(one('t', [4], 0, 16)), /offset 16 is not a multiple of the alignment 32/);
  expectFormatError(() => GgufFile.open(one('t', [4], 31, 0)), /unknown ggml type id 31/);
  expectFormatError(() => GgufFile.open(one('t', [33], 8, 0)), /Q8_0 \[33\] is not a whole number of 32-value blocks/);
  expectFormatError(() => GgufFile.open(one('t', [1, 1, 1, 1, 1], 0, 0)), /5 dims \(at most 4\)/);
  expectFormatError(() => GgufFile.open(one('t', [2 ** 40, 2 ** 40], 0, 0)), /too large/);
  const overlap = new Raw().header(2, 0).tensor('a', [16], 0, 0).tensor('b', [8], 0, 32).padTo(32).bytes(new Uint8Array(128)).write(tmp());
  expectFormatError(() => GgufFile.open(overlap), /tensors "a" and "b" overlap/);
  const dup = new Raw().header(2, 0).tensor('a', [8], 0, 0).tensor('a', [8], 0, 32).padTo(32).bytes(new Uint8Array(64)).write(tmp());
  expectFormatError(() => GgufFile.open(dup), /tensor "a": duplicate tensor name/);
  // Truncating a real file anywhere in its header or data is always a clean error.
  const good = tmp('good');
  writeGguf(good, new Map([['general.name', gv.string('x')], ['a', gv.strings(['p', 'q'])]]), [{ name: 'w', type: 'f32', dims: [8], data: () => [f32Bytes([1, 2, 3, 4, 5, 6, 7, 8])] }]);
  const full = fs.readFileSync(good);
  for (let n = 0; n < full.length; n += 7) {
    const cut = tmp('cut');
    fs.writeFileSync(cut, full.subarray(0, n));
    expectFormatError(() => GgufFile.open(cut), /not a GGUF file|truncated/);
  }
});

test('known but unsupported tensor types are listed, and reading them says so', () => {
  const q6k = ggmlTypeByName('Q6_K')!;
  const file = tmp('q6k');
  writeGguf(file, new Map(), [{ name: 'k', type: q6k, dims: [256, 2], data: () => [new Uint8Array(2 * 210)] }]);
  const g = GgufFile.open(file);
  const info = g.tensorInfo('k');
  assert.equal(info.type.name, 'Q6_K');
  assert.equal(info.byteLength, 420);
  assert.equal(g.readTensorBytes('k').length, 420);
  expectFormatError(() => g.readTensor('k'), /tensor "k" has type Q6_K, which is not supported yet \(supported: F32, F16, Q4_0, Q8_0, BF16\)/);
  expectFormatError(() => g.tensorInfo('nope'), /no tensor named "nope"/);
  g.close();
});
