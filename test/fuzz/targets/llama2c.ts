/** Fuzz targets for llama2.c files: tokenizer.bin (Llama2cTokenizer) and the v0 checkpoint (readLlama2cCheckpoint). */
import fs from 'node:fs';
import path from 'node:path';
import { readLlama2cCheckpoint } from '../../../src/formats/llama2c.js';
import { Llama2cTokenizer } from '../../../src/tokenizer/llama2c-tokenizer.js';
import { numel } from '../../../src/tensor/tensor.js';
import { OracleFailure, mutateBinary, type BinaryLayout, type Field, type FuzzTarget } from '../../helpers/fuzz.js';
import { shared } from './common.js';

const SAMPLES = ['Once upon a time', 'hello world', '你好 é\n', ''];

export const llama2cTokenizerTarget: FuzzTarget<{ seed: Uint8Array; layout: BinaryLayout }> = {
  setup() {
    const seed = new Uint8Array(fs.readFileSync(shared('stories260K', 'tok512.bin')));
    const b = Buffer.from(seed);
    const fields: Field[] = [{ name: 'max_token_len', offset: 0, size: 4 }];
    const boundaries = [0, 4];
    for (let at = 4, i = 0; at + 8 <= b.length; i++) {
      fields.push({ name: `token ${i} length`, offset: at + 4, size: 4 });
      boundaries.push(at, at + 4, at + 8);
      at += 8 + b.readInt32LE(at + 4);
    }
    useTokenizer(seed);
    return { seed, layout: { fields, boundaries, hot: [] } };
  },
  make({ seed, layout }, rng) {
    const m = mutateBinary(rng, seed, layout);
    return { what: m.what, names: ['tok512.bin'], run: () => useTokenizer(m.value) };
  },
};

function useTokenizer(bytes: Uint8Array): void {
  const tok = Llama2cTokenizer.fromBuffer(bytes, { source: 'tok512.bin' });
  for (const text of SAMPLES) {
    const ids = tok.encode(text, { addSpecialTokens: true });
    if (ids.some((id) => !Number.isInteger(id) || id < 0 || id >= tok.vocabSize)) throw new OracleFailure(`encode gave an id outside the vocabulary of ${tok.vocabSize}`);
    tok.decode(ids);
  }
}

export const llama2cCheckpointTarget: FuzzTarget<{ seed: Uint8Array; layout: BinaryLayout; file: string }> = {
  setup(dir) {
    const seed = new Uint8Array(fs.readFileSync(shared('stories260K', 'stories260K.bin')));
    const names = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'];
    const fields: Field[] = names.map((name, i) => ({ name, offset: 4 * i, size: 4 }));
    const file = path.join(dir, 'case.bin');
    fs.writeFileSync(file, seed);
    readAll(file);
    return { seed, layout: { fields, boundaries: [0, 4, 8, 12, 16, 20, 24, 28, seed.length - 4], hot: [[0, 28]] }, file };
  },
  make({ seed, layout, file }, rng) {
    const m = mutateBinary(rng, seed, layout);
    return {
      what: m.what,
      names: [file],
      run: () => {
        fs.writeFileSync(file, m.value);
        readAll(file);
      },
    };
  },
};

function readAll(file: string): void {
  const ckpt = readLlama2cCheckpoint(file);
  for (const [name, t] of ckpt.tensors) {
    if (t.data.length !== numel(t.shape)) throw new OracleFailure(`tensor "${name}" holds ${t.data.length} values, shape [${t.shape.join(', ')}]`);
  }
}
