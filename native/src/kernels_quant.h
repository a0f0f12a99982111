// Block-quantized kernels (Q8_0 / Q4_0): what the quant ISA files share beyond kernels.h.
//
// Every variant produces the same quantized bytes as ggml's quantize_row_q8_0_ref /
// quantize_row_q4_0_ref (and src/tensor/quant.ts); tile products may differ from the scalar ones
// only by f32 summation order. The register_quant_<isa>_<flavour> functions install one flavour
// whatever the CPU reports (the standalone harness in native/test uses them to test every flavour
// the machine can run); register_quant_<isa> (kernels.h) picks the best flavour the CPU supports.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif

#include "half.h"
#include "kernels.h"

namespace xts {

#if defined(__x86_64__) || defined(_M_X64)
void register_quant_avx512_bw(KernelSet& ks);    // AVX-512 F/BW/VL: vpmaddubsw + vpmaddwd
void register_quant_avx512_vnni(KernelSet& ks);  // + AVX512_VNNI: vpdpbusd
#endif
#if defined(__aarch64__)
void register_quant_neon_plain(KernelSet& ks);  // smull / sadalp
void register_quant_neon_dot(KernelSet& ks);    // sdot (FEAT_DotProd); registers nothing when not built
#endif

namespace quant_detail {

// C's float → int32 conversion as x86 performs it (cvttss2si): truncation toward zero, and
// INT32_MIN for NaN and out-of-range values. ggml's reference quantizers cast floats to int8_t; the
// values are always in range except when a block's inverse scale overflows (|amax| below ~1e-36,
// then x·id is ±inf or NaN), where C leaves the result undefined. On x86 the compiled ggml, the
// TypeScript reference (whose `& 0xff` maps ±inf and NaN to 0) and all our variants give 0 there.
static inline int32_t cvtt_i32(float v) {
  if (!(v > -2147483904.0f && v < 2147483648.0f)) return INT32_MIN;
  return static_cast<int32_t>(v);
}

static inline uint16_t load_u16(const void* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Keeps `v` from being fused with a following add (x·id + 8.5f must round twice, as in ggml's
// reference, even where the compiler would contract it into an FMA, e.g. on AArch64).
static inline float no_contract(float v) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __asm__("" : "+x"(v));
#elif defined(__GNUC__) && defined(__aarch64__)
  __asm__("" : "+w"(v));
#else
  volatile float t = v;
  v = t;
#endif
  return v;
}

// One block of ggml's quantize_row_q8_0_ref: the same f32 operations in the same order.
static inline void quantize_block_q8_0_ref(const float* x, uint8_t* out) {
  float amax = 0.0f;
  for (int j = 0; j < QK; j++) {
    const float a = std::fabs(x[j]);
    amax = amax > a ? amax : a;  // ggml's MAX(amax, fabsf(v))
  }
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  const uint16_t h = f32_to_f16(d);
  std::memcpy(out, &h, 2);
  for (int j = 0; j < QK; j++) out[2 + j] = static_cast<uint8_t>(cvtt_i32(std::roundf(x[j] * id)));
}

// One block of ggml's quantize_row_q4_0_ref.
static inline void quantize_block_q4_0_ref(const float* x, uint8_t* out) {
  float amax = 0.0f, max = 0.0f;  // max: the value of largest magnitude, the first one on ties
  for (int j = 0; j < QK; j++) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  const float d = max / -8.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  const uint16_t h = f32_to_f16(d);
  std::memcpy(out, &h, 2);
  for (int j = 0; j < QK / 2; j++) {
    // MIN(15, (int8_t)(x·id + 8.5f)): an f32 product, an f32 add, truncation toward zero.
    const int8_t a = static_cast<int8_t>(cvtt_i32(no_contract(x[j] * id) + 8.5f));
    const int8_t b = static_cast<int8_t>(cvtt_i32(no_contract(x[j + QK / 2] * id) + 8.5f));
    const uint8_t q0 = static_cast<uint8_t>(a < 15 ? a : 15);
    const uint8_t q1 = static_cast<uint8_t>(b < 15 ? b : 15);
    out[2 + j] = static_cast<uint8_t>(q0 | (q1 << 4));
  }
}

// Index of the lowest set bit of m (m != 0).
static inline int ctz32(uint32_t m) {
#if defined(_MSC_VER) && !defined(__clang__)
  unsigned long i;
  _BitScanForward(&i, m);
  return static_cast<int>(i);
#else
  return __builtin_ctz(m);
#endif
}

}  // namespace quant_detail
}  // namespace xts
