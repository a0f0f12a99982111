import fs from 'node:fs';
import path from 'node:path';
import { FormatError } from '../errors.js';
import { readJsonFile } from '../formats/file-io.js';
import { matrixTypes } from '../model/quantize.js';
import { saveWeights } from '../model/save.js';
import type { XverseModel } from '../model/xverse.js';
import { isQuantType } from '../tensor/dtype.js';

/** Files of a model folder that hold weights (never copied: the weights are written anew). */
const WEIGHT_FILE = /(\.safetensors|\.safetensors\.index\.json|\.gguf|\.pt|\.pth|\.ckpt|\.bin\.index\.json)$|^(?!tokenizer).*\.bin$/;
/** Weight files a previous save may have left that the new index would not mention. */
const OUR_WEIGHT_FILE = /^model(-\d{5}-of-\d{5})?\.safetensors$|^model\.safetensors\.index\.json$/;
/** Side files larger than this are not copied (a tokenizer or config is far smaller). */
const MAX_SIDE_FILE_BYTES = 256 << 20;

/** Name of the config.json entry describing block-quantized weights. */
export const QUANTIZATION_CONFIG_KEY = 'quantization_config';

/**
 * savePretrained: weights (safetensors), config.json (the source's, plus `quantization_config`
 * when any matrix is block-quantized) and every other small file of the source folder.
 */
export function saveModelFolder(source: { path: string; model: XverseModel }, dir: string, options: { maxShardBytes?: number }): string[] {
  const from = path.resolve(source.path);
  const to = path.resolve(dir);
  if (from === to) throw new FormatError(`${dir}: is the folder the model was loaded from; save to another folder`);
  if (fs.existsSync(to) && !fs.statSync(to).isDirectory()) throw new FormatError(`${dir}: exists and is not a folder`);
  fs.mkdirSync(to, { recursive: true });
  for (const f of fs.readdirSync(to)) if (OUR_WEIGHT_FILE.test(f)) fs.rmSync(path.join(to, f));

  const written = saveWeights(source.model, to, options);

  const configFile = path.join(from, 'config.json');
  const config = readJsonFile(configFile) as Record<string, unknown>;
  const types = matrixTypes(source.model.weights, source.model.backend);
  const quantTypes = Object.keys(types).filter((t) => isQuantType(t as never));
  delete config[QUANTIZATION_CONFIG_KEY];
  if (quantTypes.length > 0) {
    config[QUANTIZATION_CONFIG_KEY] = {
      quant_method: 'xverse-ts',
      format: 'gguf-blocks',
      block_size: 32,
      // The most common block type names the mode; per-matrix types are in the safetensors metadata.
      weight_type: quantTypes.sort((a, b) => (types[b as never] ?? 0) - (types[a as never] ?? 0))[0],
      matrix_types: types,
    };
  }
  fs.writeFileSync(path.join(to, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  written.push('config.json');

  for (const f of fs.readdirSync(from)) {
    const src = path.join(from, f);
    const stat = fs.statSync(src);
    if (!stat.isFile() || f === 'config.json' || WEIGHT_FILE.test(f) || stat.size > MAX_SIDE_FILE_BYTES) continue;
    fs.copyFileSync(src, path.join(to, f));
    written.push(f);
  }
  return written;
}
