// Float-weight kernels (f32, f16, bf16 weights × f32 activations), AVX2 + FMA + F16C variant.
// 16-bit weights are widened exactly (vcvtph2ps for f16, a 16-bit shift for bf16) and multiplied
// in f32 with FMA. AVX2 has no masked 16-bit loads, so the last k % 8 values are copied into
// zero-padded buffers and go through the same vector code (never reading past a row).
#include <cstdint>

#include "float_ops.h"
#include "kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
// Enable the instructions for this file only; every header is included above (see the AVX-512 file).
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma,f16c")
#endif

namespace xts {
namespace {

struct F32 {
  using T = float;
  static __m256 load(const float* p) { return _mm256_loadu_ps(p); }
};
struct F16 {
  using T = uint16_t;
  static __m256 load(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
};
struct BF16 {
  using T = uint16_t;
  static __m256 load(const uint16_t* p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
};

template <class T>
void copy_tail(T* dst, const T* src, int64_t n) {  // n < 8 values into an 8-value zeroed buffer
  for (int j = 0; j < 8; j++) dst[j] = j < n ? src[j] : T(0);
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// R weight rows × T tokens over all k values, R·T accumulators in registers (16 ymm registers:
// 4 × 3 accumulators + 3 activations + 1 weight vector).
template <class W, int R, int T>
void micro(int64_t k, const typename W::T* w, int64_t ws, const float* x, int64_t xs, float* out, int64_t os) {
  __m256 acc[R][T];
  for (int r = 0; r < R; r++)
    for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    __m256 xv[T];
    for (int t = 0; t < T; t++) xv[t] = _mm256_loadu_ps(x + t * xs + i);
    for (int r = 0; r < R; r++) {
      const __m256 wv = W::load(w + r * ws + i);
      for (int t = 0; t < T; t++) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  if (i < k) {
    alignas(32) float xt[T][8];
    alignas(32) typename W::T wt[8];
    __m256 xv[T];
    for (int t = 0; t < T; t++) {
      copy_tail(xt[t], x + t * xs + i, k - i);
      xv[t] = _mm256_load_ps(xt[t]);
    }
    for (int r = 0; r < R; r++) {
      copy_tail(wt, w + r * ws + i, k - i);
      const __m256 wv = W::load(wt);
      for (int t = 0; t < T; t++) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int t = 0; t < T; t++) out[t * os + r] = hsum(acc[r][t]);
}

constexpr int MAX_TOKENS = 3;
#include "kernels_float_tile.inc"

template <class W>
void to_f32(const void* xv, float* y, int64_t n) {
  const auto* x = static_cast<const typename W::T*>(xv);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, W::load(x + i));
  if (i < n) {
    alignas(32) typename W::T t[8];
    alignas(32) float f[8];
    copy_tail(t, x + i, n - i);
    _mm256_store_ps(f, W::load(t));
    for (int64_t j = 0; j < n - i; j++) y[i + j] = f[j];
  }
}

void axpy(float a, const float* x, float* y, int64_t n) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] += a * x[i];
}

void axpy_f16(float a, const uint16_t* x, float* y, int64_t n) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, F16::load(x + i), _mm256_loadu_ps(y + i)));
  if (i < n) {
    alignas(16) uint16_t t[8];
    alignas(32) float f[8];
    copy_tail(t, x + i, n - i);
    _mm256_store_ps(f, F16::load(t));
    for (int64_t j = 0; j < n - i; j++) y[i + j] += a * f[j];
  }
}

uint64_t read_sum(const void* p, int64_t n) {
  const auto* q = static_cast<const __m256i*>(p);
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
  const int64_t blocks = n / 32;
  int64_t i = 0;
  for (; i + 4 <= blocks; i += 4) {
    s0 = _mm256_xor_si256(s0, _mm256_load_si256(q + i));
    s1 = _mm256_xor_si256(s1, _mm256_load_si256(q + i + 1));
    s2 = _mm256_xor_si256(s2, _mm256_load_si256(q + i + 2));
    s3 = _mm256_xor_si256(s3, _mm256_load_si256(q + i + 3));
  }
  for (; i < blocks; i++) s0 = _mm256_xor_si256(s0, _mm256_load_si256(q + i));
  const __m256i s = _mm256_xor_si256(_mm256_xor_si256(s0, s1), _mm256_xor_si256(s2, s3));
  const __m128i h = _mm_xor_si128(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  return static_cast<uint64_t>(_mm_cvtsi128_si64(h)) ^ static_cast<uint64_t>(_mm_extract_epi64(h, 1));
}

}  // namespace

void register_float_avx2(KernelSet& ks) {
  ks.tile[W_F32] = tile<F32>;
  ks.tile[W_F16] = tile<F16>;
  ks.tile[W_BF16] = tile<BF16>;
  ks.to_f32[W_F32] = to_f32<F32>;
  ks.to_f32[W_F16] = to_f32<F16>;
  ks.to_f32[W_BF16] = to_f32<BF16>;
}

void register_ops_avx2(FloatOps& ops) {
  ops.axpy = axpy;
  ops.axpy_f16 = axpy_f16;
  ops.read_sum = read_sum;
}

}  // namespace xts

#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif  // x86-64
