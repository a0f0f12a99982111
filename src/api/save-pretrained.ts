import { copySideFiles, prepareOutputFolder, withQuantizationConfig, writeConfigJson } from '../convert/model-folder.js';
import { readJsonFile } from '../formats/file-io.js';
import { matrixTypes } from '../model/quantize.js';
import { saveWeights } from '../model/save.js';
import type { XverseModel } from '../model/xverse.js';
import path from 'node:path';

/**
 * savePretrained: weights (safetensors), config.json (the source's, plus `quantization_config`
 * when any matrix is block-quantized) and every other small file of the source folder.
 */
export function saveModelFolder(source: { path: string; model: XverseModel }, dir: string, options: { maxShardBytes?: number }): string[] {
  const to = prepareOutputFolder(dir, source.path);
  const written = saveWeights(source.model, to, options);
  const config = readJsonFile(path.join(source.path, 'config.json')) as Record<string, unknown>;
  written.push(writeConfigJson(to, withQuantizationConfig(config, matrixTypes(source.model.weights, source.model.backend))));
  written.push(...copySideFiles(source.path, to));
  return written;
}
