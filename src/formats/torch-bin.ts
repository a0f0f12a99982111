import { FormatError } from '../errors.js';
import type { TensorType } from '../tensor/dtype.js';
import { formatShape, numel } from '../tensor/tensor.js';
import { RandomAccessFile } from './file-io.js';
import {
  describe, PickleDict, PickleGlobal, PickleObject, PickleTuple, PickleValueError, unpickle,
  type AllowedGlobal, type PickleValue,
} from './pickle.js';
import { TensorFile, type TensorEntry } from './tensor-file.js';
import { ZipArchive } from './zip.js';

/**
 * PyTorch `.bin` / `.pt` checkpoints as `torch.save` (≥ 1.6) writes them: a zip archive holding
 * `<stem>/data.pkl` (a pickled state_dict whose tensors point at storages by key), `<stem>/data/<key>`
 * (each storage's raw little-endian bytes, stored uncompressed) and `<stem>/version`. The pickle is
 * read by the restricted unpickler with the allow-list below; tensor bytes are then read in place
 * with positional reads, like safetensors.
 */

/** Element type of each torch storage class, in safetensors spelling; only the first three load as weights. */
const STORAGE_DTYPES: Readonly<Record<string, { dtype: string; bytes: number }>> = {
  BFloat16Storage: { dtype: 'BF16', bytes: 2 },
  HalfStorage: { dtype: 'F16', bytes: 2 },
  FloatStorage: { dtype: 'F32', bytes: 4 },
  // Recognised only so that a tensor of these types gets a clear "dtype not supported" when read.
  DoubleStorage: { dtype: 'F64', bytes: 8 },
  LongStorage: { dtype: 'I64', bytes: 8 },
  IntStorage: { dtype: 'I32', bytes: 4 },
  ShortStorage: { dtype: 'I16', bytes: 2 },
  CharStorage: { dtype: 'I8', bytes: 1 },
  ByteStorage: { dtype: 'U8', bytes: 1 },
  BoolStorage: { dtype: 'BOOL', bytes: 1 },
  ComplexFloatStorage: { dtype: 'C64', bytes: 8 },
  ComplexDoubleStorage: { dtype: 'C128', bytes: 16 },
};
const LOADABLE: Readonly<Record<string, TensorType>> = { BF16: 'bf16', F16: 'f16', F32: 'f32' };

/** data.pkl of a 65B model is ~100 KB; anything near this limit is not a state_dict. */
const MAX_PICKLE_BYTES = 64 * 1024 * 1024;
const MAX_DIMS = 16;

class StorageType extends PickleObject {
  constructor(readonly className: string, readonly dtype: string, readonly elementBytes: number) { super(); }
  describe(): string { return `torch.${this.className}`; }
}

/** One storage of the archive: its zip entry's bytes, `numel` elements of its type. */
class Storage extends PickleObject {
  constructor(readonly key: string, readonly type: StorageType, readonly numel: number, readonly offset: number) { super(); }
  describe(): string { return `storage "${this.key}" (${this.type.describe()})`; }
}

/** What `_rebuild_tensor_v2` was called with; validated once the tensor's name is known. */
class TensorRef extends PickleObject {
  constructor(readonly storage: Storage, readonly storageOffset: number, readonly shape: number[], readonly stride: number[]) { super(); }
  describe(): string { return `a tensor ${formatShape(this.shape)}`; }
}

export class TorchBinFile extends TensorFile {
  private constructor(file: RandomAccessFile) {
    super(file);
  }

  static open(path: string): TorchBinFile {
    const file = new RandomAccessFile(path);
    try {
      const bin = new TorchBinFile(file);
      bin.parse();
      return bin;
    } catch (err) {
      file.close();
      throw err;
    }
  }

  private parse(): void {
    const where = this.file.path;
    checkMagic(this.file);
    const zip = ZipArchive.open(this.file);
    const prefix = archivePrefix(zip, where);
    const byteorder = zip.entries.has(`${prefix}/byteorder`) ? new TextDecoder().decode(zip.readSmall(`${prefix}/byteorder`, 16)) : 'little';
    if (byteorder !== 'little') throw new FormatError(`${where}: tensors are stored ${JSON.stringify(byteorder)}-endian; only little-endian checkpoints are supported`);
    const pickleName = `${prefix}/data.pkl`;
    const pickleWhere = `${where}: ${pickleName}`;
    const storages = new Map<string, Storage>();
    const root = unpickle(zip.readSmall(pickleName, MAX_PICKLE_BYTES), {
      where: pickleWhere,
      globals: allowedGlobals(),
      persistentLoad: (pid) => loadStorage(pid, zip, prefix, storages),
    });
    if (!(root instanceof PickleDict)) throw new FormatError(`${pickleWhere}: expected a state_dict (a dict of tensors), found ${describe(root)}`);
    for (const [name, value] of root.map) {
      // Non-tensor values (e.g. an epoch counter) are not weights; they are skipped, not misread.
      if (!(value instanceof TensorRef)) continue;
      if (typeof name !== 'string') throw new FormatError(`${pickleWhere}: a tensor is keyed by ${describe(name)}, not a name`);
      this.tensors.set(name, tensorEntry(name, value, where));
    }
    if (this.tensors.size === 0) throw new FormatError(`${pickleWhere}: the state_dict holds no tensors`);
  }

  protected loadableType(entry: TensorEntry): TensorType {
    return loadableType(entry);
  }
}

/** Zip archives start with "PK"; torch's pre-1.6 format starts with a pickle (0x80 = PROTO). */
function checkMagic(file: RandomAccessFile): void {
  const where = file.path;
  if (file.size < 4) throw new FormatError(`${where}: not a PyTorch checkpoint (${file.size} bytes)`);
  const head = file.read(0, 4);
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return;
  const bytes = [...head].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  if (head[0] === 0x80) {
    throw new FormatError(`${where}: is a legacy (pre-1.6, non-zip) torch.save checkpoint, which is not supported; re-save it with torch >= 1.6 (torch.save(torch.load(f), f2)) or convert it to safetensors`);
  }
  throw new FormatError(`${where}: not a PyTorch checkpoint (expected a zip archive starting with "PK", found bytes ${bytes})`);
}

/** The archive's top folder: torch names it after the file stem ("archive/" in some versions). */
function archivePrefix(zip: ZipArchive, where: string): string {
  const pickles = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length !== 1) {
    throw new FormatError(`${where}: expected one <name>/data.pkl entry in the zip archive, found ${pickles.length} (not a torch.save checkpoint?)`);
  }
  return pickles[0]!.slice(0, -'/data.pkl'.length);
}

/** The "module.name" of every global a state_dict pickle may name (anything else is refused). */
export function torchAllowedGlobals(): string[] {
  return [...allowedGlobals().keys()];
}

function allowedGlobals(): Map<string, AllowedGlobal> {
  const globals = new Map<string, AllowedGlobal>();
  globals.set('collections.OrderedDict', {
    call: (args) => {
      if (args.length !== 0) throw new PickleValueError('collections.OrderedDict is only allowed with no arguments');
      return new PickleDict();
    },
  });
  const rebuild = (fn: string, arity: readonly number[]) => (args: readonly PickleValue[]): PickleValue => {
    if (!arity.includes(args.length)) throw new PickleValueError(`${fn} expects ${arity.join(' or ')} arguments, got ${args.length}`);
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof Storage)) throw new PickleValueError(`${fn}: first argument must be a storage, got ${describe(storage!)}`);
    return new TensorRef(storage, nonNegative(offset!, `${fn} storage offset`), intTuple(size!, `${fn} size`), intTuple(stride!, `${fn} stride`));
  };
  // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  globals.set('torch._utils._rebuild_tensor_v2', { call: rebuild('_rebuild_tensor_v2', [6, 7]) });
  globals.set('torch._utils._rebuild_tensor', { call: rebuild('_rebuild_tensor', [4]) });
  // nn.Parameter(data, requires_grad, backward_hooks): the data tensor is all a weight loader needs.
  globals.set('torch._utils._rebuild_parameter', {
    call: (args) => {
      if (args.length !== 3 || !(args[0] instanceof TensorRef)) throw new PickleValueError('_rebuild_parameter expects (tensor, requires_grad, backward_hooks)');
      return args[0];
    },
  });
  for (const [className, t] of Object.entries(STORAGE_DTYPES)) {
    // Storage classes are only named inside persistent ids, never called.
    globals.set(`torch.${className}`, { value: new StorageType(className, t.dtype, t.bytes) });
  }
  return globals;
}

/** persistent_load(("storage", storage_type, key, location, numel)) → the storage, checked against its zip entry. */
function loadStorage(pid: PickleValue, zip: ZipArchive, prefix: string, storages: Map<string, Storage>): Storage {
  const items = pid instanceof PickleTuple ? pid.items : [];
  const [tag, typeGlobal, key, location, count] = items;
  if (items.length !== 5 || tag !== 'storage' || typeof key !== 'string' || typeof location !== 'string') {
    throw new PickleValueError('persistent id must be ("storage", type, key, location, numel)');
  }
  const type = typeGlobal instanceof PickleGlobal ? typeGlobal.impl.value : undefined;
  if (!(type instanceof StorageType)) throw new PickleValueError(`storage "${key}": ${describe(typeGlobal!)} is not a torch storage type`);
  const elements = nonNegative(count!, `storage "${key}" size`);
  const seen = storages.get(key);
  if (seen) {
    if (seen.type !== type || seen.numel !== elements) throw new PickleValueError(`storage "${key}" is referenced as both ${seen.type.describe()} [${seen.numel}] and ${type.describe()} [${elements}]`);
    return seen;
  }
  const entry = `${prefix}/data/${key}`;
  if (!zip.entries.has(entry)) throw new PickleValueError(`storage "${key}" has no zip entry ${entry}`);
  const { offset, length } = zip.storedRange(entry);
  if (length !== elements * type.elementBytes) {
    throw new PickleValueError(`storage "${key}" should hold ${elements} ${type.dtype} elements (${elements * type.elementBytes} bytes) but its zip entry has ${length} bytes`);
  }
  const storage = new Storage(key, type, elements, offset);
  storages.set(key, storage);
  return storage;
}

function nonNegative(v: PickleValue, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new PickleValueError(`${what} must be a non-negative integer, got ${describe(v)}`);
  return v;
}

function intTuple(v: PickleValue, what: string): number[] {
  if (!(v instanceof PickleTuple) || v.items.length > MAX_DIMS) throw new PickleValueError(`${what} must be a tuple of at most ${MAX_DIMS} integers`);
  return v.items.map((d) => nonNegative(d, what));
}

/** Checks a tensor against its storage: row-major contiguous, inside the storage; → where its bytes lie. */
function tensorEntry(name: string, t: TensorRef, file: string): TensorEntry {
  const bad = (what: string) => new FormatError(`${file}: tensor "${name}": ${what}`);
  const { storage, shape, stride, storageOffset } = t;
  if (stride.length !== shape.length) throw bad(`stride ${formatShape(stride)} does not match shape ${formatShape(shape)}`);
  const count = numel(shape);
  if (!Number.isSafeInteger(count * storage.type.elementBytes)) throw bad(`shape ${formatShape(shape)} is impossibly large`);
  if (count > 0) {
    // Row-major strides; a dimension of size 1 may carry any stride (torch leaves them arbitrary).
    let expected = 1;
    for (let i = shape.length - 1; i >= 0; i--) {
      if (shape[i] !== 1 && stride[i] !== expected) {
        throw bad(`shape ${formatShape(shape)} with strides ${formatShape(stride)} is not contiguous row-major (a transposed or sliced view); save .contiguous() tensors or convert to safetensors`);
      }
      expected *= shape[i]!;
    }
    if (storageOffset + count > storage.numel) {
      throw bad(`${storage.type.dtype} ${formatShape(shape)} at element offset ${storageOffset} needs ${storageOffset + count} elements but storage "${storage.key}" holds ${storage.numel}`);
    }
  }
  const bytes = storage.type.elementBytes;
  return { name, dtype: storage.type.dtype, shape, file, offset: storage.offset + storageOffset * bytes, byteLength: count * bytes };
}

function loadableType(entry: TensorEntry): TensorType {
  const type = LOADABLE[entry.dtype];
  if (!type) throw new FormatError(`${entry.file}: tensor "${entry.name}" has dtype ${entry.dtype}, which cannot be loaded as a weight (supported: BF16, F16, F32)`);
  return type;
}
