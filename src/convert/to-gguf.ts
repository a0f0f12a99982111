import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, FormatError } from '../errors.js';
import { openCheckpoint, type WeightSource } from '../formats/checkpoint.js';
import { readJsonObjectFile, type JsonObject } from '../formats/file-io.js';
import { isGgufPath } from '../formats/gguf-detect.js';
import { gv, type GgufValue } from '../formats/gguf-metadata.js';
import { LLAMA_FILE_TYPE } from '../formats/gguf-types.js';
import { writeGguf, type GgufTensorWrite } from '../formats/gguf-writer.js';
import { parseModelConfig, type ModelConfig } from '../model/config.js';
import { ggufModelConfig } from '../model/gguf-config.js';
import { openGgufWeights } from '../model/gguf-weights.js';
import { hfConfigJson } from './hf-config.js';
import type { DType, QuantType, TensorType } from '../tensor/dtype.js';
import { canQuantize } from '../tensor/quant-format.js';
import { convertTensor } from '../tensor/convert.js';
import { byteSize, numel, tensorBytes, type Tensor } from '../tensor/tensor.js';
import { architectureMetadata, sizeLabel } from './gguf-hparams.js';
import { ggufTensorName, permuteHeadRows } from './gguf-names.js';
import { readGgufVocab, vocabMetadata } from './gguf-vocab.js';

/**
 * Export of a Hugging Face model folder (config.json, safetensors weights, tokenizer.json) to a
 * GGUF file that llama.cpp runs as architecture `xverse` (model_type xverse) or `llama`, with the
 * metadata, tensor names, tensor order, q/k row permutation and tensor types that llama.cpp's
 * `convert_hf_to_gguf.py` (+ `llama-quantize` for q4_0) produce. Tensors are streamed in row
 * chunks: read, permuted, converted and written one piece at a time, never the whole model.
 */

/** `--outtype` of llama.cpp's converter: the type of every 2-D weight (q8_0 falls back to F16 per tensor). */
export type GgufOutType = DType | 'q8_0';

export interface GgufExportOptions {
  /** Type of the 2-D weights (default f16, the converter's default); for a quantized export, the fallback for matrices that cannot be quantized. */
  readonly outtype?: GgufOutType;
  /** Quantize the 2-D weights: q8_0 like the converter's `--outtype q8_0`, q4_0 like `llama-quantize … q4_0`. */
  readonly quantize?: QuantType;
  /** `general.name` (default: the model folder's name, the converter's fallback). */
  readonly name?: string;
  readonly onProgress?: (p: { index: number; count: number; name: string; bytesDone: number; bytesTotal: number }) => void;
  readonly onWarning?: (message: string) => void;
}

export interface GgufExportResult {
  readonly file: string;
  readonly architecture: 'xverse' | 'llama';
  readonly fileType: number;
  readonly tensors: ReadonlyArray<{ readonly name: string; readonly type: TensorType; readonly dims: readonly number[] }>;
  readonly bytes: number;
}

/** Source bytes converted per step: bounds the memory of an export whatever the tensor size. */
const CHUNK_BYTES = 16 * 1024 * 1024;

interface PlannedTensor {
  readonly hfName: string;
  readonly name: string;
  /** Row-major (Hugging Face) shape. */
  readonly shape: readonly number[];
  readonly type: TensorType;
  /** Rows per head for q/k projections, whose rows are permuted. */
  readonly headRows?: number;
}

export function exportGguf(input: string, output: string, options: GgufExportOptions = {}): GgufExportResult {
  const stat = fs.statSync(input, { throwIfNoEntry: false });
  if (!stat) throw new FormatError(`${input}: no such file or folder`);
  const gguf = isGgufPath(input);
  const dir = stat.isFile() ? path.dirname(input) : input;
  const configFile = gguf ? input : path.join(dir, 'config.json');
  // A GGUF source (re-typing, e.g. f16 → q4_0, as llama-quantize does): its config is rebuilt from
  // the metadata and its tokenizer metadata is copied as it is.
  const ggufSource = gguf ? openGgufWeights(input) : null;
  let config: ModelConfig;
  let raw: JsonObject;
  try {
    config = ggufSource ? ggufModelConfig(ggufSource.gguf) : parseModelConfig(readJsonObjectFile(configFile), configFile);
    raw = ggufSource ? hfConfigJson(config) : readJsonObjectFile(configFile);
  } catch (err) {
    ggufSource?.close();
    throw err;
  }
  const arch = config.modelType === 'llama' ? 'llama' : 'xverse';
  const { quant, float } = resolveTypes(options);
  const fileType = LLAMA_FILE_TYPE[quant ?? float];
  if (config.ropeScaling?.type === 'dynamic') {
    options.onWarning?.(`${configFile}: dynamic NTK RoPE scaling has no GGUF equivalent; llama.cpp will run the model without it (fine up to ${config.maxPositionEmbeddings} tokens)`);
  }
  let vocab: Array<[string, GgufValue]>;
  try {
    vocab = ggufSource
      ? [...ggufSource.gguf.metadata.entries].filter(([k]) => k.startsWith('tokenizer.'))
      : vocabMetadata(readGgufVocab(dir, config.vocabSize, raw));
  } catch (err) {
    ggufSource?.close();
    throw err;
  }

  const source: WeightSource = ggufSource ?? openCheckpoint(input);
  try {
    const planned = planTensors(source, config, arch, quant, float, options.onWarning);
    const params = planned.reduce((s, t) => s + numel(t.shape), 0);
    const metadata = new Map<string, GgufValue>([
      ['general.architecture', gv.string(arch)],
      ['general.type', gv.string('model')],
      ['general.name', gv.string(options.name ?? ggufSource?.gguf.metadata.string('general.name') ?? path.basename(path.resolve(dir)))],
      ['general.size_label', gv.string(sizeLabel(params))],
      ...architectureMetadata(arch, raw, config, fileType),
      ...vocab,
      ['general.quantization_version', gv.u32(2)],
    ]);
    const tensors: GgufTensorWrite[] = planned.map((t) => ({
      name: t.name,
      type: t.type,
      dims: [...t.shape].reverse(),
      data: () => tensorChunks(source, t),
    }));
    const layout = writeGguf(output, metadata, tensors, { onTensor: options.onProgress });
    return {
      file: output,
      architecture: arch,
      fileType,
      tensors: planned.map((t) => ({ name: t.name, type: t.type, dims: [...t.shape].reverse() })),
      bytes: layout.fileSize,
    };
  } finally {
    source.close();
  }
}

function resolveTypes(options: GgufExportOptions): { quant: QuantType | undefined; float: DType } {
  const outtype = options.outtype ?? 'f16';
  if (outtype === 'q8_0') {
    if (options.quantize && options.quantize !== 'q8_0') throw new ConfigError(`--outtype q8_0 conflicts with --quantize ${options.quantize}`);
    return { quant: 'q8_0', float: 'f16' };
  }
  return { quant: options.quantize, float: outtype };
}

/**
 * The tensors in the converter's order (shard files sorted by name, tensors sorted by name within
 * each, as safetensors' `keys()` lists them), with their GGUF names and types.
 */
function planTensors(
  source: WeightSource, c: ModelConfig, arch: 'xverse' | 'llama', quant: QuantType | undefined, float: DType,
  warn: ((m: string) => void) | undefined,
): PlannedTensor[] {
  const where = source.description;
  const fileOf = (name: string) => path.basename(source.entry(name)!.file);
  const names = source.names().sort((a, b) => {
    const fa = fileOf(a);
    const fb = fileOf(b);
    return fa < fb ? -1 : fa > fb ? 1 : a < b ? -1 : a > b ? 1 : 0;
  });
  const planned: PlannedTensor[] = [];
  for (const hfName of names) {
    const name = ggufTensorName(hfName, where);
    if (name === null) continue;
    const shape = source.entry(hfName)!.shape;
    planned.push({ hfName, name, shape, type: 'f32', ...headRowsOf(name, shape, c, where) });
  }
  const has = (n: string) => planned.some((t) => t.name === n);
  if (!has('token_embd.weight')) throw new FormatError(`${where}: no model.embed_tokens.weight`);
  if (!has('output.weight') && arch === 'xverse') {
    // llama.cpp's xverse graph requires output.weight (its llama graph falls back to token_embd).
    if (!c.tieWordEmbeddings) warn?.(`${where}: no lm_head.weight; writing the embedding as output.weight`);
    const embd = planned.find((t) => t.name === 'token_embd.weight')!;
    planned.push({ ...embd, name: 'output.weight' });
  }
  const outputOrEmbd = has('output.weight') ? 'output.weight' : 'token_embd.weight';
  return planned.map((t) => ({ ...t, type: tensorType(t, quant, float, outputOrEmbd) }));
}

/**
 * Type choice, as the converter and llama-quantize make it: 1-D tensors and norms stay F32; other
 * weights take the quantized type when their rows are whole 32-value blocks, else the float type.
 * With q4_0 the output projection is Q8_0: llama-quantize keeps the tensor that produces the logits
 * at higher precision (it asks for Q6_K, which falls back to Q8_0 when rows are not whole 256-value
 * super-blocks; we have no Q6_K, so it is Q8_0 always). Without an output tensor, the tied
 * embedding plays that role.
 */
function tensorType(t: PlannedTensor, quant: QuantType | undefined, float: DType, outputName: string): TensorType {
  if (t.shape.length <= 1 || t.name.endsWith('_norm.weight')) return 'f32';
  if (!quant) return float;
  if (!canQuantize(t.shape[t.shape.length - 1]!)) return float;
  return quant === 'q4_0' && t.name === outputName ? 'q8_0' : quant;
}

/** q/k projections are permuted per head; checks their shape against the config first. */
function headRowsOf(name: string, shape: readonly number[], c: ModelConfig, where: string): { headRows?: number } {
  const heads = name.endsWith('.attn_q.weight') ? c.numHeads : name.endsWith('.attn_k.weight') ? c.numKvHeads : 0;
  if (heads === 0) return {};
  const rows = shape[0] ?? 0;
  // The converter's XverseModel divides n_head by n_kv_head for k when they differ (a GQA bug);
  // k is permuted per key/value head here, which is what llama.cpp's RoPE expects.
  if (shape.length !== 2 || rows !== heads * c.headDim || c.headDim % 2 !== 0) {
    throw new ConfigError(`${where}: ${name} has shape [${shape.join(', ')}], expected [${heads * c.headDim}, ${c.hiddenSize}] for ${heads} heads of ${c.headDim}`);
  }
  return { headRows: c.headDim };
}

/** Reads, permutes and converts a tensor a few MiB of rows at a time. */
function* tensorChunks(source: WeightSource, t: PlannedTensor): Generator<Uint8Array> {
  const entry = source.entry(t.hfName)!;
  if (t.shape.length <= 1) {
    yield tensorBytes(convertTensor(source.read(t.hfName), t.type));
    return;
  }
  const rows = t.shape[0]!;
  const rowBytes = rows === 0 ? 0 : entry.byteLength / rows;
  const unit = t.headRows ?? 1;
  const chunkRows = Math.max(unit, Math.floor(CHUNK_BYTES / Math.max(1, rowBytes) / unit) * unit);
  for (let first = 0; first < rows; first += chunkRows) {
    const count = Math.min(chunkRows, rows - first);
    let chunk: Tensor = source.readRows(t.hfName, first, count);
    if (t.headRows) {
      const data = permuteHeadRows(tensorBytes(chunk), rowBytes, t.headRows);
      chunk = { dtype: chunk.dtype, shape: chunk.shape, data: reinterpret(chunk, data) };
    }
    const out = convertTensor(chunk, t.type);
    if (out.data.byteLength !== byteSize(t.type, out.shape)) throw new FormatError(`${entry.file}: "${t.hfName}" rows ${first}… did not convert to ${t.type}`);
    yield tensorBytes(out);
  }
}

/** The permuted bytes as the chunk's own storage type. */
function reinterpret(like: Tensor, bytes: Uint8Array): Tensor['data'] {
  if (like.data instanceof Float32Array) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  if (like.data instanceof Uint16Array) return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  return bytes;
}
