import type { TensorType } from '../tensor/dtype.js';

/**
 * Constants of the GGUF format (ggml's gguf.h / gguf-py's constants.py): magic, metadata value
 * type ids, ggml tensor type ids with their block geometry, token types and llama file types.
 */

/** "GGUF" read as a little-endian u32. */
export const GGUF_MAGIC = 0x46554747;
/** The version this writer produces; the reader accepts 2 and 3 (identical layout, 64-bit counts). */
export const GGUF_VERSION = 3;
/** Data alignment when the file has no `general.alignment` key. */
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Metadata value type ids, as stored in the file. */
export const GGUF_VALUE_TYPE = {
  u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12,
} as const;

export type GgufValueTypeName = keyof typeof GGUF_VALUE_TYPE;
export type GgufScalarTypeName = Exclude<GgufValueTypeName, 'array'>;

const VALUE_TYPE_BY_ID: readonly GgufValueTypeName[] = Object.entries(GGUF_VALUE_TYPE)
  .sort((a, b) => a[1] - b[1]).map(([name]) => name as GgufValueTypeName);

export function valueTypeName(id: number): GgufValueTypeName | undefined {
  return VALUE_TYPE_BY_ID[id];
}

/** Bytes of a fixed-size scalar (strings are 8 + length). */
export const GGUF_SCALAR_BYTES: Readonly<Record<Exclude<GgufScalarTypeName, 'string'>, number>> = {
  u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, u64: 8, i64: 8, f64: 8,
};

/** One ggml tensor type: `blockSize` values are stored in `typeSize` bytes (1 and the element size for plain types). */
export interface GgmlTypeInfo {
  readonly id: number;
  readonly name: string;
  readonly blockSize: number;
  readonly typeSize: number;
  /** The engine's element type when xverse-ts can read and write this type's data. */
  readonly tensorType?: TensorType;
}

/**
 * Every ggml type id in use (ggml.h). Ids 4–5, 31–33 and 36–38 belonged to types that ggml has
 * removed; they are unknown here as they are to llama.cpp. Sizes come from ggml's type traits, so
 * the byte size of any tensor can be checked against the file even when its data cannot be decoded.
 */
const TYPES: readonly GgmlTypeInfo[] = [
  { id: 0, name: 'F32', blockSize: 1, typeSize: 4, tensorType: 'f32' },
  { id: 1, name: 'F16', blockSize: 1, typeSize: 2, tensorType: 'f16' },
  { id: 2, name: 'Q4_0', blockSize: 32, typeSize: 18, tensorType: 'q4_0' },
  { id: 3, name: 'Q4_1', blockSize: 32, typeSize: 20 },
  { id: 6, name: 'Q5_0', blockSize: 32, typeSize: 22 },
  { id: 7, name: 'Q5_1', blockSize: 32, typeSize: 24 },
  { id: 8, name: 'Q8_0', blockSize: 32, typeSize: 34, tensorType: 'q8_0' },
  { id: 9, name: 'Q8_1', blockSize: 32, typeSize: 36 },
  { id: 10, name: 'Q2_K', blockSize: 256, typeSize: 84 },
  { id: 11, name: 'Q3_K', blockSize: 256, typeSize: 110 },
  { id: 12, name: 'Q4_K', blockSize: 256, typeSize: 144 },
  { id: 13, name: 'Q5_K', blockSize: 256, typeSize: 176 },
  { id: 14, name: 'Q6_K', blockSize: 256, typeSize: 210 },
  { id: 15, name: 'Q8_K', blockSize: 256, typeSize: 292 },
  { id: 16, name: 'IQ2_XXS', blockSize: 256, typeSize: 66 },
  { id: 17, name: 'IQ2_XS', blockSize: 256, typeSize: 74 },
  { id: 18, name: 'IQ3_XXS', blockSize: 256, typeSize: 98 },
  { id: 19, name: 'IQ1_S', blockSize: 256, typeSize: 50 },
  { id: 20, name: 'IQ4_NL', blockSize: 32, typeSize: 18 },
  { id: 21, name: 'IQ3_S', blockSize: 256, typeSize: 110 },
  { id: 22, name: 'IQ2_S', blockSize: 256, typeSize: 82 },
  { id: 23, name: 'IQ4_XS', blockSize: 256, typeSize: 136 },
  { id: 24, name: 'I8', blockSize: 1, typeSize: 1 },
  { id: 25, name: 'I16', blockSize: 1, typeSize: 2 },
  { id: 26, name: 'I32', blockSize: 1, typeSize: 4 },
  { id: 27, name: 'I64', blockSize: 1, typeSize: 8 },
  { id: 28, name: 'F64', blockSize: 1, typeSize: 8 },
  { id: 29, name: 'IQ1_M', blockSize: 256, typeSize: 56 },
  { id: 30, name: 'BF16', blockSize: 1, typeSize: 2, tensorType: 'bf16' },
  { id: 34, name: 'TQ1_0', blockSize: 256, typeSize: 54 },
  { id: 35, name: 'TQ2_0', blockSize: 256, typeSize: 66 },
  { id: 39, name: 'MXFP4', blockSize: 32, typeSize: 17 },
];

const BY_ID = new Map(TYPES.map((t) => [t.id, t]));
const BY_NAME = new Map(TYPES.map((t) => [t.name, t]));
const BY_TENSOR_TYPE = new Map(TYPES.filter((t) => t.tensorType).map((t) => [t.tensorType!, t]));

export function ggmlTypeById(id: number): GgmlTypeInfo | undefined {
  return BY_ID.get(id);
}

export function ggmlTypeByName(name: string): GgmlTypeInfo | undefined {
  return BY_NAME.get(name.toUpperCase());
}

/** The ggml type that stores an engine tensor type (every TensorType has one). */
export function ggmlTypeFor(type: TensorType): GgmlTypeInfo {
  return BY_TENSOR_TYPE.get(type)!;
}

/** Names of the types whose data xverse-ts reads and writes, for messages. */
export const SUPPORTED_GGML_TYPES: readonly string[] = TYPES.filter((t) => t.tensorType).map((t) => t.name);

/**
 * Bytes of a tensor with GGUF dims `dims` (ne0 first); undefined when ne0 is not a whole number of
 * blocks or the size is not a safe integer.
 */
export function ggmlByteSize(type: GgmlTypeInfo, dims: readonly number[]): number | undefined {
  const ne0 = dims[0] ?? 1;
  if (ne0 % type.blockSize !== 0) return undefined;
  let size = (ne0 / type.blockSize) * type.typeSize;
  for (let i = 1; i < dims.length; i++) size *= dims[i]!;
  return Number.isSafeInteger(size) ? size : undefined;
}

/** `tokenizer.ggml.token_type` values (llama.cpp's llama_token_type / gguf-py's TokenType). */
export const GGUF_TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

/** `general.file_type` values (llama.cpp's llama_ftype / gguf-py's LlamaFileType) for the types we write. */
export const LLAMA_FILE_TYPE = { f32: 0, f16: 1, q4_0: 2, q8_0: 7, bf16: 32 } as const;
