// Kernel contract of the native backend (xverse-ts). Every instruction-set variant (scalar, AVX2,
// AVX-512, NEON) fills the same KernelSet; dispatch.cc picks one at run time from the CPU's
// features. Matrix kernels work on tiles, and the driver (matmul.cc) splits a product into tiles
// across the worker threads, so kernels never deal with threads.
#pragma once
#include <cstddef>
#include <cstdint>

namespace xts {

// Weight element types. Block types use GGUF's layouts (ggml-common.h):
//   Q8_0: 34 bytes per 32 values = f16 d, int8 q[32];              value = d * q
//   Q4_0: 18 bytes per 32 values = f16 d, uint8 qs[16];            value = d * (nibble - 8),
//         qs[j] holds value j in its low nibble and value j + 16 in its high nibble.
enum WeightType : int { W_F32 = 0, W_F16 = 1, W_BF16 = 2, W_Q8_0 = 3, W_Q4_0 = 4, W_TYPE_COUNT = 5 };

constexpr int QK = 32;            // values per block
constexpr int Q8_0_BYTES = 34;    // bytes per Q8_0 block
constexpr int Q4_0_BYTES = 18;    // bytes per Q4_0 block

// Row length in bytes of `k` values of type `t` (k a multiple of 32 for block types).
inline int64_t row_bytes(WeightType t, int64_t k) {
  switch (t) {
    case W_F32: return k * 4;
    case W_F16: case W_BF16: return k * 2;
    case W_Q8_0: return k / QK * Q8_0_BYTES;
    case W_Q4_0: return k / QK * Q4_0_BYTES;
    default: return 0;
  }
}

// The activation type a weight type multiplies with: f32 rows for float weights, Q8_0 rows for
// block weights (the driver quantizes activations once per product with quantize_q8_0).
inline bool uses_q8_activations(WeightType t) { return t == W_Q8_0 || t == W_Q4_0; }

// One tile of a matrix product, the unit of work:
//   out[t * out_stride + r] = dot(W row r, X row t)   for r in [0, nr), t in [0, nt)
// `w` points at weight row 0 of the tile, rows `w_stride` bytes apart; `x` at activation row 0 of
// the tile, rows `x_stride` bytes apart (f32 rows or Q8_0 rows, see uses_q8_activations); `k` is
// the row length in values. Tiles may be any size; kernels block internally (e.g. 4 rows × 4
// tokens) and handle the remainder. Sums are f32 (float weights: f32 FMA; block weights: the
// integer dot of each block pair times d_w·d_x, accumulated in f32, as ggml's vec_dot does).
using TileFn = void (*)(int64_t k, const void* w, int64_t w_stride, const void* x, int64_t x_stride,
                        float* out, int64_t out_stride, int64_t nr, int64_t nt);

// Quantizes n values (a multiple of 32) into blocks, byte-identical to ggml's
// quantize_row_q8_0_ref / quantize_row_q4_0_ref.
using QuantizeFn = void (*)(const float* x, void* y, int64_t n);

// Widens n values of a float weight type to f32 (for embedding rows and conversions).
using ToF32Fn = void (*)(const void* x, float* y, int64_t n);

struct KernelSet {
  const char* isa = "scalar";
  TileFn tile[W_TYPE_COUNT] = {};
  QuantizeFn quantize_q8_0 = nullptr;
  QuantizeFn quantize_q4_0 = nullptr;
  ToF32Fn to_f32[W_TYPE_COUNT] = {};  // block types included (dequantize)
};

// Each variant overlays what it implements on a set already filled by a simpler one, so a missing
// kernel falls back to the scalar version. Float kernels and block kernels live in separate files.
void register_float_scalar(KernelSet& ks);
void register_quant_scalar(KernelSet& ks);
#if defined(__x86_64__) || defined(_M_X64)
void register_float_avx2(KernelSet& ks);
void register_quant_avx2(KernelSet& ks);
void register_float_avx512(KernelSet& ks);
void register_quant_avx512(KernelSet& ks);
#endif
#if defined(__aarch64__)
void register_float_neon(KernelSet& ks);
void register_quant_neon(KernelSet& ks);
#endif

}  // namespace xts
