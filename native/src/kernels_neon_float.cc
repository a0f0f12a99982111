// Float-weight kernels (f32, f16, bf16 weights × f32 activations), ARM NEON (AArch64) variant.
// NEON is part of every AArch64 CPU, so no target pragma is needed. 16-bit weights are widened
// exactly (fcvtl for f16, a 16-bit shift for bf16) and multiplied in f32 with FMA; the last k % 4
// values go through zero-padded copies.
#include <cstdint>

#include "float_ops.h"
#include "kernels.h"

#if defined(__aarch64__)
#include <arm_neon.h>

namespace xts {
namespace {

struct F32 {
  using T = float;
  static float32x4_t load(const float* p) { return vld1q_f32(p); }
};
struct F16 {
  using T = uint16_t;
  static float32x4_t load(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
};
struct BF16 {
  using T = uint16_t;
  static float32x4_t load(const uint16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
};

template <class T>
void copy_tail(T* dst, const T* src, int64_t n) {  // n < 4 values into a 4-value zeroed buffer
  for (int j = 0; j < 4; j++) dst[j] = j < n ? src[j] : T(0);
}

template <class W, int R, int T>
void micro(int64_t k, const typename W::T* w, int64_t ws, const float* x, int64_t xs, float* out, int64_t os) {
  float32x4_t acc[R][T];
  for (int r = 0; r < R; r++)
    for (int t = 0; t < T; t++) acc[r][t] = vdupq_n_f32(0.0f);
  int64_t i = 0;
  for (; i + 4 <= k; i += 4) {
    float32x4_t xv[T];
    for (int t = 0; t < T; t++) xv[t] = vld1q_f32(x + t * xs + i);
    for (int r = 0; r < R; r++) {
      const float32x4_t wv = W::load(w + r * ws + i);
      for (int t = 0; t < T; t++) acc[r][t] = vfmaq_f32(acc[r][t], wv, xv[t]);
    }
  }
  if (i < k) {
    float xt[T][4];
    typename W::T wt[4];
    float32x4_t xv[T];
    for (int t = 0; t < T; t++) {
      copy_tail(xt[t], x + t * xs + i, k - i);
      xv[t] = vld1q_f32(xt[t]);
    }
    for (int r = 0; r < R; r++) {
      copy_tail(wt, w + r * ws + i, k - i);
      const float32x4_t wv = W::load(wt);
      for (int t = 0; t < T; t++) acc[r][t] = vfmaq_f32(acc[r][t], wv, xv[t]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int t = 0; t < T; t++) out[t * os + r] = vaddvq_f32(acc[r][t]);
}

constexpr int MAX_TOKENS = 4;
#include "kernels_float_tile.inc"

template <class W>
void to_f32(const void* xv, float* y, int64_t n) {
  const auto* x = static_cast<const typename W::T*>(xv);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, W::load(x + i));
  if (i < n) {
    typename W::T t[4];
    float f[4];
    copy_tail(t, x + i, n - i);
    vst1q_f32(f, W::load(t));
    for (int64_t j = 0; j < n - i; j++) y[i + j] = f[j];
  }
}

void axpy(float a, const float* x, float* y, int64_t n) {
  const float32x4_t av = vdupq_n_f32(a);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_f32(vld1q_f32(y + i), av, vld1q_f32(x + i)));
  for (; i < n; i++) y[i] += a * x[i];
}

void axpy_f16(float a, const uint16_t* x, float* y, int64_t n) {
  const float32x4_t av = vdupq_n_f32(a);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_f32(vld1q_f32(y + i), av, F16::load(x + i)));
  if (i < n) {
    uint16_t t[4];
    float f[4];
    copy_tail(t, x + i, n - i);
    vst1q_f32(f, F16::load(t));
    for (int64_t j = 0; j < n - i; j++) y[i + j] += a * f[j];
  }
}

uint64_t read_sum(const void* p, int64_t n) {
  const auto* q = static_cast<const uint64_t*>(p);
  uint64x2_t s0 = vdupq_n_u64(0), s1 = s0, s2 = s0, s3 = s0;
  for (int64_t i = 0; i < n / 8; i += 8) {
    s0 = veorq_u64(s0, vld1q_u64(q + i));
    s1 = veorq_u64(s1, vld1q_u64(q + i + 2));
    s2 = veorq_u64(s2, vld1q_u64(q + i + 4));
    s3 = veorq_u64(s3, vld1q_u64(q + i + 6));
  }
  const uint64x2_t s = veorq_u64(veorq_u64(s0, s1), veorq_u64(s2, s3));
  return vgetq_lane_u64(s, 0) ^ vgetq_lane_u64(s, 1);
}

}  // namespace

void register_float_neon(KernelSet& ks) {
  ks.tile[W_F32] = tile<F32>;
  ks.tile[W_F16] = tile<F16>;
  ks.tile[W_BF16] = tile<BF16>;
  ks.to_f32[W_F32] = to_f32<F32>;
  ks.to_f32[W_F16] = to_f32<F16>;
  ks.to_f32[W_BF16] = to_f32<BF16>;
}

void register_ops_neon(FloatOps& ops) {
  ops.axpy = axpy;
  ops.axpy_f16 = axpy_f16;
  ops.read_sum = read_sum;
}

}  // namespace xts
#endif  // __aarch64__
