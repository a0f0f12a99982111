/**
 * Fuzz targets for the JSON files of a model folder: tokenizer.json + tokenizer_config.json
 * (loadTokenizer, then encode/decode), config.json (parseModelConfig) and generation_config.json
 * (parseGenerationConfig), each read with readJsonFile as the loaders do.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readJsonFile } from '../../../src/formats/file-io.js';
import { parseGenerationConfig } from '../../../src/generation/config.js';
import { parseModelConfig } from '../../../src/model/config.js';
import { loadTokenizer } from '../../../src/tokenizer/load.js';
import { FuzzRng, OracleFailure, mutateJson, mutateText, type FuzzTarget } from '../../helpers/fuzz.js';
import { repoFile, shared } from './common.js';

const SAMPLES = ['hello world', '<|startofthink|>x', '你好世界 é\n', ' ', ''];

interface TokenizerContext { dir: string; json: unknown; config: unknown }

export const tokenizerJsonTarget: FuzzTarget<TokenizerContext> = {
  setup(dir) {
    const src = shared('xverse-tiny', 'safetensors');
    const json = JSON.parse(fs.readFileSync(path.join(src, 'tokenizer.json'), 'utf8')) as unknown;
    const config = JSON.parse(fs.readFileSync(path.join(src, 'tokenizer_config.json'), 'utf8')) as unknown;
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
    useTokenizer(dir);
    return { dir, json, config };
  },
  make({ dir, json, config }, rng) {
    const which = rng.chance(0.7) ? 'tokenizer.json' : 'tokenizer_config.json';
    // Most edits go to the pipeline and special tokens, not to the 510 vocabulary entries and merges.
    const m = which === 'tokenizer.json'
      ? mutate(rng, json, (p) => p[0] === 'model' && (p[1] === 'vocab' || p[1] === 'merges') && p.length > 2)
      : mutate(rng, config, () => false);
    const other = which === 'tokenizer.json' ? ['tokenizer_config.json', config] as const : ['tokenizer.json', json] as const;
    return {
      what: `${which}: ${m.what}`,
      names: [path.join(dir, 'tokenizer.json'), path.join(dir, 'tokenizer_config.json')],
      run: () => {
        fs.writeFileSync(path.join(dir, which), m.value);
        fs.writeFileSync(path.join(dir, other[0]), JSON.stringify(other[1]));
        useTokenizer(dir);
      },
    };
  },
};

function mutate(rng: FuzzRng, doc: unknown, skip: (p: readonly (string | number)[]) => boolean): { value: string | Uint8Array; what: string } {
  return rng.chance(0.8) ? mutateJson(rng, doc, skip) : mutateText(rng, JSON.stringify(doc, null, 2));
}

function useTokenizer(dir: string): void {
  const tok = loadTokenizer(dir);
  for (const text of SAMPLES) {
    const ids = tok.encode(text);
    if (ids.some((id) => !Number.isInteger(id) || id < 0 || id >= tok.vocabSize)) throw new OracleFailure(`encode gave an id outside the vocabulary of ${tok.vocabSize}`);
    tok.decode(ids);
    tok.decode(ids, { skipSpecialTokens: true });
  }
}

interface ConfigContext { file: string; seeds: unknown[] }

function configTarget(name: string, seeds: () => unknown[], parse: (json: unknown, file: string) => unknown): FuzzTarget<ConfigContext> {
  return {
    setup(dir) {
      const file = path.join(dir, name);
      const docs = seeds();
      for (const d of docs) parse(d, file);
      return { file, seeds: docs };
    },
    make({ file, seeds: docs }, rng) {
      const m = mutate(rng, rng.pick(docs), () => false);
      return {
        what: m.what,
        names: [file],
        run: () => {
          fs.writeFileSync(file, m.value);
          parse(readJsonFile(file), file);
        },
      };
    },
  };
}

const readSeed = (file: string): unknown => JSON.parse(fs.readFileSync(file, 'utf8'));

export const modelConfigTarget = configTarget('config.json', () => [
  readSeed(shared('xverse-tiny', 'safetensors', 'config.json')),
  readSeed(repoFile('models', 'stories260K', 'config.json')),
  // Every optional field, so that each has a value to mutate.
  {
    model_type: 'llama', hidden_act: 'silu', hidden_size: 64, intermediate_size: 172, num_hidden_layers: 2,
    num_attention_heads: 8, num_key_value_heads: 4, head_dim: 8, vocab_size: 512, max_position_embeddings: 256,
    rms_norm_eps: 1e-5, rope_theta: 500000, rope_scaling: { type: 'dynamic', factor: 2 }, tie_word_embeddings: true,
    bos_token_id: 1, eos_token_id: [2, 3], pad_token_id: 0, max_tokenizer_truncation: 6144, chat_format: 'v2',
  },
], parseModelConfig);

export const generationConfigTarget = configTarget('generation_config.json', () => [
  readSeed(shared('xverse-tiny', 'safetensors', 'generation_config.json')),
  readSeed(repoFile('models', 'stories260K', 'generation_config.json')),
], parseGenerationConfig);
