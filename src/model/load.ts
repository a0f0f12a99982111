import path from 'node:path';
import type { Backend, KVCacheType } from '../backend/backend.js';
import { createBackend, type BackendChoice } from '../backend/select.js';
import { openCheckpoint, type WeightSource } from '../formats/checkpoint.js';
import { readJsonFile } from '../formats/file-io.js';
import { isGgufPath } from '../formats/gguf-detect.js';
import { parseModelConfig, type ModelConfig } from './config.js';
import { checkGgufTensors, ggufModelConfig } from './gguf-config.js';
import { openGgufWeights } from './gguf-weights.js';
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

/** Reads `config.json` of a model folder, or the metadata of a GGUF file. */
export function readModelConfig(dirOrGguf: string): ModelConfig {
  if (isGgufPath(dirOrGguf)) {
    const source = openGgufWeights(dirOrGguf);
    try {
      return ggufModelConfig(source.gguf);
    } finally {
      source.close();
    }
  }
  const file = path.join(dirOrGguf, 'config.json');
  return parseModelConfig(readJsonFile(file), file);
}

/**
 * Loads a Hugging Face-layout model folder (config.json + safetensors weights), or a GGUF file
 * (a path ending in `.gguf`, or any file starting with the GGUF magic) of architecture `xverse`
 * or `llama`: config from its metadata, weights through GgufWeightSource.
 */
export function loadModel(dirOrGguf: string, options: LoadModelOptions = {}): XverseModel {
  if (isGgufPath(dirOrGguf)) {
    const source = openGgufWeights(dirOrGguf);
    try {
      const config = ggufModelConfig(source.gguf);
      checkGgufTensors(source.gguf, config);
      return build(config, source, options);
    } finally {
      source.close();
    }
  }
  const config = readModelConfig(dirOrGguf);
  const source = openCheckpoint(dirOrGguf);
  try {
    return build(config, source, options);
  } finally {
    source.close();
  }
}

function build(config: ModelConfig, source: WeightSource, options: LoadModelOptions): XverseModel {
  const backend = typeof options.backend === 'object' ? options.backend : createBackend({
    ...(options.backend ? { backend: options.backend } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    ...(options.onWarning ? { onWarning: options.onWarning } : {}),
  });
  const weights = loadWeights(source, config, backend, options);
  return new XverseModel(config, backend, weights, options.maxBatch, options.kvCacheType);
}
