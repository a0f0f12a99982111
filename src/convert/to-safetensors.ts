import fs from 'node:fs';
import path from 'node:path';
import type { Backend } from '../backend/backend.js';
import { createBackend } from '../backend/select.js';
import { openCheckpoint, writeCheckpoint, type WeightSource } from '../formats/checkpoint.js';
import { readJsonObjectFile } from '../formats/file-io.js';
import { isGgufPath } from '../formats/gguf-detect.js';
import { writeGguf } from '../formats/gguf-writer.js';
import type { TensorSource } from '../formats/safetensors.js';
import { parseModelConfig, type ModelConfig } from '../model/config.js';
import { ggufModelConfig } from '../model/gguf-config.js';
import { openGgufWeights, type GgufWeightSource } from '../model/gguf-weights.js';
import { storageTypeFor, type QuantizeMode } from '../model/quant-policy.js';
import { DEFAULT_SHARD_BYTES } from '../model/save.js';
import { fileType, IGNORED_BUFFERS, readQuantized, StagingBuffer } from '../model/weights.js';
import { isQuantType, type DType, type TensorType } from '../tensor/dtype.js';
import { convertTensor } from '../tensor/convert.js';
import { GGUF_TOKENIZER_FILE } from '../tokenizer/load.js';
import { copySideFiles, prepareOutputFolder, withQuantizationConfig, writeConfigJson } from './model-folder.js';
import { hfConfigJson } from './hf-config.js';

export interface SafetensorsExportOptions {
  /** Quantize the matrices (same policy as quantize-on-load). */
  readonly quantize?: QuantizeMode;
  /** Float type of the matrices that are not quantized (default: as stored). */
  readonly dtype?: DType;
  readonly maxShardBytes?: number;
  /** Quantizes the blocks (default: createBackend(), i.e. native when built). */
  readonly backend?: Backend;
  readonly onProgress?: (done: number, total: number, name: string) => void;
}

/**
 * Writes a Hugging Face-layout folder (safetensors weights, config.json, tokenizer) from a model
 * folder (safetensors or PyTorch .bin) or a GGUF file, one tensor at a time: each is read,
 * converted or quantized (in row chunks) and written before the next is read, so memory stays
 * near the largest single tensor whatever the model's size. A GGUF source's config.json is built
 * from its metadata and its tokenizer is kept as a vocabulary-only `tokenizer.gguf`.
 */
export function exportSafetensors(input: string, output: string, options: SafetensorsExportOptions = {}): string[] {
  const gguf = isGgufPath(input);
  const sourceDir = gguf ? null : fs.statSync(input).isDirectory() ? input : path.dirname(input);
  const source: WeightSource = gguf ? openGgufWeights(input) : openCheckpoint(input);
  try {
    const config: ModelConfig = gguf ? ggufModelConfig((source as GgufWeightSource).gguf) : parseModelConfig(readJsonObjectFile(path.join(sourceDir!, 'config.json')), path.join(sourceDir!, 'config.json'));
    const backend = options.backend ?? createBackend();
    const names = source.names().filter((n) => !IGNORED_BUFFERS.test(n));
    const staging = new StagingBuffer();
    const matrixTypes: Partial<Record<TensorType, number>> = {};
    let done = 0;
    const sources: TensorSource[] = names.map((name) => {
      const entry = source.entry(name)!;
      const stored = fileType(source, name);
      const type: TensorType = entry.shape.length === 2
        ? storageTypeFor(name, entry.shape, stored, { ...options, tiedHead: config.tieWordEmbeddings })
        : options.dtype && !isQuantType(stored) ? options.dtype : stored;
      if (entry.shape.length === 2) matrixTypes[type] = (matrixTypes[type] ?? 0) + 1;
      return {
        name, dtype: type, shape: entry.shape,
        read: () => {
          const t = isQuantType(type) && stored !== type
            ? readQuantized(source, name, entry.shape, type, backend, staging)
            : convertTensor(source.read(name), type);
          options.onProgress?.(++done, names.length, name);
          return t;
        },
      };
    });
    const to = prepareOutputFolder(output, sourceDir);
    const written = writeCheckpoint(to, sources, { maxShardBytes: options.maxShardBytes ?? DEFAULT_SHARD_BYTES });
    const floatType = Object.keys(matrixTypes).find((t) => !isQuantType(t as TensorType)) as TensorType | undefined;
    const baseConfig = gguf ? hfConfigJson(config, floatType) : readJsonObjectFile(path.join(sourceDir!, 'config.json'));
    written.push(writeConfigJson(to, withQuantizationConfig(baseConfig, matrixTypes)));
    if (sourceDir !== null) {
      written.push(...copySideFiles(sourceDir, to));
    } else {
      const meta = (source as GgufWeightSource).gguf.metadata.entries;
      const vocab = new Map([...meta].filter(([k]) => k.startsWith('tokenizer.') || k === 'general.architecture'));
      writeGguf(path.join(to, GGUF_TOKENIZER_FILE), vocab, []);
      written.push(GGUF_TOKENIZER_FILE);
    }
    return written;
  } finally {
    source.close();
  }
}
