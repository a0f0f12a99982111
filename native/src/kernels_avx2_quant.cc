// Block-quantized kernels (GGUF Q8_0 / Q4_0), AVX2 + FMA + F16C variant.
//
// Quantizers: byte-identical to ggml's reference quantizers (see kernels_avx512_quant.cc for how;
// here x·id goes through an empty asm statement so that it cannot be fused with the + 8.5f, and
// int32 → int8 keeps the low byte through a mask and unsigned packs).
//
// Tiles: one 32-value block (one ymm register) per step. Prefill: RP weight rows × TP tokens per
// micro tile, each weight block loaded once per TP tokens and each activation block once per RP
// rows. Decode: one row after another (a single sequential weight stream), the activation side
// prepared once per call. The integer dot of a block pair is exact:
//   Q8_0: vpmaddubsw(|w|, x·sign(w)) (vpsignb; |w| ≤ 128 and |x| ≤ 127, so int16 pair sums never
//         saturate), vpmaddwd with ones → 8 int32 lanes;
//   Q4_0: vpmaddubsw(q, x) − vpmaddubsw(8, x) (the second once per token), vpmaddwd with ones.
// Then int → f32, times d_w·d_x, FMA into an 8-lane f32 accumulator per (row, token).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <new>

#include "half.h"
#include "kernels.h"
#include "kernels_quant.h"

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

using quant_detail::load_u16;

// ----------------------------------------------------------------------------------- quantizers

// x·id, rounded once, never contracted with a later add into an FMA.
static inline __m256 mul_exact(__m256 a, __m256 b) {
  __m256 p = _mm256_mul_ps(a, b);
#if defined(__GNUC__) || defined(__clang__)
  __asm__("" : "+x"(p));
#endif
  return p;
}

// roundf of each lane as int32, exactly (see the AVX-512 file); NaN / ±inf → 0.
static inline __m256i round_away_epi32(__m256 v) {
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 f = _mm256_sub_ps(v, t);
  return _mm256_add_epi32(_mm256_cvttps_epi32(v), _mm256_cvttps_epi32(_mm256_add_ps(f, f)));
}

static inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

static inline uint16_t f32_to_f16_rne(float d) { return static_cast<uint16_t>(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT)); }

void quantize_q8_0(const float* x, void* y, int64_t n) {
  auto* out = static_cast<uint8_t*>(y);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256i low = _mm256_set1_epi32(0xff);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int64_t b = 0; b < n / QK; b++, x += QK, out += Q8_0_BYTES) {
    __m256 v[4];
    for (int i = 0; i < 4; i++) v[i] = _mm256_loadu_ps(x + 8 * i);
    const __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v[0], abs_mask), _mm256_and_ps(v[1], abs_mask)),
                                   _mm256_max_ps(_mm256_and_ps(v[2], abs_mask), _mm256_and_ps(v[3], abs_mask)));
    const float amax = hmax(m);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t h = f32_to_f16_rne(d);
    std::memcpy(out, &h, 2);
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int i = 0; i < 4; i++) q[i] = _mm256_and_si256(round_away_epi32(mul_exact(v[i], vid)), low);
    const __m256i p = _mm256_packus_epi16(_mm256_packus_epi32(q[0], q[1]), _mm256_packus_epi32(q[2], q[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 2), _mm256_permutevar8x32_epi32(p, order));
  }
}

void quantize_q4_0(const float* x, void* y, int64_t n) {
  auto* out = static_cast<uint8_t*>(y);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 half8 = _mm256_set1_ps(8.5f);
  const __m256i fifteen = _mm256_set1_epi32(15), low = _mm256_set1_epi32(0xff);
  for (int64_t b = 0; b < n / QK; b++, x += QK, out += Q4_0_BYTES) {
    __m256 v[4], a[4];
    for (int i = 0; i < 4; i++) {
      v[i] = _mm256_loadu_ps(x + 8 * i);
      a[i] = _mm256_and_ps(v[i], abs_mask);
    }
    const float amax = hmax(_mm256_max_ps(_mm256_max_ps(a[0], a[1]), _mm256_max_ps(a[2], a[3])));
    float max = 0.0f;  // the first value of magnitude amax (+0 when all are zero, as in ggml)
    if (amax > 0.0f) {
      const __m256 am = _mm256_set1_ps(amax);
      uint32_t m = 0;
      for (int i = 0; i < 4; i++) m |= static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(a[i], am, _CMP_EQ_OQ))) << (8 * i);
      max = x[quant_detail::ctz32(m)];
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t h = f32_to_f16_rne(d);
    std::memcpy(out, &h, 2);
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int i = 0; i < 4; i++) q[i] = _mm256_min_epi32(_mm256_cvttps_epi32(_mm256_add_ps(mul_exact(v[i], vid), half8)), fifteen);
    // byte j = q[j] | q[j + 16] << 4
    const __m256i c0 = _mm256_and_si256(_mm256_or_si256(q[0], _mm256_slli_epi32(q[2], 4)), low);
    const __m256i c1 = _mm256_and_si256(_mm256_or_si256(q[1], _mm256_slli_epi32(q[3], 4)), low);
    const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(c0, c1), 0xd8);  // c0[0..7] c1[0..7] as u16
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2), _mm_packus_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1)));
  }
}

void dequantize_q8_0(const void* xv, float* y, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(xv);
  for (int64_t b = 0; b < n / QK; b++, p += Q8_0_BYTES, y += QK) {
    const __m256 d = _mm256_set1_ps(f16_to_f32(load_u16(p)));
    for (int i = 0; i < 4; i++) {
      const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 2 + 8 * i)));
      _mm256_storeu_ps(y + 8 * i, _mm256_mul_ps(d, _mm256_cvtepi32_ps(q)));
    }
  }
}

void dequantize_q4_0(const void* xv, float* y, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(xv);
  const __m256i eight = _mm256_set1_epi32(8), low = _mm256_set1_epi32(0x0f);
  for (int64_t b = 0; b < n / QK; b++, p += Q4_0_BYTES, y += QK) {
    const __m256 d = _mm256_set1_ps(f16_to_f32(load_u16(p)));
    for (int i = 0; i < 2; i++) {
      const __m256i q = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 2 + 8 * i)));
      _mm256_storeu_ps(y + 8 * i, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_and_si256(q, low), eight))));
      _mm256_storeu_ps(y + 16 + 8 * i, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(q, 4), eight))));
    }
  }
}

// ------------------------------------------------------------------------------------- tiles

static inline __m256 scale(const uint8_t* p) { return _mm256_set1_ps(_cvtsh_ss(load_u16(p))); }

struct Q8Engine {
  static constexpr int BYTES = Q8_0_BYTES;
  using XPrep = __m256i;
  static __m256i load_w(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2)); }
  static XPrep prep_x(__m256i x) { return x; }
  static __m256i abs_w(__m256i w) { return _mm256_abs_epi8(w); }
  static __m256i dot(__m256i w, __m256i aw, const XPrep& x) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(x, w)), _mm256_set1_epi16(1));
  }
};

struct Q4Engine {
  static constexpr int BYTES = Q4_0_BYTES;
  struct XPrep {
    __m256i x, x8;
  };
  static __m256i load_w(const uint8_t* p) {  // nibbles in value order: qs low nibbles, then high
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2));
    const __m256i z = _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1);
    return _mm256_and_si256(z, _mm256_set1_epi8(0x0f));
  }
  static XPrep prep_x(__m256i x) { return {x, _mm256_maddubs_epi16(_mm256_set1_epi8(8), x)}; }
  static __m256i abs_w(__m256i w) { return w; }
  static __m256i dot(__m256i, __m256i q, const XPrep& x) {
    return _mm256_madd_epi16(_mm256_sub_epi16(_mm256_maddubs_epi16(q, x.x), x.x8), _mm256_set1_epi16(1));
  }
};

static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <class E, int R, int T>
void micro(int64_t nb, const uint8_t* w, int64_t ws, const uint8_t* x, int64_t xs, float* out, int64_t os) {
  constexpr int WB = E::BYTES;
  __m256 acc[R][T];
  for (int r = 0; r < R; r++)
    for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    typename E::XPrep xp[T];
    __m256 sx[T];
    for (int t = 0; t < T; t++) {
      const uint8_t* xb = x + t * xs + b * Q8_0_BYTES;
      xp[t] = E::prep_x(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 2)));
      sx[t] = scale(xb);
    }
    for (int r = 0; r < R; r++) {
      const uint8_t* wb = w + r * ws + b * WB;
      const __m256i wq = E::load_w(wb);
      const __m256i aw = E::abs_w(wq);
      const __m256 sw = scale(wb);
      for (int t = 0; t < T; t++)
        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(E::dot(wq, aw, xp[t])), _mm256_mul_ps(sw, sx[t]), acc[r][t]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int t = 0; t < T; t++) out[t * os + r] = hsum(acc[r][t]);
}

// Decode (one token): bound by memory bandwidth. Rows are processed one after another, so that the
// weights are read as one sequential stream (on the machines measured, interleaving rows costs
// DRAM bandwidth: see kernels_avx512_quant.cc). The activation side (quants, Q4_0's 8·x pair sums,
// scales as f32) is prepared once per call; two accumulators per row hide the FMA latency.
struct DecodeBuffers {
  __m256i* x8 = nullptr;  // [nb] vpmaddubsw(8, x) (Q4_0)
  float* dx = nullptr;    // [nb] activation scales
  int64_t cap = 0;
};

static DecodeBuffers& decode_buffers(int64_t nb) {
  thread_local DecodeBuffers d;  // grows, never freed (the pool's threads live as long as the process)
  if (d.cap < nb) {
    ::operator delete[](d.x8, std::align_val_t(32));
    d.x8 = static_cast<__m256i*>(::operator new[](static_cast<size_t>(nb) * 36, std::align_val_t(32)));
    d.dx = reinterpret_cast<float*>(d.x8 + nb);
    d.cap = nb;
  }
  return d;
}

template <class E>
static inline __m256 decode_block(const uint8_t* wb, const uint8_t* xb, const __m256i* x8, float dx, __m256 acc) {
  const __m256i wq = E::load_w(wb);
  const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 2));
  __m256i p;
  if constexpr (E::BYTES == Q8_0_BYTES) {
    p = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(wq), _mm256_sign_epi8(xq, wq)), _mm256_set1_epi16(1));
  } else {
    p = _mm256_madd_epi16(_mm256_sub_epi16(_mm256_maddubs_epi16(wq, xq), _mm256_load_si256(x8)), _mm256_set1_epi16(1));
  }
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(_cvtsh_ss(load_u16(wb)) * dx), acc);
}

template <class E>
void decode(int64_t nb, const uint8_t* w, int64_t ws, int64_t nr, const uint8_t* x, float* out) {
  DecodeBuffers& d = decode_buffers(nb);
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t* xb = x + b * Q8_0_BYTES;
    d.dx[b] = _cvtsh_ss(load_u16(xb));
    if constexpr (E::BYTES == Q4_0_BYTES)
      _mm256_store_si256(d.x8 + b, _mm256_maddubs_epi16(_mm256_set1_epi8(8), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 2))));
  }
  constexpr int WB = E::BYTES;
  for (int64_t r = 0; r < nr; r++) {
    const uint8_t* row = w + r * ws;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
      _mm_prefetch(reinterpret_cast<const char*>(row + b * WB) + 4096, _MM_HINT_T0);
      a0 = decode_block<E>(row + b * WB, x + b * Q8_0_BYTES, d.x8 + b, d.dx[b], a0);
      a1 = decode_block<E>(row + (b + 1) * WB, x + (b + 1) * Q8_0_BYTES, d.x8 + b + 1, d.dx[b + 1], a1);
    }
    if (b < nb) a0 = decode_block<E>(row + b * WB, x + b * Q8_0_BYTES, d.x8 + b, d.dx[b], a0);
    out[r] = hsum(_mm256_add_ps(a0, a1));
  }
}

constexpr int64_t TOKEN_CHUNK = 64;  // tokens per pass over the tile's rows (their activations stay in L2)
constexpr int RP = 2, TP = 4;        // prefill micro tile: RP rows × TP tokens

template <class E, int R>
void row_block(int64_t nb, const uint8_t* w, int64_t ws, const uint8_t* x, int64_t xs, float* out, int64_t os, int64_t nt) {
  int64_t t = 0;
  for (; t + TP <= nt; t += TP) micro<E, R, TP>(nb, w, ws, x + t * xs, xs, out + t * os, os);
  switch (nt - t) {
    case 3: micro<E, R, 3>(nb, w, ws, x + t * xs, xs, out + t * os, os); break;
    case 2: micro<E, R, 2>(nb, w, ws, x + t * xs, xs, out + t * os, os); break;
    case 1: micro<E, R, 1>(nb, w, ws, x + t * xs, xs, out + t * os, os); break;
    default: break;
  }
}

template <class E>
void tile(int64_t k, const void* wv, int64_t w_stride, const void* xv, int64_t x_stride, float* out,
          int64_t out_stride, int64_t nr, int64_t nt) {
  const int64_t nb = k / QK;
  const auto* w = static_cast<const uint8_t*>(wv);
  const auto* x = static_cast<const uint8_t*>(xv);
  if (nt == 1) {
    decode<E>(nb, w, w_stride, nr, x, out);
    return;
  }
  for (int64_t t0 = 0; t0 < nt; t0 += TOKEN_CHUNK) {
    const int64_t tc = nt - t0 < TOKEN_CHUNK ? nt - t0 : TOKEN_CHUNK;
    const uint8_t* xc = x + t0 * x_stride;
    float* oc = out + t0 * out_stride;
    int64_t r = 0;
    for (; r + RP <= nr; r += RP) row_block<E, RP>(nb, w + r * w_stride, w_stride, xc, x_stride, oc + r, out_stride, tc);
    for (; r < nr; r++) row_block<E, 1>(nb, w + r * w_stride, w_stride, xc, x_stride, oc + r, out_stride, tc);
  }
}

}  // namespace

void register_quant_avx2(KernelSet& ks) {
  ks.quantize_q8_0 = quantize_q8_0;
  ks.quantize_q4_0 = quantize_q4_0;
  ks.to_f32[W_Q8_0] = dequantize_q8_0;
  ks.to_f32[W_Q4_0] = dequantize_q4_0;
  ks.tile[W_Q8_0] = tile<Q8Engine>;
  ks.tile[W_Q4_0] = tile<Q4Engine>;
}

}  // namespace xts

#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif  // x86-64
