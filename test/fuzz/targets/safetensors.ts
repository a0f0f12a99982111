/**
 * Fuzz targets for safetensors files (SafetensorsFile.open + reading every tensor) and for the
 * checkpoint index JSON files (openCheckpoint on model.safetensors.index.json / pytorch_model.bin.index.json).
 */
import fs from 'node:fs';
import path from 'node:path';
import { openCheckpoint, writeCheckpoint } from '../../../src/formats/checkpoint.js';
import { SafetensorsFile, tensorSources, writeSafetensors } from '../../../src/formats/safetensors.js';
import type { TensorType } from '../../../src/tensor/dtype.js';
import { quantizeRows } from '../../../src/tensor/quant.js';
import type { Tensor } from '../../../src/tensor/tensor.js';
import { FuzzRng, OracleFailure, mutateBinary, mutateJson, mutateText, type BinaryLayout, type FuzzTarget } from '../../helpers/fuzz.js';
import { seededRandom } from '../../helpers/synthetic-model.js';
import { checkTensor, repoFile, shared, using } from './common.js';

interface Seed { name: string; bytes: Uint8Array; header: Record<string, unknown>; layout: BinaryLayout }

function f32(n: number, seed: number): Float32Array {
  const r = seededRandom(seed);
  return Float32Array.from({ length: n }, () => Math.round((r() - 0.5) * 256) / 512);
}

/** A small file with every loadable dtype, including quantized tensors and their metadata key. */
function writeMixedSeed(file: string): void {
  const q = (type: 'q8_0' | 'q4_0', rows: number, cols: number, seed: number): Tensor =>
    ({ dtype: type, shape: [rows, cols], data: quantizeRows(type, f32(rows * cols, seed), rows, cols) });
  const tensors: Array<[string, Tensor]> = [
    ['a.q8', q('q8_0', 4, 64, 1)],
    ['b.q4', q('q4_0', 3, 32, 2)],
    ['c.f32', { dtype: 'f32', shape: [8], data: f32(8, 3) }],
    ['d.bf16', { dtype: 'bf16', shape: [3, 5], data: Uint16Array.from({ length: 15 }, (_, i) => 0x3f80 + i) }],
    ['e.f16', { dtype: 'f16', shape: [2, 2], data: Uint16Array.of(0x3c00, 0x4000, 0x4200, 0x4400) }],
    ['f.empty', { dtype: 'f32', shape: [0, 4], data: new Float32Array(0) }],
  ];
  writeSafetensors(file, tensorSources(tensors), { format: 'pt' });
}

function loadSeed(name: string, file: string): Seed {
  const bytes = new Uint8Array(fs.readFileSync(file));
  const n = Number(Buffer.from(bytes).readBigUInt64LE(0));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8')) as Record<string, unknown>;
  const boundaries = [0, 1, 4, 7, 8, 9, 8 + n - 1, 8 + n];
  for (const [k, v] of Object.entries(header)) {
    if (k === '__metadata__') continue;
    const [b, e] = (v as { data_offsets: [number, number] }).data_offsets;
    boundaries.push(8 + n + b, 8 + n + e);
  }
  return { name, bytes, header, layout: { fields: [{ name: 'header length', offset: 0, size: 8 }], boundaries, hot: [[0, 8 + n]] } };
}

/** Header JSON text → a full file (length field recomputed, or left as in the seed). */
function withHeader(rng: FuzzRng, seed: Seed, text: string): Uint8Array {
  let header = Buffer.from(text, 'utf8');
  if (rng.chance(0.7)) header = Buffer.concat([header, Buffer.alloc((8 - (header.length % 8)) % 8, 0x20)]);
  const oldLength = Number(Buffer.from(seed.bytes).readBigUInt64LE(0));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(rng.chance(0.9) ? header.length : oldLength));
  return Buffer.concat([prefix, header, seed.bytes.subarray(8 + oldLength)]);
}

const QUANT_KEY = 'xverse_ts.quantized_tensors';

function mutateSafetensors(rng: FuzzRng, seed: Seed): { bytes: Uint8Array; what: string } {
  const mode = rng.weighted([[4, 'binary'], [4, 'header'], [seed.header['__metadata__'] && QUANT_KEY in (seed.header['__metadata__'] as object) ? 2 : 0, 'quant'], [1, 'headerText']] as const);
  if (mode === 'binary') {
    const m = mutateBinary(rng, seed.bytes, seed.layout);
    return { bytes: m.value, what: m.what };
  }
  if (mode === 'headerText') {
    const n = Number(Buffer.from(seed.bytes).readBigUInt64LE(0));
    const m = mutateText(rng, Buffer.from(seed.bytes.subarray(8, 8 + n)).toString('utf8'));
    return { bytes: withHeader(rng, seed, Buffer.from(m.value).toString('latin1')), what: m.what };
  }
  if (mode === 'quant') {
    // Mutates the JSON inside the quantization metadata string.
    const header = structuredClone(seed.header) as Record<string, Record<string, unknown>>;
    const inner = JSON.parse(header['__metadata__']![QUANT_KEY] as string) as unknown;
    const m = mutateJson(rng, inner);
    header['__metadata__']![QUANT_KEY] = m.value;
    return { bytes: withHeader(rng, seed, JSON.stringify(header)), what: `quant metadata: ${m.what}` };
  }
  // Structure-aware edits of the header, mostly of the tensor entries (not __metadata__).
  const m = mutateJson(rng, seed.header, (p) => p[0] === '__metadata__' && p.length > 1);
  return { bytes: withHeader(rng, seed, m.value), what: `header: ${m.what}` };
}

export const safetensorsTarget: FuzzTarget<{ seeds: Seed[]; file: string }> = {
  setup(dir) {
    const mixed = path.join(dir, 'mixed.safetensors');
    writeMixedSeed(mixed);
    const seeds = [
      loadSeed('xverse-tiny', shared('xverse-tiny', 'safetensors', 'model.safetensors')),
      loadSeed('stories260K', repoFile('models', 'stories260K', 'model.safetensors')),
      loadSeed('quantized', mixed),
    ];
    const file = path.join(dir, 'case.safetensors');
    for (const s of seeds) { // the unmutated seeds must parse, or the oracle tests nothing
      fs.writeFileSync(file, s.bytes);
      readAllSafetensors(file);
    }
    return { seeds, file };
  },
  make({ seeds, file }, rng) {
    // The small mixed-dtype seed most often: it has the most kinds of entries per byte written.
    const seed = rng.weighted([[3, seeds[0]!], [1, seeds[1]!], [6, seeds[2]!]]);
    const m = mutateSafetensors(rng, seed);
    return {
      what: `${seed.name}: ${m.what}`,
      names: [file],
      run: () => {
        fs.writeFileSync(file, m.bytes);
        readAllSafetensors(file);
      },
    };
  },
};

const SAFETENSORS_TYPES: Readonly<Record<string, TensorType>> = { F32: 'f32', F16: 'f16', BF16: 'bf16', Q8_0: 'q8_0', Q4_0: 'q4_0' };

function readAllSafetensors(file: string): void {
  using(SafetensorsFile.open(file), (st) => {
    for (const [name, e] of st.tensors) {
      const t = st.read(name); // unloadable dtypes throw a clean FormatError here
      const type = SAFETENSORS_TYPES[e.dtype];
      if (!type) throw new OracleFailure(`tensor "${name}" of dtype ${e.dtype} was read`);
      checkTensor(name, t, type, e.shape, e.byteLength);
    }
  });
}

// ---- index files -------------------------------------------------------------------------------

interface IndexSeed { name: string; dir: string; index: string; json: unknown; shards: string[] }

export const checkpointIndexTarget: FuzzTarget<IndexSeed[]> = {
  setup(dir) {
    // Sharded safetensors: the mixed-dtype tensors spread over three shards.
    const stDir = path.join(dir, 'st');
    const tensors: Array<[string, Tensor]> = Array.from({ length: 6 }, (_, i) =>
      [`layer.${i}.weight`, { dtype: 'f32', shape: [4, 8], data: f32(32, i) }] as [string, Tensor]);
    writeCheckpoint(stDir, tensorSources(tensors), { maxShardBytes: 300 });
    // Sharded torch: the fixture's shards, linked next to the mutated index.
    const binDir = path.join(dir, 'bin');
    fs.mkdirSync(binDir);
    const binShards = ['pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin'];
    for (const s of binShards) fs.symlinkSync(shared('xverse-tiny', 'bin-sharded', s), path.join(binDir, s));
    const seeds: IndexSeed[] = [
      {
        name: 'safetensors index', dir: stDir, index: path.join(stDir, 'model.safetensors.index.json'),
        json: JSON.parse(fs.readFileSync(path.join(stDir, 'model.safetensors.index.json'), 'utf8')),
        shards: fs.readdirSync(stDir).filter((f) => f.endsWith('.safetensors')).map((f) => path.join(stDir, f)),
      },
      {
        name: 'torch index', dir: binDir, index: path.join(binDir, 'pytorch_model.bin.index.json'),
        json: JSON.parse(fs.readFileSync(shared('xverse-tiny', 'bin-sharded', 'pytorch_model.bin.index.json'), 'utf8')),
        shards: binShards.map((s) => path.join(binDir, s)),
      },
    ];
    for (const s of seeds) {
      fs.writeFileSync(s.index, JSON.stringify(s.json));
      readAllCheckpoint(s.index);
    }
    return seeds;
  },
  make(seeds, rng) {
    const seed = seeds[rng.int(seeds.length)]!;
    const m = rng.chance(0.8) ? mutateJson(rng, seed.json) : mutateText(rng, JSON.stringify(seed.json, null, 2));
    return {
      what: `${seed.name}: ${m.what}`,
      // A shard's own error names the shard; every other error names the index.
      names: [seed.index, ...seed.shards, seed.dir],
      run: () => {
        fs.writeFileSync(seed.index, m.value);
        readAllCheckpoint(seed.index);
      },
    };
  },
};

const TYPES: Readonly<Record<string, TensorType>> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };

function readAllCheckpoint(index: string): void {
  using(openCheckpoint(index), (source) => {
    for (const name of source.names()) {
      const e = source.entry(name);
      if (!e) throw new OracleFailure(`"${name}" is listed but has no entry`);
      const t = source.read(name);
      checkTensor(name, t, TYPES[e.dtype]!, e.shape, e.byteLength);
    }
  });
}
