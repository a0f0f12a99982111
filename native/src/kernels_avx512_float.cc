// Float-weight kernels (f32, f16, bf16 weights × f32 activations), AVX-512 variant (F + BW + VL).
// 16-bit weights are widened exactly (vcvtph2ps for f16, a 16-bit shift for bf16) and multiplied
// in f32 with FMA, so results equal the scalar kernels' up to summation order. (vdpbf16ps is not
// used: it would round the f32 activations to bf16.) The last k % 16 values go through masked
// loads, which never touch memory past the row.
#include <cstdint>

#include "float_ops.h"
#include "kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's avx512fintrin.h trips these on its own _mm512_undefined_* helpers (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// Enable the instructions for this file only. Every header is included above this line, so none of
// their inline functions is compiled for AVX-512 (the linker could keep that copy for all callers).
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")
#endif

namespace xts {
namespace {

struct F32 {
  using T = float;
  static __m512 load(const float* p) { return _mm512_loadu_ps(p); }
  static __m512 load(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
};
struct F16 {
  using T = uint16_t;
  static __m512 load(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static __m512 load(const uint16_t* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
};
struct BF16 {
  using T = uint16_t;
  static __m512 widen(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
  static __m512 load(const uint16_t* p) { return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static __m512 load(const uint16_t* p, __mmask16 m) { return widen(_mm256_maskz_loadu_epi16(m, p)); }
};

// R weight rows × T tokens, all k values: R·T accumulators stay in registers; each step loads T
// activation vectors and R weight vectors for R·T FMAs.
template <class W, int R, int T>
void micro(int64_t k, const typename W::T* w, int64_t ws, const float* x, int64_t xs, float* out, int64_t os) {
  __m512 acc[R][T];
  for (int r = 0; r < R; r++)
    for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    __m512 xv[T];
    for (int t = 0; t < T; t++) xv[t] = _mm512_loadu_ps(x + t * xs + i);
    for (int r = 0; r < R; r++) {
      const __m512 wv = W::load(w + r * ws + i);
      for (int t = 0; t < T; t++) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  if (i < k) {
    const __mmask16 m = static_cast<__mmask16>((1u << (k - i)) - 1u);
    __m512 xv[T];
    for (int t = 0; t < T; t++) xv[t] = _mm512_maskz_loadu_ps(m, x + t * xs + i);
    for (int r = 0; r < R; r++) {
      const __m512 wv = W::load(w + r * ws + i, m);
      for (int t = 0; t < T; t++) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int t = 0; t < T; t++) out[t * os + r] = _mm512_reduce_add_ps(acc[r][t]);
}

constexpr int MAX_TOKENS = 4;
#include "kernels_float_tile.inc"

template <class W>
void to_f32(const void* xv, float* y, int64_t n) {
  const auto* x = static_cast<const typename W::T*>(xv);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, W::load(x + i));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(y + i, m, W::load(x + i, m));
  }
}

void axpy(float a, const float* x, float* y, int64_t n) {
  const __m512 av = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

void axpy_f16(float a, const uint16_t* x, float* y, int64_t n) {
  const __m512 av = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, F16::load(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(av, F16::load(x + i, m), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

uint64_t read_sum(const void* p, int64_t n) {
  const auto* q = static_cast<const __m512i*>(p);
  __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
  const int64_t blocks = n / 64;
  int64_t i = 0;
  for (; i + 4 <= blocks; i += 4) {
    s0 = _mm512_xor_si512(s0, _mm512_load_si512(q + i));
    s1 = _mm512_xor_si512(s1, _mm512_load_si512(q + i + 1));
    s2 = _mm512_xor_si512(s2, _mm512_load_si512(q + i + 2));
    s3 = _mm512_xor_si512(s3, _mm512_load_si512(q + i + 3));
  }
  for (; i < blocks; i++) s0 = _mm512_xor_si512(s0, _mm512_load_si512(q + i));
  const __m512i s = _mm512_xor_si512(_mm512_xor_si512(s0, s1), _mm512_xor_si512(s2, s3));
  return static_cast<uint64_t>(_mm512_reduce_or_epi64(s));
}

}  // namespace

void register_float_avx512(KernelSet& ks) {
  ks.tile[W_F32] = tile<F32>;
  ks.tile[W_F16] = tile<F16>;
  ks.tile[W_BF16] = tile<BF16>;
  ks.to_f32[W_F32] = to_f32<F32>;
  ks.to_f32[W_F16] = to_f32<F16>;
  ks.to_f32[W_BF16] = to_f32<BF16>;
}

void register_ops_avx512(FloatOps& ops) {
  ops.axpy = axpy;
  ops.axpy_f16 = axpy_f16;
  ops.read_sum = read_sum;
}

}  // namespace xts

#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif  // x86-64
