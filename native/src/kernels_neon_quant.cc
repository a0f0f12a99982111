// Block-quantized kernels (GGUF Q8_0 / Q4_0), AArch64 NEON variant, in two flavours:
//   * plain NEON (register_quant_neon_plain): integer dots with smull / smlal2 / sadalp;
//   * FEAT_DotProd (register_quant_neon_dot): sdot, 16 multiply-adds per instruction.
// register_quant_neon installs the sdot flavour when the CPU has it (cpu.h: HWCAP_ASIMDDP), else the
// plain one. With GCC the sdot flavour is compiled with a per-function target attribute; with clang
// it exists only when the baseline already has dotprod (__ARM_FEATURE_DOTPROD, e.g. Apple silicon).
//
// Quantizers: byte-identical to ggml's reference quantizers. roundf is fcvtas (round to nearest,
// ties away from zero: exactly roundf); (int8_t)(x·id + 8.5f) is fcvtzs after an add that an empty
// asm statement keeps from being fused with the multiply (AArch64 compilers contract a·b + c into
// fmla by default); int32 → int8 keeps the low byte (xtn). Blocks whose inverse scale overflows
// (|amax| < ~1e-36, where C's float → int8 cast is undefined) go through the scalar code, which
// reproduces what x86 does there.
//
// Not run on ARM hardware here: tested under qemu-aarch64 (native/test: make aarch64), both flavours.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "cpu.h"
#include "half.h"
#include "kernels.h"
#include "kernels_quant.h"

#if defined(__aarch64__)
#include <arm_neon.h>

namespace xts {
namespace {

using quant_detail::load_u16;

static inline float f16_value(const uint8_t* p) {  // exact f16 → f32
#if defined(__GNUC__) || defined(__clang__)
  __fp16 h;  // fcvt
  std::memcpy(&h, p, sizeof h);
  return static_cast<float>(h);
#else
  return f16_to_f32(load_u16(p));
#endif
}

static inline float32x4_t mul_exact(float32x4_t a, float32x4_t b) {
  float32x4_t p = vmulq_f32(a, b);
#if defined(__GNUC__) || defined(__clang__)
  __asm__("" : "+w"(p));
#endif
  return p;
}

void quantize_q8_0(const float* x, void* y, int64_t n) {
  auto* out = static_cast<uint8_t*>(y);
  for (int64_t b = 0; b < n / QK; b++, x += QK, out += Q8_0_BYTES) {
    float32x4_t v[8];
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int i = 0; i < 8; i++) {
      v[i] = vld1q_f32(x + 4 * i);
      m = vmaxq_f32(m, vabsq_f32(v[i]));
    }
    const float amax = vmaxvq_f32(m);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    if (!std::isfinite(id)) {
      quant_detail::quantize_block_q8_0_ref(x, out);
      continue;
    }
    const uint16_t h = f32_to_f16(d);
    std::memcpy(out, &h, 2);
    const float32x4_t vid = vdupq_n_f32(id);
    int32x4_t q[8];
    for (int i = 0; i < 8; i++) q[i] = vcvtaq_s32_f32(mul_exact(v[i], vid));
    for (int i = 0; i < 2; i++) {
      const int16x8_t a = vcombine_s16(vmovn_s32(q[4 * i]), vmovn_s32(q[4 * i + 1]));
      const int16x8_t c = vcombine_s16(vmovn_s32(q[4 * i + 2]), vmovn_s32(q[4 * i + 3]));
      vst1q_s8(reinterpret_cast<int8_t*>(out + 2 + 16 * i), vcombine_s8(vmovn_s16(a), vmovn_s16(c)));
    }
  }
}

void quantize_q4_0(const float* x, void* y, int64_t n) {
  auto* out = static_cast<uint8_t*>(y);
  const float32x4_t half8 = vdupq_n_f32(8.5f);
  const int32x4_t fifteen = vdupq_n_s32(15);
  for (int64_t b = 0; b < n / QK; b++, x += QK, out += Q4_0_BYTES) {
    float32x4_t v[8];
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int i = 0; i < 8; i++) {
      v[i] = vld1q_f32(x + 4 * i);
      m = vmaxq_f32(m, vabsq_f32(v[i]));
    }
    const float amax = vmaxvq_f32(m);
    float max = 0.0f;  // the first value of magnitude amax (+0 when all are zero, as in ggml)
    if (amax > 0.0f) {
      for (int j = 0; j < QK; j++) {
        if (std::fabs(x[j]) == amax) {
          max = x[j];
          break;
        }
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    if (!std::isfinite(id)) {
      quant_detail::quantize_block_q4_0_ref(x, out);
      continue;
    }
    const uint16_t h = f32_to_f16(d);
    std::memcpy(out, &h, 2);
    const float32x4_t vid = vdupq_n_f32(id);
    int32x4_t q[8];
    for (int i = 0; i < 8; i++) q[i] = vminq_s32(vcvtq_s32_f32(vaddq_f32(mul_exact(v[i], vid), half8)), fifteen);
    int32x4_t c[4];
    for (int i = 0; i < 4; i++) c[i] = vorrq_s32(q[i], vshlq_n_s32(q[i + 4], 4));  // byte j = q[j] | q[j + 16] << 4
    const int16x8_t a = vcombine_s16(vmovn_s32(c[0]), vmovn_s32(c[1]));
    const int16x8_t e = vcombine_s16(vmovn_s32(c[2]), vmovn_s32(c[3]));
    vst1q_s8(reinterpret_cast<int8_t*>(out + 2), vcombine_s8(vmovn_s16(a), vmovn_s16(e)));
  }
}

void dequantize_q8_0(const void* xv, float* y, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(xv);
  for (int64_t b = 0; b < n / QK; b++, p += Q8_0_BYTES, y += QK) {
    const float d = f16_value(p);
    for (int i = 0; i < 2; i++) {
      const int8x16_t q = vld1q_s8(reinterpret_cast<const int8_t*>(p + 2 + 16 * i));
      const int16x8_t lo = vmovl_s8(vget_low_s8(q)), hi = vmovl_high_s8(q);
      vst1q_f32(y + 16 * i, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), d));
      vst1q_f32(y + 16 * i + 4, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(lo)), d));
      vst1q_f32(y + 16 * i + 8, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), d));
      vst1q_f32(y + 16 * i + 12, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(hi)), d));
    }
  }
}

void dequantize_q4_0(const void* xv, float* y, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(xv);
  for (int64_t b = 0; b < n / QK; b++, p += Q4_0_BYTES, y += QK) {
    const float d = f16_value(p);
    const uint8x16_t q = vld1q_u8(p + 2);
    const int8x16_t parts[2] = {vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f))), vdupq_n_s8(8)),
                                vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), vdupq_n_s8(8))};
    for (int i = 0; i < 2; i++) {
      const int16x8_t lo = vmovl_s8(vget_low_s8(parts[i])), hi = vmovl_high_s8(parts[i]);
      vst1q_f32(y + 16 * i, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), d));
      vst1q_f32(y + 16 * i + 4, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(lo)), d));
      vst1q_f32(y + 16 * i + 8, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), d));
      vst1q_f32(y + 16 * i + 12, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(hi)), d));
    }
  }
}

// Weight blocks as two int8x16 registers in value order (values 0–15, 16–31).
struct Q8Format {
  static constexpr int BYTES = Q8_0_BYTES;
  static void load(const uint8_t* p, int8x16_t& lo, int8x16_t& hi) {
    lo = vld1q_s8(reinterpret_cast<const int8_t*>(p + 2));
    hi = vld1q_s8(reinterpret_cast<const int8_t*>(p + 18));
  }
};
struct Q4Format {  // qs[j]: value j in the low nibble, value j + 16 in the high one; minus 8
  static constexpr int BYTES = Q4_0_BYTES;
  static void load(const uint8_t* p, int8x16_t& lo, int8x16_t& hi) {
    const uint8x16_t q = vld1q_u8(p + 2);
    lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f))), vdupq_n_s8(8));
    hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), vdupq_n_s8(8));
  }
};

// ------------------------------------------------------------------ plain NEON flavour (tiles)
namespace plain {
#define QATTR
// smull / smlal2 pair products into int16 (|w·x| ≤ 128·127, two of them ≤ 32512: no overflow,
// as activations from quantize_q8_0 are never −128), then sadalp into int32.
struct Engine {
  static int32x4_t dot(int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1) {
    const int16x8_t p0 = vmlal_high_s8(vmull_s8(vget_low_s8(w0), vget_low_s8(x0)), w0, x0);
    const int16x8_t p1 = vmlal_high_s8(vmull_s8(vget_low_s8(w1), vget_low_s8(x1)), w1, x1);
    return vpadalq_s16(vpaddlq_s16(p0), p1);
  }
};
#include "kernels_neon_quant_tile.inc"
#undef QATTR
}  // namespace plain

// ------------------------------------------------------------------------ sdot flavour (tiles)
#if defined(__ARM_FEATURE_DOTPROD) || (defined(__GNUC__) && !defined(__clang__))
#define XTS_NEON_HAVE_SDOT 1
namespace dot {
#if defined(__ARM_FEATURE_DOTPROD)
#define QATTR
#else
#define QATTR __attribute__((target("arch=armv8.2-a+dotprod")))
#endif
struct Engine {
  static QATTR int32x4_t dot(int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1) {
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, x0), w1, x1);
  }
};
#include "kernels_neon_quant_tile.inc"
#undef QATTR
}  // namespace dot
#endif

void register_common(KernelSet& ks) {
  ks.quantize_q8_0 = quantize_q8_0;
  ks.quantize_q4_0 = quantize_q4_0;
  ks.to_f32[W_Q8_0] = dequantize_q8_0;
  ks.to_f32[W_Q4_0] = dequantize_q4_0;
}

}  // namespace

void register_quant_neon_plain(KernelSet& ks) {
  register_common(ks);
  ks.tile[W_Q8_0] = plain::tile<Q8Format>;
  ks.tile[W_Q4_0] = plain::tile<Q4Format>;
}

void register_quant_neon_dot(KernelSet& ks) {
#if defined(XTS_NEON_HAVE_SDOT)
  register_common(ks);
  ks.tile[W_Q8_0] = dot::tile<Q8Format>;
  ks.tile[W_Q4_0] = dot::tile<Q4Format>;
  ks.isa = "neon+dotprod";
#else
  register_quant_neon_plain(ks);
#endif
}

void register_quant_neon(KernelSet& ks) {
  if (cpu_features().neon_dotprod) {
    register_quant_neon_dot(ks);
  } else {
    register_quant_neon_plain(ks);
  }
}

}  // namespace xts
#endif  // __aarch64__
