/**
 * Fuzz targets for GGUF files: GgufFile (header, metadata, tensor infos, reading every tensor), and
 * the GGUF loaders built on it (the embedded tokenizer via loadTokenizer, the model via loadModel).
 */
import fs from 'node:fs';
import path from 'node:path';
import { GgufFile } from '../../../src/formats/gguf.js';
import { loadModel } from '../../../src/model/load.js';
import { loadTokenizer } from '../../../src/tokenizer/load.js';
import { OracleFailure, mutateBinary, type BinaryLayout, type Field, type FuzzTarget } from '../../helpers/fuzz.js';
import { checkTensor, shared, using } from './common.js';

interface Seed { name: string; bytes: Uint8Array; layout: BinaryLayout }

const SCALAR_BYTES: Readonly<Record<number, number>> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/** Walks a GGUF header, recording its count, length, type, dim and offset fields. */
function walkGguf(name: string, bytes: Uint8Array): Seed {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: Field[] = [];
  const boundaries: number[] = [0, 4, 8, 16, 24];
  let at = 0;
  const field = (what: string, size: Field['size'], keep = true): number => {
    if (keep) fields.push({ name: what, offset: at, size });
    const v = size === 8 ? Number(b.readBigUInt64LE(at)) : size === 4 ? b.readUInt32LE(at) : size === 2 ? b.readUInt16LE(at) : b[at]!;
    at += size;
    return v;
  };
  const string = (what: string, keep = true): string => {
    const n = field(`${what} length`, 8, keep);
    at += n;
    return b.toString('utf8', at - n, at);
  };
  at = 4;
  field('version', 4);
  const tensorCount = field('tensor count', 8);
  const kvCount = field('metadata count', 8);
  let alignment = 32;
  for (let i = 0; i < kvCount; i++) {
    boundaries.push(at);
    const key = string(`key ${i}`);
    const type = field(`type of ${key}`, 4);
    if (type === 8) {
      string(`value of ${key}`);
    } else if (type === 9) {
      const item = field(`item type of ${key}`, 4);
      const n = field(`length of ${key}`, 8);
      for (let k = 0; k < n; k++) {
        // Only some of a vocabulary's thousands of string lengths, so that structure fields get picked too.
        if (item === 8) string(`${key}[${k}]`, k % 997 === 0 || k === n - 1);
        else at += SCALAR_BYTES[item]!;
      }
    } else {
      if (key === 'general.alignment') alignment = b.readUInt32LE(at);
      fields.push({ name: `value of ${key}`, offset: at, size: SCALAR_BYTES[type]! as Field['size'] });
      at += SCALAR_BYTES[type]!;
    }
  }
  const offsets: number[] = [];
  for (let i = 0; i < tensorCount; i++) {
    boundaries.push(at);
    const tname = string(`tensor ${i} name`);
    const nDims = field(`${tname} n_dims`, 4);
    for (let d = 0; d < nDims; d++) field(`${tname} dim ${d}`, 8);
    field(`${tname} type`, 4);
    offsets.push(field(`${tname} offset`, 8));
  }
  const dataStart = Math.ceil(at / alignment) * alignment;
  boundaries.push(at, dataStart, ...offsets.map((o) => dataStart + o));
  return { name, bytes, layout: { fields, boundaries, hot: [[0, at]] } };
}

function readAllGguf(file: string): void {
  using(GgufFile.open(file), (g) => {
    for (const key of g.metadata.entries.keys()) g.metadata.get(key);
    for (const [name, info] of g.tensors) {
      const raw = g.readTensorBytes(name);
      if (raw.byteLength !== info.byteLength) throw new OracleFailure(`tensor "${name}": ${raw.byteLength} bytes read, ${info.byteLength} declared`);
      if (info.type.tensorType) checkTensor(name, g.readTensor(name), info.type.tensorType, info.shape, info.byteLength);
    }
  });
}

interface Context { seeds: Array<[number, Seed]>; file: string }

function ggufTarget(seedFiles: Array<[number, string, string[]]>, run: (file: string) => void): FuzzTarget<Context> {
  return {
    setup(dir) {
      const seeds = seedFiles.map(([weight, name, parts]): [number, Seed] =>
        [weight, walkGguf(name, new Uint8Array(fs.readFileSync(shared(...parts))))]);
      const file = path.join(dir, 'case.gguf');
      for (const [, s] of seeds) {
        fs.writeFileSync(file, s.bytes);
        run(file);
      }
      return { seeds, file };
    },
    make({ seeds, file }, rng) {
      const seed = rng.weighted(seeds);
      const m = mutateBinary(rng, seed.bytes, seed.layout);
      return {
        what: `${seed.name}: ${m.what}`,
        names: [file],
        run: () => {
          fs.writeFileSync(file, m.value);
          run(file);
        },
      };
    },
  };
}

const MODELS: Array<[number, string, string[]]> = [
  [6, 'q4_0', ['xverse-tiny', 'gguf', 'xverse-tiny-q4_0.gguf']],
  [3, 'q8_0', ['xverse-tiny', 'gguf', 'xverse-tiny-q8_0.gguf']],
  [1, 'f32', ['xverse-tiny', 'gguf', 'xverse-tiny-f32.gguf']],
];
const VOCABS: Array<[number, string, string[]]> = [
  [1, 'vocab-llama-spm', ['tokenizer-vectors', 'ggml-vocab-llama-spm.gguf']],
  [1, 'vocab-gpt-2', ['tokenizer-vectors', 'ggml-vocab-gpt-2.gguf']],
];

export const ggufFileTarget = ggufTarget([...MODELS, ...VOCABS.map(([, n, p]): [number, string, string[]] => [0.5, n, p])], readAllGguf);

const SAMPLES = ['hello world', 'Hello, World! 123', '你好世界', ' <|endoftext|> x\n\té', ''];

function useTokenizer(file: string): void {
  const tok = loadTokenizer(file);
  for (const text of SAMPLES) {
    const ids = tok.encode(text);
    if (ids.some((id) => !Number.isInteger(id) || id < 0 || id >= tok.vocabSize)) throw new OracleFailure(`encode(${JSON.stringify(text)}) gave ids outside 0..${tok.vocabSize - 1}`);
    tok.decode(ids);
  }
}

export const ggufTokenizerTarget = ggufTarget([[6, 'q4_0', MODELS[0]![2]], ...VOCABS], useTokenizer);

export const ggufModelTarget = ggufTarget(MODELS.slice(0, 2), (file) => {
  loadModel(file, { backend: 'typescript' });
});
