import path from 'node:path';
import type { Backend, KVCacheType } from '../backend/backend.js';
import { createBackend, type BackendChoice } from '../backend/select.js';
import { openCheckpoint } from '../formats/checkpoint.js';
import { readJsonFile } from '../formats/file-io.js';
import { parseModelConfig, type ModelConfig } from './config.js';
import { loadWeights, type LoadWeightsOptions } from './weights.js';
import { XverseModel } from './xverse.js';

export interface LoadModelOptions extends LoadWeightsOptions {
  /**
   * A backend instance, or which one to create (see createBackend): 'auto' (default; also set by
   * XVERSE_BACKEND) = native when its addon loads, else TypeScript with one warning.
   */
  backend?: Backend | BackendChoice;
  /** Worker threads of a native backend created here (default: the physical cores). */
  threads?: number;
  /** Receives the warning of an 'auto' backend that fell back to TypeScript (default: stderr, once). */
  onWarning?: (message: string) => void;
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
  const backend = typeof options.backend === 'object' ? options.backend : createBackend({
    ...(options.backend ? { backend: options.backend } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    ...(options.onWarning ? { onWarning: options.onWarning } : {}),
  });
  const source = openCheckpoint(dir);
  try {
    const weights = loadWeights(source, config, backend, options);
    return new XverseModel(config, backend, weights, options.maxBatch, options.kvCacheType);
  } finally {
    source.close();
  }
}
