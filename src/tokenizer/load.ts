import fs from 'node:fs';
import path from 'node:path';

import { FormatError } from '../errors.js';
import { isGgufPath } from '../formats/gguf-detect.js';
import { GgufTokenizer } from './gguf-tokenizer.js';
import { HFTokenizer } from './hf-tokenizer.js';
import { Llama2cTokenizer } from './llama2c-tokenizer.js';
import type { SpecialTokenOverrides } from './special-ids.js';
import type { Tokenizer } from './tokenizer.js';

const HF_FILE = 'tokenizer.json';
const HF_CONFIG_FILE = 'tokenizer_config.json';
const LLAMA2C_FILE = 'tokenizer.bin';
/** A GGUF vocabulary kept in a model folder (what `xverse convert` writes for a GGUF source). */
export const GGUF_TOKENIZER_FILE = 'tokenizer.gguf';

/**
 * Opens the tokenizer of a model folder or a tokenizer file.
 * Folder: `tokenizer.json` (with `tokenizer_config.json` when present) → HFTokenizer, otherwise
 * `tokenizer.bin` → Llama2cTokenizer, otherwise `tokenizer.gguf` → GgufTokenizer. File: `*.json` → HFTokenizer (its folder's tokenizer_config.json
 * is used when present); `*.gguf` or a file starting with the GGUF magic → GgufTokenizer (the
 * tokenizer in its metadata); anything else → llama2.c format.
 * `overrides` are the model's special-token ids (config.json); numbers win over the tokenizer's own.
 */
export function loadTokenizer(pathOrDir: string, overrides: SpecialTokenOverrides = {}): Tokenizer {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(pathOrDir);
  } catch (err) {
    throw new FormatError(`${pathOrDir}: no such tokenizer file or model folder`, { cause: err });
  }

  if (stat.isDirectory()) {
    const json = path.join(pathOrDir, HF_FILE);
    if (isFile(json)) return HFTokenizer.fromFiles(json, optionalFile(path.join(pathOrDir, HF_CONFIG_FILE)), overrides);
    const bin = path.join(pathOrDir, LLAMA2C_FILE);
    if (isFile(bin)) return Llama2cTokenizer.fromFile(bin, overrides);
    const gguf = path.join(pathOrDir, GGUF_TOKENIZER_FILE);
    if (isFile(gguf)) return GgufTokenizer.fromFile(gguf, overrides);
    throw new FormatError(`${pathOrDir}: no tokenizer found (looked for ${HF_FILE}, ${LLAMA2C_FILE} and ${GGUF_TOKENIZER_FILE})`);
  }

  if (pathOrDir.toLowerCase().endsWith('.json')) {
    return HFTokenizer.fromFiles(pathOrDir, optionalFile(path.join(path.dirname(pathOrDir), HF_CONFIG_FILE)), overrides);
  }
  if (isGgufPath(pathOrDir)) return GgufTokenizer.fromFile(pathOrDir, overrides);
  return Llama2cTokenizer.fromFile(pathOrDir, overrides);
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function optionalFile(file: string): string | undefined {
  return isFile(file) ? file : undefined;
}
