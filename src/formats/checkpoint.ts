import fs from 'node:fs';
import path from 'node:path';
import { FormatError } from '../errors.js';
import { byteSize, type Tensor } from '../tensor/tensor.js';
import { jsonSnippet, readJsonFile } from './file-io.js';
import { SafetensorsFile, writeSafetensors, type TensorSource } from './safetensors.js';
import type { TensorEntry } from './tensor-file.js';
import { TorchBinFile } from './torch-bin.js';

/** The tensors of a checkpoint, however many files they are spread over. */
export interface WeightSource {
  /** What was opened (a file or an index), for messages. */
  readonly description: string;
  /** Every file that holds tensors. */
  readonly files: readonly string[];
  names(): string[];
  entry(name: string): TensorEntry | undefined;
  read(name: string): Tensor;
  /** Rows first … first+count−1 of a tensor, read into `into` when given (the result views it). */
  readRows(name: string, first: number, count: number, into?: Uint8Array): Tensor;
  close(): void;
}

export const SAFETENSORS_INDEX = 'model.safetensors.index.json';
export const SAFETENSORS_SINGLE = 'model.safetensors';
export const TORCH_INDEX = 'pytorch_model.bin.index.json';
export const TORCH_SINGLE = 'pytorch_model.bin';

/** One file of tensors: what SafetensorsFile and TorchBinFile have in common. */
interface TensorFile {
  readonly tensors: ReadonlyMap<string, TensorEntry>;
  read(name: string): Tensor;
  readRows(name: string, first: number, count: number, into?: Uint8Array): Tensor;
  close(): void;
}
type TensorFileOpener = (file: string) => TensorFile;

const openSafetensors: TensorFileOpener = (file) => SafetensorsFile.open(file);
const openTorchBin: TensorFileOpener = (file) => TorchBinFile.open(file);

/**
 * Opens the weights of a Hugging Face model folder: `model.safetensors.index.json` (sharded) or
 * `model.safetensors` (single), else PyTorch's `pytorch_model.bin.index.json` or `pytorch_model.bin`
 * (safetensors wins when both are present, as in transformers). A lone `*.safetensors`, `*.bin` /
 * `*.pt` / `*.pth` file or index `*.json` also works.
 */
export function openCheckpoint(dirOrFile: string): WeightSource {
  const stat = fs.statSync(dirOrFile, { throwIfNoEntry: false });
  if (!stat) throw new FormatError(`${dirOrFile}: no such file or folder`);
  if (stat.isFile()) {
    if (dirOrFile.endsWith('.bin.index.json')) return openShardedTorch(dirOrFile);
    if (dirOrFile.endsWith('.json')) return openSharded(dirOrFile, openSafetensors);
    return openSingle(dirOrFile, /\.(bin|pt|pth)$/.test(dirOrFile) ? openTorchBin : openSafetensors);
  }
  const index = path.join(dirOrFile, SAFETENSORS_INDEX);
  if (fs.existsSync(index)) return openSharded(index, openSafetensors);
  const single = path.join(dirOrFile, SAFETENSORS_SINGLE);
  if (fs.existsSync(single)) return openSingle(single, openSafetensors);
  const files = fs.readdirSync(dirOrFile);
  const others = files.filter((f) => f.endsWith('.safetensors'));
  if (others.length === 1) return openSingle(path.join(dirOrFile, others[0]!), openSafetensors);
  const torchIndex = path.join(dirOrFile, TORCH_INDEX);
  if (fs.existsSync(torchIndex)) return openShardedTorch(torchIndex);
  const torchSingle = path.join(dirOrFile, TORCH_SINGLE);
  if (fs.existsSync(torchSingle)) return openSingle(torchSingle, openTorchBin);
  throw new FormatError(`${dirOrFile}: no weights found (looked for ${SAFETENSORS_INDEX}, ${SAFETENSORS_SINGLE} or one *.safetensors file, then ${TORCH_INDEX} or ${TORCH_SINGLE})`);
}

function openSingle(file: string, open: TensorFileOpener): WeightSource {
  const st = open(file);
  return {
    description: file,
    files: [file],
    names: () => [...st.tensors.keys()],
    entry: (name) => st.tensors.get(name),
    read: (name) => st.read(name),
    readRows: (name, first, count, into) => st.readRows(name, first, count, into),
    close: () => st.close(),
  };
}

/** PyTorch shards are checked up front: every listed shard must exist before any is parsed. */
function openShardedTorch(indexFile: string): WeightSource {
  const source = openSharded(indexFile, openTorchBin);
  for (const file of source.files) {
    if (!isFile(file)) {
      throw new FormatError(`${indexFile}: shard ${path.basename(file)} is listed but missing (or not a file)`);
    }
  }
  return source;
}

/** Whether `file` is a regular file; a name the OS refuses (too long…) is not one. */
function isFile(file: string): boolean {
  try {
    return fs.statSync(file, { throwIfNoEntry: false })?.isFile() ?? false;
  } catch {
    return false;
  }
}

/** `{"metadata": {...}, "weight_map": {tensor: shard file}}`; shards are opened lazily, once each. */
function openSharded(indexFile: string, openFile: TensorFileOpener): WeightSource {
  const index = readJsonFile(indexFile);
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new FormatError(`${indexFile}: missing "weight_map" object`);
  }
  const dir = path.dirname(indexFile);
  const shardOf = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMap as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard === '' || path.isAbsolute(shard) || shard.split(/[\\/]/).includes('..')) {
      throw new FormatError(`${indexFile}: weight_map["${name}"] must be a shard file name inside the folder, got ${jsonSnippet(shard)}`);
    }
    shardOf.set(name, path.join(dir, shard));
  }
  const files = [...new Set(shardOf.values())];
  const open = new Map<string, TensorFile>();
  const shard = (file: string): TensorFile => {
    let st = open.get(file);
    if (!st) {
      if (!isFile(file)) throw new FormatError(`${indexFile}: shard ${path.basename(file)} is listed but missing (or not a file)`);
      st = openFile(file);
      open.set(file, st);
    }
    return st;
  };
  const entry = (name: string): TensorEntry | undefined => {
    const file = shardOf.get(name);
    if (!file) return undefined;
    const e = shard(file).tensors.get(name);
    if (!e) throw new FormatError(`${indexFile}: tensor "${name}" is mapped to ${path.basename(file)} but that file does not contain it`);
    return e;
  };
  return {
    description: indexFile,
    files,
    names: () => [...shardOf.keys()],
    entry,
    read: (name) => {
      if (!entry(name)) throw new FormatError(`${indexFile}: no tensor named "${name}"`);
      return shard(shardOf.get(name)!).read(name);
    },
    readRows: (name, first, count, into) => {
      if (!entry(name)) throw new FormatError(`${indexFile}: no tensor named "${name}"`);
      return shard(shardOf.get(name)!).readRows(name, first, count, into);
    },
    close: () => {
      for (const st of open.values()) st.close();
      open.clear();
    },
  };
}

/**
 * Writes tensors as a Hugging Face checkpoint in `dir`: one `model.safetensors`, or — when they
 * exceed `maxShardBytes` — `model-0000k-of-0000n.safetensors` shards plus the index file, the
 * layout `save_pretrained` produces. Tensors are streamed one at a time.
 */
export function writeCheckpoint(dir: string, sources: readonly TensorSource[], options: { maxShardBytes?: number } = {}): string[] {
  const limit = options.maxShardBytes ?? Infinity;
  const shards: TensorSource[][] = [[]];
  let size = 0;
  for (const s of sources) {
    const bytes = byteSize(s.dtype, s.shape);
    if (size > 0 && size + bytes > limit) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1]!.push(s);
    size += bytes;
  }
  fs.mkdirSync(dir, { recursive: true });
  if (shards.length === 1) {
    writeSafetensors(path.join(dir, SAFETENSORS_SINGLE), shards[0]!, { format: 'pt' });
    return [SAFETENSORS_SINGLE];
  }
  const pad = (k: number) => String(k).padStart(5, '0');
  const names = shards.map((_, i) => `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`);
  const weightMap: Record<string, string> = {};
  let total = 0;
  shards.forEach((shard, i) => {
    writeSafetensors(path.join(dir, names[i]!), shard, { format: 'pt' });
    for (const s of shard) {
      weightMap[s.name] = names[i]!;
      total += byteSize(s.dtype, s.shape);
    }
  });
  const index = { metadata: { total_size: total }, weight_map: weightMap };
  fs.writeFileSync(path.join(dir, SAFETENSORS_INDEX), JSON.stringify(index, null, 2) + '\n');
  return [...names, SAFETENSORS_INDEX];
}
