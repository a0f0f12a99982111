// Block-quantized kernels (GGUF Q8_0 / Q4_0), portable scalar variant: the fallback on CPUs without
// a SIMD variant and the baseline every SIMD variant is tested against (native/test/quant_test.cc).
//
// Quantizers: a transcription of ggml's quantize_row_q8_0_ref / quantize_row_q4_0_ref (the same f32
// operations in the same order, d rounded to f16 to nearest even; kernels_quant.h), so blocks are
// byte-identical to llama.cpp's and to src/tensor/quant.ts. Tiles: for every block pair the exact int32 dot of the
// quants, times f32(d_w)·f32(d_x), summed in f32 (as ggml's vec_dot_q8_0_q8_0 / q4_0_q8_0).
#include <cmath>
#include <cstdint>
#include <cstring>

#include "half.h"
#include "kernels.h"
#include "kernels_quant.h"

namespace xts {
namespace {

using quant_detail::load_u16;

void quantize_q8_0(const float* x, void* y, int64_t n) {
  auto* out = static_cast<uint8_t*>(y);
  for (int64_t b = 0; b < n / QK; b++) quant_detail::quantize_block_q8_0_ref(x + b * QK, out + b * Q8_0_BYTES);
}

void quantize_q4_0(const float* x, void* y, int64_t n) {
  auto* out = static_cast<uint8_t*>(y);
  for (int64_t b = 0; b < n / QK; b++) quant_detail::quantize_block_q4_0_ref(x + b * QK, out + b * Q4_0_BYTES);
}

void dequantize_q8_0(const void* xv, float* y, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(xv);
  for (int64_t b = 0; b < n / QK; b++, p += Q8_0_BYTES, y += QK) {
    const float d = f16_to_f32(load_u16(p));
    for (int j = 0; j < QK; j++) y[j] = d * static_cast<float>(static_cast<int8_t>(p[2 + j]));
  }
}

void dequantize_q4_0(const void* xv, float* y, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(xv);
  for (int64_t b = 0; b < n / QK; b++, p += Q4_0_BYTES, y += QK) {
    const float d = f16_to_f32(load_u16(p));
    for (int j = 0; j < QK / 2; j++) {
      y[j] = d * static_cast<float>((p[2 + j] & 0x0f) - 8);
      y[j + QK / 2] = d * static_cast<float>((p[2 + j] >> 4) - 8);
    }
  }
}

// Exact integer dot of one weight block with one Q8_0 activation block.
static inline int32_t block_dot_q8(const uint8_t* w, const uint8_t* x) {
  int32_t s = 0;
  for (int j = 0; j < QK; j++) s += static_cast<int8_t>(w[2 + j]) * static_cast<int8_t>(x[2 + j]);
  return s;
}

static inline int32_t block_dot_q4(const uint8_t* w, const uint8_t* x) {
  int32_t s = 0;
  for (int j = 0; j < QK / 2; j++) {
    s += ((w[2 + j] & 0x0f) - 8) * static_cast<int8_t>(x[2 + j]);
    s += ((w[2 + j] >> 4) - 8) * static_cast<int8_t>(x[2 + QK / 2 + j]);
  }
  return s;
}

template <int WB, int32_t (*DOT)(const uint8_t*, const uint8_t*)>
void tile(int64_t k, const void* wv, int64_t w_stride, const void* xv, int64_t x_stride, float* out,
          int64_t out_stride, int64_t nr, int64_t nt) {
  const int64_t nb = k / QK;
  for (int64_t t = 0; t < nt; t++) {
    const auto* xt = static_cast<const uint8_t*>(xv) + t * x_stride;
    for (int64_t r = 0; r < nr; r++) {
      const auto* wr = static_cast<const uint8_t*>(wv) + r * w_stride;
      float sum = 0.0f;
      for (int64_t b = 0; b < nb; b++) {
        const uint8_t* wb = wr + b * WB;
        const uint8_t* xb = xt + b * Q8_0_BYTES;
        const float s = f16_to_f32(load_u16(wb)) * f16_to_f32(load_u16(xb));
        sum += s * static_cast<float>(DOT(wb, xb));
      }
      out[t * out_stride + r] = sum;
    }
  }
}

}  // namespace

void register_quant_scalar(KernelSet& ks) {
  ks.quantize_q8_0 = quantize_q8_0;
  ks.quantize_q4_0 = quantize_q4_0;
  ks.to_f32[W_Q8_0] = dequantize_q8_0;
  ks.to_f32[W_Q4_0] = dequantize_q4_0;
  ks.tile[W_Q8_0] = tile<Q8_0_BYTES, block_dot_q8>;
  ks.tile[W_Q4_0] = tile<Q4_0_BYTES, block_dot_q4>;
}

}  // namespace xts
