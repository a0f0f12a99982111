import fs from 'node:fs';
import { FormatError } from '../errors.js';
import type { WeightSource } from '../formats/checkpoint.js';
import { GgufFile, ggufRowCount, type GgufTensorInfo } from '../formats/gguf.js';
import { GGUF_ARCHITECTURES, ggufRowOfHfRow, hfTensorName, isGgufArchitecture, permutedProjection, type GgufArchitecture } from '../formats/gguf-names.js';
import { SUPPORTED_GGML_TYPES } from '../formats/gguf-types.js';
import type { TensorEntry } from '../formats/tensor-file.js';
import { DEQUANT_FORMATS, dequantizeBlocks, isDequantType, type DequantType } from '../tensor/dequant.js';
import { tensorFromBytes, type Tensor } from '../tensor/tensor.js';

/**
 * A GGUF file (llama.cpp's `xverse` or `llama` architecture) as a WeightSource with Hugging Face
 * tensor names and layouts, so the model loader treats it like a safetensors checkpoint:
 * - names: `token_embd.weight` → `model.embed_tokens.weight`, `blk.N.attn_q.weight` →
 *   `model.layers.N.self_attn.q_proj.weight`, … (gguf-names.ts); other tensors keep their names;
 * - shapes: GGUF dims reversed (ne0, the contiguous axis, is the last PyTorch dim);
 * - q/k projections: llama.cpp's per-head row permutation is undone (q per attention head, k per
 *   key/value head), row by row, so any row range can be read;
 * - types: F32, F16, BF16, Q8_0 and Q4_0 are handed out as stored (the backends multiply them
 *   directly); Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K are dequantized to F32 as rows are read, a
 *   few MiB at a time; any other type is refused when the file is opened.
 * Data is read with positional reads of just the rows asked for.
 */
export interface GgufWeightSource extends WeightSource {
  readonly gguf: GgufFile;
  readonly architecture: GgufArchitecture;
  /** The GGUF name behind a (Hugging Face) tensor name, for messages. */
  ggufName(name: string): string | undefined;
}

/** Raw bytes read per step when a tensor is transformed on read (un-permuted or dequantized). */
const CHUNK_BYTES = 4 << 20;

/** The layout llama.cpp's converters write: q/k rows permuted for adjacent-pair RoPE. */
const PERMUTED_LAYOUT = 'Meta AI original pth';

interface SourceTensor {
  readonly entry: TensorEntry;
  readonly info: GgufTensorInfo;
  /** Rows per head of a permuted q/k projection. */
  readonly headRows?: number;
  /** Set when the stored blocks are decoded to f32 on read. */
  readonly dequant?: DequantType;
}

export function openGgufWeights(file: string): GgufWeightSource {
  if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) throw new FormatError(`${file}: no such file`);
  const gguf = GgufFile.open(file);
  try {
    return new GgufWeights(gguf);
  } catch (err) {
    gguf.close();
    throw err;
  }
}

/** `general.architecture`, checked to be one xverse-ts runs. */
export function ggufArchitecture(gguf: GgufFile): GgufArchitecture {
  const arch = gguf.metadata.string('general.architecture');
  if (arch === undefined) throw new FormatError(`${gguf.path}: metadata "general.architecture" is missing`);
  if (!isGgufArchitecture(arch)) {
    throw new FormatError(`${gguf.path}: general.architecture "${arch}" is not supported (supported: ${GGUF_ARCHITECTURES.join(', ')})`);
  }
  return arch;
}

class GgufWeights implements GgufWeightSource {
  readonly architecture: GgufArchitecture;
  readonly description: string;
  readonly files: readonly string[];
  private readonly tensors = new Map<string, SourceTensor>();
  private readonly ggufNames = new Map<string, string>();
  private scratch = new Uint8Array(0);

  constructor(readonly gguf: GgufFile) {
    this.description = gguf.path;
    this.files = [gguf.path];
    this.architecture = ggufArchitecture(gguf);
    const layoutKey = `${this.architecture}.tensor_data_layout`;
    const layout = gguf.metadata.string(layoutKey);
    if (layout !== undefined && layout !== PERMUTED_LAYOUT) {
      throw new FormatError(`${gguf.path}: ${layoutKey} "${layout}" is not supported (expected "${PERMUTED_LAYOUT}")`);
    }
    const heads = this.headCount(`${this.architecture}.attention.head_count`);
    const kvHeads = gguf.metadata.has(`${this.architecture}.attention.head_count_kv`) ? this.headCount(`${this.architecture}.attention.head_count_kv`) : heads;
    for (const info of gguf.tensors.values()) {
      const hfName = hfTensorName(info.name);
      const name = hfName ?? info.name;
      const projection = permutedProjection(info.name);
      const headRows = projection ? this.headRowsOf(info, projection === 'q' ? heads : kvHeads, projection) : undefined;
      const dequant = this.decodingOf(info, hfName !== null);
      this.tensors.set(name, { entry: this.entryOf(name, info, dequant), info, ...(headRows ? { headRows } : {}), ...(dequant ? { dequant } : {}) });
      this.ggufNames.set(name, info.name);
    }
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  entry(name: string): TensorEntry | undefined {
    return this.tensors.get(name)?.entry;
  }

  ggufName(name: string): string | undefined {
    return this.ggufNames.get(name);
  }

  read(name: string): Tensor {
    const t = this.tensor(name);
    const rows = ggufRowCount(t.info);
    return { ...this.readRows(name, 0, rows), shape: t.entry.shape };
  }

  readRows(name: string, first: number, count: number, into?: Uint8Array): Tensor {
    const t = this.tensor(name);
    const cols = t.info.dims[0] ?? 1;
    const type = t.dequant ? 'f32' : t.info.type.tensorType;
    if (!type) throw unsupportedType(this.gguf.path, t.info);
    if (!t.headRows && !t.dequant) return this.gguf.readRows(t.info.name, first, count, into);

    const rows = ggufRowCount(t.info);
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(count) || first < 0 || count < 0 || first + count > rows) {
      throw new RangeError(`${this.gguf.path}: rows ${first}…${first + count} of "${name}" are outside its ${rows} rows`);
    }
    const rawRowBytes = rows === 0 ? 0 : t.info.byteLength / rows;
    const outRowBytes = rows === 0 ? 0 : t.entry.byteLength / rows;
    const out = into ? into.subarray(0, count * outRowBytes) : new Uint8Array(count * outRowBytes);
    // Whole heads are read for a permuted projection: the rows of one head are shuffled among themselves.
    const unit = t.headRows ?? 1;
    const chunkRows = Math.max(unit, Math.floor(CHUNK_BYTES / Math.max(1, rawRowBytes) / unit) * unit);
    for (let start = first; start < first + count;) {
      const end = Math.min(first + count, start + chunkRows);
      const readFirst = Math.floor(start / unit) * unit;
      const readEnd = Math.min(rows, Math.ceil(end / unit) * unit);
      const raw = this.gguf.readRowBytes(t.info.name, readFirst, readEnd - readFirst, this.scratchOf((readEnd - readFirst) * rawRowBytes));
      for (let row = start; row < end; row++) {
        const src = (t.headRows ? ggufRowOfHfRow(row, t.headRows) : row) - readFirst;
        const rawRow = raw.subarray(src * rawRowBytes, (src + 1) * rawRowBytes);
        const dst = out.subarray((row - first) * outRowBytes, (row - first + 1) * outRowBytes);
        if (t.dequant) decodeRow(t.dequant, rawRow, dst, cols);
        else dst.set(rawRow);
      }
      start = end;
    }
    return tensorFromBytes(type, [count, cols], out);
  }

  close(): void {
    this.gguf.close();
  }

  private tensor(name: string): SourceTensor {
    const t = this.tensors.get(name);
    if (!t) throw new FormatError(`${this.gguf.path}: no tensor named "${name}"`);
    return t;
  }

  private scratchOf(bytes: number): Uint8Array {
    if (this.scratch.length < bytes) this.scratch = new Uint8Array(bytes);
    return this.scratch.subarray(0, bytes);
  }

  private headCount(key: string): number {
    const n = this.gguf.metadata.integer(key);
    if (n === undefined) throw new FormatError(`${this.gguf.path}: metadata "${key}" is missing`);
    if (n < 1) throw new FormatError(`${this.gguf.path}: metadata "${key}" must be at least 1, got ${n}`);
    return n;
  }

  private headRowsOf(info: GgufTensorInfo, heads: number, projection: 'q' | 'k'): number {
    const rows = info.shape[0] ?? 0;
    const headRows = rows / heads;
    if (info.shape.length !== 2 || !Number.isInteger(headRows) || headRows % 2 !== 0) {
      const key = `${this.architecture}.attention.${projection === 'q' ? 'head_count' : 'head_count_kv'}`;
      throw new FormatError(`${this.gguf.path}: tensor "${info.name}" has shape [${info.shape.join(', ')}], which is not ${heads} heads (${key}) of an even number of rows`);
    }
    return headRows;
  }

  /** Which decoder a tensor's type needs (none when the model takes the type as stored). */
  private decodingOf(info: GgufTensorInfo, isWeight: boolean): DequantType | undefined {
    if (info.type.tensorType) return undefined;
    const lower = info.type.name.toLowerCase();
    if (isDequantType(lower)) return lower;
    // Tensors the model does not use may have any type: they are never read.
    if (isWeight) throw unsupportedType(this.gguf.path, info);
    return undefined;
  }

  private entryOf(name: string, info: GgufTensorInfo, dequant: DequantType | undefined): TensorEntry {
    const base = { name, shape: info.shape, file: this.gguf.path, offset: info.offset };
    if (!dequant) return { ...base, dtype: info.type.name, byteLength: info.byteLength };
    const values = (info.byteLength / DEQUANT_FORMATS[dequant].blockBytes) * DEQUANT_FORMATS[dequant].blockSize;
    return { ...base, dtype: 'F32', byteLength: values * 4 };
  }
}

function unsupportedType(file: string, info: GgufTensorInfo): FormatError {
  const decoded = Object.keys(DEQUANT_FORMATS).map((t) => t.toUpperCase());
  return new FormatError(`${file}: tensor "${info.name}" has type ${info.type.name}, which is not supported (supported: ${SUPPORTED_GGML_TYPES.join(', ')}; ${decoded.join(', ')} dequantized to F32)`);
}

/** Decodes one row of blocks into f32 bytes at `dst` (through a temporary when `dst` is not 4-byte aligned). */
function decodeRow(type: DequantType, raw: Uint8Array, dst: Uint8Array, cols: number): void {
  if (dst.byteOffset % 4 === 0) {
    dequantizeBlocks(type, raw, new Float32Array(dst.buffer, dst.byteOffset, cols));
  } else {
    const values = dequantizeBlocks(type, raw, new Float32Array(cols));
    dst.set(new Uint8Array(values.buffer));
  }
}
