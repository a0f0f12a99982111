/**
 * Element types the engine stores weights in, and exact conversions between them.
 * Math is always f32; f16/bf16 are storage formats that are widened on use.
 */
export type DType = 'f32' | 'f16' | 'bf16';

/**
 * Block-quantized weight types, byte-compatible with GGUF's: each row is cut into blocks of 32
 * values, each block stored as an f16 scale followed by the quantized values (see quant-format.ts).
 */
export type QuantType = 'q8_0' | 'q4_0';

/** Every element type a tensor can hold. */
export type TensorType = DType | QuantType;

export function isQuantType(type: TensorType): type is QuantType {
  return type === 'q8_0' || type === 'q4_0';
}

export const DTYPE_BYTES: Readonly<Record<DType, number>> = { f32: 4, f16: 2, bf16: 2 };

/** Typed array that backs a tensor of the given dtype (16-bit types keep their raw bits). */
export type StorageFor<T extends DType> = T extends 'f32' ? Float32Array : Uint16Array;
export type Storage = Float32Array | Uint16Array;
/** What a tensor's `data` is: float storage, or the raw blocks of a quantized tensor. */
export type TensorData = Storage | Uint8Array;

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** bf16 bits → f32 (exact: bf16 is the upper half of an f32). */
export function bf16ToF32(bits: number): number {
  u32Scratch[0] = bits << 16;
  return f32Scratch[0]!;
}

/** f32 → bf16 bits, round to nearest even; NaN stays a quiet NaN (as PyTorch does). */
export function f32ToBf16(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Every f16 bit pattern widened to f32, built once (256 KiB) so conversion is a table lookup. */
const F16_TABLE: Float32Array = (() => {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) table[h] = sign * frac * 2 ** -24;
    else if (exp === 31) table[h] = frac ? NaN : sign * Infinity;
    else table[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return table;
})();

export function f16ToF32(bits: number): number {
  return F16_TABLE[bits & 0xffff]!;
}

/** f32 → f16 bits, round to nearest even, with subnormals, overflow to ±inf and NaN. */
export function f32ToF16(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
  return sign | h;
}

/** Widens a whole f16/bf16/f32 array to f32 (copies when `src` is already f32). */
export function toF32(dtype: DType, src: Storage, out: Float32Array = new Float32Array(src.length)): Float32Array {
  if (dtype === 'f32') {
    out.set(src as Float32Array);
  } else if (dtype === 'bf16') {
    const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
    for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
  } else {
    for (let i = 0; i < src.length; i++) out[i] = F16_TABLE[src[i]!]!;
  }
  return out;
}

/** Narrows f32 values to `dtype` storage (round to nearest even). */
export function fromF32(dtype: DType, src: Float32Array): Storage {
  if (dtype === 'f32') return Float32Array.from(src);
  const out = new Uint16Array(src.length);
  const convert = dtype === 'bf16' ? f32ToBf16 : f32ToF16;
  for (let i = 0; i < src.length; i++) out[i] = convert(src[i]!);
  return out;
}

/** Converts between storage dtypes; returns `src` itself when nothing changes. */
export function convertStorage(from: DType, to: DType, src: Storage): Storage {
  if (from === to) return src;
  return fromF32(to, toF32(from, src));
}

/** Parses user-facing dtype names (torch, numpy and safetensors spellings). */
export function parseDType(name: string): DType | undefined {
  switch (name.toLowerCase()) {
    case 'f32': case 'fp32': case 'float32': case 'float': return 'f32';
    case 'f16': case 'fp16': case 'float16': case 'half': return 'f16';
    case 'bf16': case 'bfloat16': return 'bf16';
    default: return undefined;
  }
}
