import fs from 'node:fs';
import path from 'node:path';
import { FormatError } from '../errors.js';
import { isQuantType, type TensorType } from '../tensor/dtype.js';

/**
 * Pieces of writing a Hugging Face-layout model folder shared by `savePretrained` and
 * `xverse convert --to safetensors`: clearing an earlier save's weights, the `quantization_config`
 * entry of config.json, and copying the source folder's side files (tokenizer, generation config…).
 */

/** Files of a model folder that hold weights (never copied: the weights are written anew). */
const WEIGHT_FILE = /(\.safetensors|\.safetensors\.index\.json|\.gguf|\.pt|\.pth|\.ckpt|\.bin\.index\.json)$|^(?!tokenizer).*\.bin$/;
/** Weight files a previous save may have left that the new index would not mention. */
const OUR_WEIGHT_FILE = /^model(-\d{5}-of-\d{5})?\.safetensors$|^model\.safetensors\.index\.json$/;
/** Side files larger than this are not copied (a tokenizer or config is far smaller). */
const MAX_SIDE_FILE_BYTES = 256 << 20;

/** Name of the config.json entry describing block-quantized weights. */
export const QUANTIZATION_CONFIG_KEY = 'quantization_config';

/** Creates `dir` (refusing the source folder itself) and removes the weights of an earlier save there. */
export function prepareOutputFolder(dir: string, sourceDir: string | null): string {
  const to = path.resolve(dir);
  if (sourceDir !== null && path.resolve(sourceDir) === to) throw new FormatError(`${dir}: is the folder the model was loaded from; save to another folder`);
  if (fs.existsSync(to) && !fs.statSync(to).isDirectory()) throw new FormatError(`${dir}: exists and is not a folder`);
  fs.mkdirSync(to, { recursive: true });
  for (const f of fs.readdirSync(to)) if (OUR_WEIGHT_FILE.test(f)) fs.rmSync(path.join(to, f));
  return to;
}

/**
 * config.json content with `quantization_config` set from the matrices' storage types when any is
 * block-quantized (removed otherwise): the most common block type names the mode; per-matrix
 * types are in the safetensors metadata.
 */
export function withQuantizationConfig(config: Record<string, unknown>, matrixTypes: Partial<Record<TensorType, number>>): Record<string, unknown> {
  const out = { ...config };
  delete out[QUANTIZATION_CONFIG_KEY];
  const quantTypes = (Object.keys(matrixTypes) as TensorType[]).filter(isQuantType);
  if (quantTypes.length > 0) {
    out[QUANTIZATION_CONFIG_KEY] = {
      quant_method: 'xverse-ts',
      format: 'gguf-blocks',
      block_size: 32,
      weight_type: quantTypes.sort((a, b) => (matrixTypes[b] ?? 0) - (matrixTypes[a] ?? 0))[0],
      matrix_types: matrixTypes,
    };
  }
  return out;
}

/** Writes config.json into `dir`; returns its file name. */
export function writeConfigJson(dir: string, config: Record<string, unknown>): string {
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  return 'config.json';
}

/** Copies every small non-weight file of `from` (tokenizer files, generation_config.json, …) except config.json; returns their names. */
export function copySideFiles(from: string, to: string): string[] {
  const copied: string[] = [];
  for (const f of fs.readdirSync(from)) {
    const src = path.join(from, f);
    const stat = fs.statSync(src);
    if (!stat.isFile() || f === 'config.json' || WEIGHT_FILE.test(f) || stat.size > MAX_SIDE_FILE_BYTES) continue;
    fs.copyFileSync(src, path.join(to, f));
    copied.push(f);
  }
  return copied;
}
