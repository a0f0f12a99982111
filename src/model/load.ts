import path from 'node:path';
import type { Backend, KVCacheType } from '../backend/backend.js';
import { TsBackend } from '../backend/ts/ts-backend.js';
import { openCheckpoint } from '../formats/checkpoint.js';
import { readJsonFile } from '../formats/file-io.js';
import { parseModelConfig, type ModelConfig } from './config.js';
import { loadWeights, type LoadWeightsOptions } from './weights.js';
import { XverseModel } from './xverse.js';

export interface LoadModelOptions extends LoadWeightsOptions {
  backend?: Backend;
  /** Most positions per forward pass (prefill micro-batch). */
  maxBatch?: number;
  /** KV cache element type (default: the backend's). */
  kvCacheType?: KVCacheType;
}

/** Reads `config.json` of a model folder. */
export function readModelConfig(dir: string): ModelConfig {
  const file = path.join(dir, 'config.json');
  return parseModelConfig(readJsonFile(file), file);
}

/** Loads a Hugging Face-layout model folder (config.json + safetensors weights). */
export function loadModel(dir: string, options: LoadModelOptions = {}): XverseModel {
  const config = readModelConfig(dir);
  const backend = options.backend ?? new TsBackend();
  const source = openCheckpoint(dir);
  try {
    const weights = loadWeights(source, config, backend, options);
    return new XverseModel(config, backend, weights, options.maxBatch, options.kvCacheType);
  } finally {
    source.close();
  }
}
