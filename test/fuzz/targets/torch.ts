/**
 * Fuzz targets for PyTorch checkpoints (TorchBinFile: zip.ts + pickle.ts + torch-bin.ts): one that
 * mutates the zip structure of the fixture shards, one that mutates their data.pkl and wraps the
 * result in a valid zip (correct CRC), so the unpickler itself sees the mutations.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TorchBinFile } from '../../../src/formats/torch-bin.js';
import type { TensorType } from '../../../src/tensor/dtype.js';
import { mutateBinary, type BinaryLayout, type Field, type FuzzTarget } from '../../helpers/fuzz.js';
import { crc32Bitwise, zipBytes, type ZipInput } from '../../helpers/torch-zip.js';
import { checkTensor, shared, using } from './common.js';

interface ZipSeed {
  name: string;
  bytes: Uint8Array;
  layout: BinaryLayout;
  entries: ZipInput[];
  pickleIndex: number;
  pickleLayout: BinaryLayout;
}

/** Walks a torch.save zip (EOCD, ZIP64 locator and record, central directory, local headers). */
function walkZip(name: string, bytes: Uint8Array): ZipSeed {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: Field[] = [];
  const boundaries: number[] = [];
  const hot: Array<[number, number]> = [];
  const eocd = b.length - 22;
  if (b.readUInt32LE(eocd) !== 0x06054b50) throw new Error(`${name}: no end record at the end`);
  fields.push(
    { name: 'eocd entries on disk', offset: eocd + 8, size: 2 }, { name: 'eocd entries', offset: eocd + 10, size: 2 },
    { name: 'eocd cd size', offset: eocd + 12, size: 4 }, { name: 'eocd cd offset', offset: eocd + 16, size: 4 },
    { name: 'eocd comment length', offset: eocd + 20, size: 2 },
  );
  let cdOffset = b.readUInt32LE(eocd + 16);
  let count = b.readUInt16LE(eocd + 10);
  const locator = eocd - 20;
  boundaries.push(eocd, locator);
  if (b.readUInt32LE(locator) === 0x07064b50) {
    const record = Number(b.readBigUInt64LE(locator + 8));
    fields.push({ name: 'zip64 record offset', offset: locator + 8, size: 8 });
    fields.push(
      { name: 'zip64 entries on disk', offset: record + 24, size: 8 }, { name: 'zip64 entries', offset: record + 32, size: 8 },
      { name: 'zip64 cd size', offset: record + 40, size: 8 }, { name: 'zip64 cd offset', offset: record + 48, size: 8 },
    );
    boundaries.push(record);
    cdOffset = Number(b.readBigUInt64LE(record + 48));
    count = Number(b.readBigUInt64LE(record + 32));
  }
  hot.push([cdOffset, b.length]);
  const entries: ZipInput[] = [];
  let at = cdOffset;
  for (let i = 0; i < count; i++) {
    boundaries.push(at);
    const f = (n: string, o: number, size: Field['size']) => fields.push({ name: `cd[${i}] ${n}`, offset: at + o, size });
    f('method', 10, 2); f('crc', 16, 4); f('compressed size', 20, 4); f('size', 24, 4); f('name length', 28, 2);
    f('extra length', 30, 2); f('comment length', 32, 2); f('disk', 34, 2); f('local offset', 42, 4);
    const nameLength = b.readUInt16LE(at + 28);
    const extraLength = b.readUInt16LE(at + 30);
    const commentLength = b.readUInt16LE(at + 32);
    const entryName = b.toString('utf8', at + 46, at + 46 + nameLength);
    let size = b.readUInt32LE(at + 24);
    let local = b.readUInt32LE(at + 42);
    // zip64 extra field: sizes and offset that did not fit.
    for (let p = at + 46 + nameLength; p + 4 <= at + 46 + nameLength + extraLength;) {
      const id = b.readUInt16LE(p);
      const len = b.readUInt16LE(p + 2);
      fields.push({ name: `cd[${i}] extra length`, offset: p + 2, size: 2 });
      if (id === 1) {
        let q = p + 4;
        if (size === 0xffffffff) { fields.push({ name: `cd[${i}] zip64 size`, offset: q, size: 8 }); size = Number(b.readBigUInt64LE(q)); q += 8; }
        if (b.readUInt32LE(at + 20) === 0xffffffff) { fields.push({ name: `cd[${i}] zip64 csize`, offset: q, size: 8 }); q += 8; }
        if (local === 0xffffffff) { fields.push({ name: `cd[${i}] zip64 local offset`, offset: q, size: 8 }); local = Number(b.readBigUInt64LE(q)); }
      }
      p += 4 + len;
    }
    const localName = b.readUInt16LE(local + 26);
    const localExtra = b.readUInt16LE(local + 28);
    const data = local + 30 + localName + localExtra;
    fields.push({ name: `local[${i}] name length`, offset: local + 26, size: 2 }, { name: `local[${i}] extra length`, offset: local + 28, size: 2 });
    hot.push([local, data]);
    boundaries.push(local, data, data + size);
    const content = bytes.slice(data, data + size);
    // CRCs computed once (the bitwise CRC of 0.5 MB per case would dominate the run time).
    entries.push({ name: entryName, data: content, claimedCrc: crc32Bitwise(content) });
    at += 46 + nameLength + extraLength + commentLength;
  }
  const pickleIndex = entries.findIndex((e) => e.name.endsWith('/data.pkl'));
  if (pickleIndex < 0) throw new Error(`${name}: no data.pkl`);
  return { name, bytes, layout: { fields, boundaries, hot }, entries, pickleIndex, pickleLayout: walkPickle(entries[pickleIndex]!.data) };
}

/** Opcode starts (truncation points) and length/int/memo fields of a protocol-2 pickle. */
function walkPickle(p: Uint8Array): BinaryLayout {
  const b = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  const fields: Field[] = [];
  const boundaries: number[] = [];
  const fixed: Readonly<Record<number, [string, Field['size']]>> = {
    0x4a: ['BININT', 4], 0x4b: ['BININT1', 1], 0x4d: ['BININT2', 2], 0x71: ['BINPUT', 1], 0x72: ['LONG_BINPUT', 4],
    0x68: ['BINGET', 1], 0x6a: ['LONG_BINGET', 4], 0x95: ['FRAME', 8], 0x80: ['PROTO', 1],
  };
  let at = 0;
  while (at < b.length) {
    boundaries.push(at);
    const op = b[at]!;
    const f = fixed[op];
    if (f) {
      fields.push({ name: f[0], offset: at + 1, size: f[1] });
      at += 1 + f[1];
    } else if (op === 0x58 || op === 0x42) { // BINUNICODE, BINBYTES
      fields.push({ name: op === 0x58 ? 'BINUNICODE length' : 'BINBYTES length', offset: at + 1, size: 4 });
      at += 5 + b.readUInt32LE(at + 1);
    } else if (op === 0x8c || op === 0x43 || op === 0x8a) { // SHORT_BINUNICODE, SHORT_BINBYTES, LONG1
      fields.push({ name: 'short length', offset: at + 1, size: 1 });
      at += 2 + b[at + 1]!;
    } else if (op === 0x63) { // GLOBAL: two lines
      at = b.indexOf(0x0a, b.indexOf(0x0a, at + 1) + 1) + 1;
    } else if (op === 0x47) {
      at += 9;
    } else {
      at += 1;
    }
  }
  return { fields, boundaries, hot: [] };
}

const TYPES: Readonly<Record<string, TensorType>> = { BF16: 'bf16', F16: 'f16', F32: 'f32' };

function readAllTorch(file: string): void {
  using(TorchBinFile.open(file), (bin) => {
    for (const [name, e] of bin.tensors) {
      const t = bin.read(name);
      checkTensor(name, t, TYPES[e.dtype]!, e.shape, e.byteLength);
    }
  });
}

function torchTarget(mode: 'zip' | 'pickle'): FuzzTarget<{ seeds: ZipSeed[]; file: string }> {
  return {
    setup(dir) {
      const seeds = [1, 2].map((k) => {
        const name = `pytorch_model-0000${k}-of-00002.bin`;
        return walkZip(name, new Uint8Array(fs.readFileSync(shared('xverse-tiny', 'bin-sharded', name))));
      });
      const file = path.join(dir, 'case.bin');
      for (const s of seeds) { // the seeds, and their re-wrapped form, must load
        fs.writeFileSync(file, s.bytes);
        readAllTorch(file);
        fs.writeFileSync(file, zipBytes(s.entries));
        readAllTorch(file);
      }
      return { seeds, file };
    },
    make({ seeds, file }, rng) {
      const seed = rng.pick(seeds);
      let bytes: Uint8Array;
      let what: string;
      if (mode === 'zip') {
        const m = mutateBinary(rng, seed.bytes, seed.layout);
        bytes = m.value;
        what = m.what;
      } else {
        const m = mutateBinary(rng, seed.entries[seed.pickleIndex]!.data, seed.pickleLayout);
        bytes = zipBytes(seed.entries.map((e, i) => (i === seed.pickleIndex ? { name: e.name, data: m.value } : e)));
        what = `data.pkl: ${m.what}`;
      }
      return {
        what: `${seed.name}: ${what}`,
        names: [file],
        run: () => {
          fs.writeFileSync(file, bytes);
          readAllTorch(file);
        },
      };
    },
  };
}

export const torchZipTarget = torchTarget('zip');
export const torchPickleTarget = torchTarget('pickle');
