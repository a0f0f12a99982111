import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { crc32 } from '../../src/formats/crc32.js';
import { RandomAccessFile } from '../../src/formats/file-io.js';
import { ZipArchive } from '../../src/formats/zip.js';
import { fixture, tempDir } from '../helpers/fixtures.js';
import { expectFormatError } from '../helpers/format-errors.js';
import { crc32Bitwise, zipBytes, type ZipInput } from '../helpers/torch-zip.js';

const dir = tempDir('xverse-zip-');
let counter = 0;

function withZip<T>(bytes: Uint8Array, fn: (zip: () => ZipArchive, file: string) => T): T {
  const file = path.join(dir, `z${counter++}.zip`);
  fs.writeFileSync(file, bytes);
  const raf = new RandomAccessFile(file);
  try {
    return fn(() => ZipArchive.open(raf), file);
  } finally {
    raf.close();
  }
}

const entries: ZipInput[] = [
  { name: 'archive/data.pkl', data: Buffer.from('pickle bytes') },
  { name: 'archive/data/0', data: Uint8Array.from({ length: 100 }, (_, i) => i) },
  { name: 'archive/version', data: Buffer.from('3\n') },
];

test('CRC-32 matches the check value of the standard and the fixture\'s stored CRCs', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  assert.equal(crc32Bitwise(Buffer.from('123456789')), 0xcbf43926);
});

test('reads the directory of a real torch.save archive (torch 1.13: zip64 end records, data-descriptor local headers)', () => {
  const raf = new RandomAccessFile(fixture('xverse-tiny/bin-sharded/pytorch_model-00001-of-00002.bin'));
  try {
    const zip = ZipArchive.open(raf);
    assert.equal(zip.entries.size, 12);
    // Facts from `zipinfo -v` on the fixture: data.pkl at local header 0 (name 37 bytes, padding
    // extra field 61 bytes), 1082 bytes, CRC 3ce21348; the central directory starts at 535634.
    const pkl = zip.entries.get('pytorch_model-00001-of-00002/data.pkl')!;
    assert.deepEqual({ ...pkl }, { name: 'pytorch_model-00001-of-00002/data.pkl', method: 0, crc32: 0x3ce21348, compressedSize: 1082, size: 1082, dataOffset: 128 });
    assert.equal(zip.readSmall(pkl.name, 1 << 20)[0], 0x80);
    assert.equal(new TextDecoder().decode(zip.readSmall('pytorch_model-00001-of-00002/version', 16)), '3\n');
    // Every storage is 64-byte aligned, as torch's writer pads them.
    for (const e of zip.entries.values()) if (e.name.includes('/data/')) assert.equal(e.dataOffset % 64, 0, e.name);
  } finally {
    raf.close();
  }
});

test('classic end record, ZIP64 end record, zip64 extra fields and a maximal comment all read the same entries', () => {
  const variants: Array<[string, Uint8Array]> = [
    ['zip64 end', zipBytes(entries)],
    ['classic end only', zipBytes(entries, { zip64End: false })],
    ['zip64 extra fields', zipBytes(entries.map((e) => ({ ...e, zip64Extra: true })))],
    ['65535-byte comment', zipBytes(entries, { comment: new Uint8Array(65535).fill(0x41) })],
  ];
  for (const [label, bytes] of variants) {
    withZip(bytes, (open) => {
      const zip = open();
      assert.deepEqual([...zip.entries.keys()], entries.map((e) => e.name), label);
      for (const e of entries) assert.deepEqual([...zip.readSmall(e.name, 1000)], [...e.data], label);
      const range = zip.storedRange('archive/data/0');
      assert.equal(range.length, 100);
    });
  }
});

test('truncated archives, wrong magic and lying sizes are one-line errors naming the file', () => {
  const good = zipBytes(entries);
  withZip(good.subarray(0, good.length - 30), (open, file) =>
    expectFormatError(open, new RegExp(`${path.basename(file)}: .*(end-of-central-directory|ZIP64)`)));
  withZip(good.subarray(0, 200), (open) => expectFormatError(open, /no zip end-of-central-directory record/));
  withZip(good.subarray(0, 10), (open) => expectFormatError(open, /not a zip archive \(10 bytes/));
  withZip(new Uint8Array(5000).fill(0x50), (open) => expectFormatError(open, /no zip end-of-central-directory record in the last 5000 bytes/));
  // An entry claiming more bytes than lie before the central directory (i.e. past the data on disk).
  withZip(zipBytes([entries[0]!, { ...entries[1]!, claimedSize: 1 << 30 }, entries[2]!]), (open) =>
    expectFormatError(open, /"archive\/data\/0": 1073741824 data bytes at offset \d+ run past the start of the central directory/));
  // Central directory offset pointing past the end of the file (a cut-off archive with intact tail).
  const shifted = zipBytes(entries, { zip64End: false });
  const view = new DataView(shifted.buffer, shifted.byteOffset);
  view.setUint32(shifted.length - 6, shifted.length + 1000, true);
  withZip(shifted, (open) => expectFormatError(open, /central directory \(offset \d+, \d+ bytes\) runs past its end record/));
});

test('compressed entries and CRC mismatches are refused when read', () => {
  withZip(zipBytes([entries[0]!, { ...entries[1]!, method: 8 }, entries[2]!]), (open) => {
    const zip = open();
    expectFormatError(() => zip.storedRange('archive/data/0'), /zip entry "archive\/data\/0" is compressed \(deflate\); only stored/);
  });
  withZip(zipBytes([{ ...entries[0]!, claimedCrc: 0x12345678 }]), (open) => {
    const zip = open();
    expectFormatError(() => zip.readSmall('archive/data.pkl', 100), /"archive\/data\.pkl" fails its CRC-32 check \(stored 0x12345678/);
  });
  withZip(zipBytes(entries), (open) => {
    expectFormatError(() => open().readSmall('archive/data/0', 50), /"archive\/data\/0" is 100 bytes, more than the 50-byte limit/);
  });
});
