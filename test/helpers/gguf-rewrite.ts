/**
 * Writes variants of a GGUF file for loader tests: the same metadata and tensors with edits —
 * keys changed or removed, tensors dropped, replaced (any ggml type, raw bytes) or added.
 */
import { GgufFile, writeGguf, type GgmlTypeInfo, type GgufTensorWrite, type GgufValue } from '../../src/formats/gguf.js';

export interface GgufTensorData {
  readonly type: GgmlTypeInfo;
  /** GGUF dims, ne0 first. */
  readonly dims: readonly number[];
  readonly bytes: Uint8Array;
}

export interface GgufEdits {
  /** New values; null removes the key. */
  readonly metadata?: Readonly<Record<string, GgufValue | null>>;
  /** New tensor contents; null removes the tensor. */
  readonly tensors?: Readonly<Record<string, GgufTensorData | null>>;
}

/** Every tensor of a GGUF file with its raw bytes, in file order. */
export function readGgufTensors(file: string): Map<string, GgufTensorData> {
  const g = GgufFile.open(file);
  try {
    return new Map([...g.tensors.values()].map((t) => [t.name, { type: t.type, dims: t.dims, bytes: g.readTensorBytes(t.name) }]));
  } finally {
    g.close();
  }
}

export function readGgufMetadata(file: string): Map<string, GgufValue> {
  const g = GgufFile.open(file);
  try {
    return new Map(g.metadata.entries);
  } finally {
    g.close();
  }
}

/** Writes `metadata` and `tensors` (in map order) as a GGUF file. */
export function writeGgufFile(file: string, metadata: ReadonlyMap<string, GgufValue>, tensors: ReadonlyMap<string, GgufTensorData>): void {
  const writes: GgufTensorWrite[] = [...tensors].map(([name, t]) => ({ name, type: t.type, dims: t.dims, data: () => [t.bytes] }));
  writeGguf(file, metadata, writes);
}

/** Copies `from` to `to` with the edits applied. */
export function rewriteGguf(from: string, to: string, edits: GgufEdits): void {
  const metadata = readGgufMetadata(from);
  for (const [key, value] of Object.entries(edits.metadata ?? {})) {
    if (value === null) metadata.delete(key);
    else metadata.set(key, value);
  }
  const tensors = readGgufTensors(from);
  for (const [name, t] of Object.entries(edits.tensors ?? {})) {
    if (t === null) tensors.delete(name);
    else tensors.set(name, t);
  }
  writeGgufFile(to, metadata, tensors);
}
