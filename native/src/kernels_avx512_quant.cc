// Block-quantized kernels (GGUF Q8_0 / Q4_0), AVX-512 variant, in two flavours:
//   * AVX-512 F/BW/VL (register_quant_avx512_bw): integer dots with vpmaddubsw + vpmaddwd;
//   * + AVX512_VNNI (register_quant_avx512_vnni): one vpdpbusd per block pair (Zen 4, Ice Lake…).
// register_quant_avx512 installs the VNNI flavour when the CPU (and OS) support it, else the BW one.
//
// Quantizers produce exactly the bytes of ggml's reference quantizers (kernels_scalar_quant.cc):
// the block maximum is exact whatever the order, d = amax/127 (or max/−8), id = 1/d and the f16
// rounding of d (vcvtps2ph, nearest even) are the same scalar operations, x·id is one f32 multiply
// (vmulps with an explicit rounding mode, which no compiler fuses with the following add), roundf
// is done exactly (trunc(v) + trunc(2·(v − trunc v))), and int8 stores keep the low byte of the
// int32 conversion like the C cast does on x86.
//
// Tiles (integer dots exact in int32, d_w·d_x applied in f32):
//   * BW flavour: kernels_avx512_quant_tile.inc (4 rows × 4 tokens per micro tile, 2 blocks a step).
//   * VNNI flavour (below). vpdpbusd multiplies unsigned by signed bytes; instead of the
//     |x|·sign(w, x) trick (one more instruction per block pair) the weights are made unsigned and
//     the correction goes into the accumulator's start value, computed once per activation block:
//       Q8_0: Σ w·x = Σ (w + 128)·x − 128·Σ x      (w + 128 = w XOR 0x80, in [0, 255])
//       Q4_0: Σ (q − 8)·x = Σ q·x − 8·Σ x          (q, the nibble, is already in [0, 15])
//     The int→f32 conversion, scale product and FMA, not the vpdpbusd, were the bottleneck of a
//     plain (row, token) tile on Zen 4 (vpdpbusd, vmulps and vfmadd share one 512-bit pipe pair),
//     so four block-pair dots are first merged (merge4: sums within 128-bit chunks) and share one
//     conversion, one scale product and one FMA:
//       - decode (1 token): one row at a time (one sequential DRAM stream), the 4 dots of 4
//         consecutive steps merged; activation data prepared once per call;
//       - prefill (≥ 4 tokens): row blocks of 8 packed once per token chunk (prepared quants and
//         scale patterns), then 8 rows × 4 tokens per micro tile, the 4 tokens' dots merged.
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's AVX-512 headers initialize their "undefined" vectors from themselves (`__m512i __Y = __Y;`),
// which -W(maybe-)uninitialized reports once inlined here (GCC bug 105593, fixed in 12.3 / 13).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <cmath>
#include <cstdint>
#include <cstring>
#include <new>

#include "cpu.h"
#include "half.h"
#include "kernels.h"
#include "kernels_quant.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
// Enable the instructions for this file only. Every header is included above this line, so none of
// their inline functions is compiled for AVX-512. VNNI is enabled per function (QATTR below), only
// for the flavour that uses it, so the BW flavour cannot contain a VNNI instruction.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")
#endif

namespace xts {
namespace {

using quant_detail::load_u16;

// ----------------------------------------------------------------------------------- quantizers

// roundf (half away from zero) of each lane, as int32: trunc(v) + trunc(2·(v − trunc(v))); every
// step is exact. NaN and ±inf give INT32_MIN + INT32_MIN = 0 (the scalar version's byte, 0).
static inline __m512i round_away_epi32(__m512 v) {
  const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(v, t);
  return _mm512_add_epi32(_mm512_cvttps_epi32(v), _mm512_cvttps_epi32(_mm512_add_ps(f, f)));
}

// x·id as one correctly rounded f32 multiply that the compiler may not contract with a later add.
static inline __m512 mul_exact(__m512 a, __m512 b) { return _mm512_mul_round_ps(a, b, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }

static inline uint16_t f32_to_f16_rne(float d) { return static_cast<uint16_t>(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT)); }

void quantize_q8_0(const float* x, void* y, int64_t n) {
  auto* out = static_cast<uint8_t*>(y);
  for (int64_t b = 0; b < n / QK; b++, x += QK, out += Q8_0_BYTES) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t h = f32_to_f16_rne(d);
    std::memcpy(out, &h, 2);
    const __m512 vid = _mm512_set1_ps(id);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2), _mm512_cvtepi32_epi8(round_away_epi32(mul_exact(v0, vid))));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 18), _mm512_cvtepi32_epi8(round_away_epi32(mul_exact(v1, vid))));
  }
}

void quantize_q4_0(const float* x, void* y, int64_t n) {
  auto* out = static_cast<uint8_t*>(y);
  const __m512 half8 = _mm512_set1_ps(8.5f);
  const __m512i fifteen = _mm512_set1_epi32(15);
  for (int64_t b = 0; b < n / QK; b++, x += QK, out += Q4_0_BYTES) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const __m512 a0 = _mm512_abs_ps(v0), a1 = _mm512_abs_ps(v1);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(a0, a1));
    float max = 0.0f;  // the first value of magnitude amax (+0 when all are zero, as in ggml)
    if (amax > 0.0f) {
      const __m512 am = _mm512_set1_ps(amax);
      const uint32_t m = static_cast<uint32_t>(_mm512_cmp_ps_mask(a0, am, _CMP_EQ_OQ)) |
                         static_cast<uint32_t>(_mm512_cmp_ps_mask(a1, am, _CMP_EQ_OQ)) << 16;
      max = x[quant_detail::ctz32(m)];
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t h = f32_to_f16_rne(d);
    std::memcpy(out, &h, 2);
    const __m512 vid = _mm512_set1_ps(id);
    // MIN(15, (int8_t)(x·id + 8.5f)); the sum is in [0.5, 16.5] or NaN/±inf (→ INT32_MIN, low byte 0)
    const __m512i q0 = _mm512_min_epi32(_mm512_cvttps_epi32(_mm512_add_ps(mul_exact(v0, vid), half8)), fifteen);
    const __m512i q1 = _mm512_min_epi32(_mm512_cvttps_epi32(_mm512_add_ps(mul_exact(v1, vid), half8)), fifteen);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2), _mm512_cvtepi32_epi8(_mm512_or_si512(q0, _mm512_slli_epi32(q1, 4))));
  }
}

void dequantize_q8_0(const void* xv, float* y, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(xv);
  for (int64_t b = 0; b < n / QK; b++, p += Q8_0_BYTES, y += QK) {
    const __m512 d = _mm512_set1_ps(f16_to_f32(load_u16(p)));
    const __m512i q0 = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2)));
    const __m512i q1 = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 18)));
    _mm512_storeu_ps(y, _mm512_mul_ps(d, _mm512_cvtepi32_ps(q0)));
    _mm512_storeu_ps(y + 16, _mm512_mul_ps(d, _mm512_cvtepi32_ps(q1)));
  }
}

void dequantize_q4_0(const void* xv, float* y, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(xv);
  const __m512i eight = _mm512_set1_epi32(8), low = _mm512_set1_epi32(0x0f);
  for (int64_t b = 0; b < n / QK; b++, p += Q4_0_BYTES, y += QK) {
    const __m512 d = _mm512_set1_ps(f16_to_f32(load_u16(p)));
    const __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2)));
    const __m512i lo = _mm512_sub_epi32(_mm512_and_si512(q, low), eight);
    const __m512i hi = _mm512_sub_epi32(_mm512_srli_epi32(q, 4), eight);
    _mm512_storeu_ps(y, _mm512_mul_ps(d, _mm512_cvtepi32_ps(lo)));
    _mm512_storeu_ps(y + 16, _mm512_mul_ps(d, _mm512_cvtepi32_ps(hi)));
  }
}

// ---------------------------------------------------------------------- block loads for the tiles

// Scales of two consecutive blocks (f16 at p and p + BS) as f32: lanes 0–7 d_b, lanes 8–15 d_b+1.
template <int BS>
static inline __m512 scales2(const uint8_t* p) {
  const uint32_t h = load_u16(p) | static_cast<uint32_t>(load_u16(p + BS)) << 16;
  const __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(h)));
  const __m512i idx = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(f));
}
// One block: lanes 0–7 d_b, lanes 8–15 zero.
static inline __m512 scales1(const uint8_t* p) {
  const __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128(load_u16(p)));
  const __m512i idx = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(f));
}

// Sum of the 16 lanes (instead of _mm512_reduce_add_ps, which trips GCC 12's warning above).
static inline float hsum(__m512 v) {
  const __m512 t = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  __m128 s = _mm_add_ps(_mm512_castps512_ps128(t), _mm512_castps512_ps128(_mm512_shuffle_f32x4(t, t, _MM_SHUFFLE(3, 2, 0, 1))));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Quants of Q8_0 blocks as int8 in value order: block b in bytes 0–31, block b+1 in 32–63.
// (Two 32-byte loads and an insert: measured faster on Zen 4 than one 64-byte load merged with a
// masked one.)
struct Q8Format {
  static constexpr int BYTES = Q8_0_BYTES;
  static __m512i load2(const uint8_t* p) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 + Q8_0_BYTES));
    return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
  }
  static __m512i load1(const uint8_t* p) { return _mm512_maskz_loadu_epi64(0x0f, p + 2); }
};

// Nibbles of Q4_0 blocks (0–15, value order like Q8Format): qs[j] holds value j (low nibble) and
// value j + 16 (high nibble), so each 16-byte qs is broadcast to two 128-bit lanes and the second
// lane shifted right by 4.
struct Q4Format {
  static constexpr int BYTES = Q4_0_BYTES;
  static __m512i load2(const uint8_t* p) {
    __m512i z = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2)));
    z = _mm512_mask_broadcast_i32x4(z, 0xff00, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 + Q4_0_BYTES)));
    z = _mm512_mask_srli_epi16(z, 0xff00ff00u, z, 4);
    return _mm512_and_si512(z, _mm512_set1_epi8(0x0f));
  }
  // The upper half repeats block b; harmless, as the activations' upper half is zero there.
  static __m512i load1(const uint8_t* p) {
    __m512i z = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2)));
    z = _mm512_mask_srli_epi16(z, 0xff00ff00u, z, 4);
    return _mm512_and_si512(z, _mm512_set1_epi8(0x0f));
  }
};

// --------------------------------------------------------------------- AVX-512 BW flavour (tiles)
namespace bw {
#define QATTR

// Σ w·x = Σ |w|·(x negated where w < 0): vpmaddubsw (u8 × s8 → pairs summed in int16; |w| ≤ 128,
// |x| ≤ 127, so ≤ 32512, no saturation) then vpmaddwd with ones (→ int32).
struct Q8Engine {
  using WFormat = Q8Format;
  struct WPrep {
    __m512i a;
    __mmask64 neg;
  };
  using XPrep = __m512i;
  static WPrep prep_w(__m512i w) { return {_mm512_abs_epi8(w), _mm512_movepi8_mask(w)}; }
  static XPrep prep_x(__m512i x) { return x; }
  static __m512i dot(const WPrep& w, const XPrep& x) {
    const __m512i sx = _mm512_mask_sub_epi8(x, w.neg, _mm512_setzero_si512(), x);
    return _mm512_madd_epi16(_mm512_maddubs_epi16(w.a, sx), _mm512_set1_epi16(1));
  }
};

// Σ (q − 8)·x = Σ q·x − Σ 8·x, both as int16 pair sums (|·| ≤ 3810), subtracted before widening.
struct Q4Engine {
  using WFormat = Q4Format;
  using WPrep = __m512i;
  struct XPrep {
    __m512i x, x8;
  };
  static WPrep prep_w(__m512i q) { return q; }
  static XPrep prep_x(__m512i x) { return {x, _mm512_maddubs_epi16(_mm512_set1_epi8(8), x)}; }
  static __m512i dot(const WPrep& q, const XPrep& x) {
    return _mm512_madd_epi16(_mm512_sub_epi16(_mm512_maddubs_epi16(q, x.x), x.x8), _mm512_set1_epi16(1));
  }
};

#include "kernels_avx512_quant_tile.inc"
#undef QATTR
}  // namespace bw

// ------------------------------------------------------------------- AVX-512 VNNI flavour (tiles)
namespace vnni {
#if defined(__GNUC__) || defined(__clang__)
#define QATTR __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define QINLINE QATTR inline __attribute__((always_inline))
#else
#define QATTR
#define QINLINE __forceinline
#endif

// Activations of one step: quants of blocks b, b+1 (or b alone) and the accumulator start
// c = −K·Σx per lane (K = 128 for Q8_0 weights, 8 for Q4_0), which turns Σ (w + K)·x into Σ w·x.
template <int K, bool TWO>
static QINLINE void prep_x(const uint8_t* xb, __m512i& xq, __m512i& c) {
  xq = TWO ? Q8Format::load2(xb) : Q8Format::load1(xb);
  c = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(static_cast<char>(K)), xq));
}

struct Q8Engine {
  using WFormat = Q8Format;
  static constexpr int K = 128;
  static constexpr bool SPLIT = false;
  static QINLINE __m512i prep_w(__m512i w) { return _mm512_xor_si512(w, _mm512_set1_epi8(static_cast<char>(0x80))); }  // w + 128
};

// For decode, Q4_0 uses a cheaper "split" layout (SPLIT): the weight register holds the qs bytes of
// blocks b, b+1, b, b+1 in its 128-bit chunks, ANDed with 0x0F in chunks 0–1 and with 0xF0 in chunks
// 2–3, so the high nibbles stay in place, multiplied by 16 (no shift). The activations are
// arranged to match ([x_b[0..15], x_b+1[0..15], x_b[16..31], x_b+1[16..31]]), the accumulator start
// is −8·Σx in chunks 0–1 and −128·Σx in chunks 2–3, and the activation scales of chunks 2–3 carry a
// factor 1/16 (exact): two instructions per step instead of three for the unpacking.
struct Q4Engine {
  using WFormat = Q4Format;
  static constexpr int K = 8;
  static constexpr bool SPLIT = true;
  static QINLINE __m512i prep_w(__m512i q) { return q; }  // the nibble q = w + 8
};

// Four dot products (16 int32 lanes each: lanes 0–7 block b, 8–15 block b+1) summed within each
// 128-bit chunk: result chunk c, lane j = Σ over chunk c of d_j. Chunks 0–1 still belong to block b
// and 2–3 to block b+1, so one int→f32 conversion, one scale product and one FMA serve four pairs.
static inline __m512i merge4(__m512i d0, __m512i d1, __m512i d2, __m512i d3) {
  const __m512i a = _mm512_add_epi32(_mm512_unpacklo_epi32(d0, d1), _mm512_unpackhi_epi32(d0, d1));
  const __m512i b = _mm512_add_epi32(_mm512_unpacklo_epi32(d2, d3), _mm512_unpackhi_epi32(d2, d3));
  return _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
}

// The four sums of a merged accumulator: lane j of the result = Σ_c acc[4c + j].
static inline __m128 chunk_sums(__m512 acc) {
  const __m512 t = _mm512_add_ps(acc, _mm512_shuffle_f32x4(acc, acc, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm_add_ps(_mm512_castps512_ps128(t), _mm512_castps512_ps128(_mm512_shuffle_f32x4(t, t, _MM_SHUFFLE(3, 2, 0, 1))));
}

// 8 f16 scales [a0 a1 a2 a3 b0 b1 b2 b3] → f32 in merge4's layout: chunk c, lane j = (c < 2 ? a_j : b_j).
static inline __m512 merged_scales(uint64_t a, uint64_t b) {
  const __m256 f = _mm256_cvtph_ps(_mm_set_epi64x(static_cast<long long>(b), static_cast<long long>(a)));
  const __m512i idx = _mm512_set_epi32(7, 6, 5, 4, 7, 6, 5, 4, 3, 2, 1, 0, 3, 2, 1, 0);
  return _mm512_permutexvar_ps(idx, _mm512_castps256_ps512(f));
}

static inline uint64_t f16x4(const uint8_t* p0, const uint8_t* p1, const uint8_t* p2, const uint8_t* p3) {
  return load_u16(p0) | static_cast<uint64_t>(load_u16(p1)) << 16 | static_cast<uint64_t>(load_u16(p2)) << 32 |
         static_cast<uint64_t>(load_u16(p3)) << 48;
}

// ---------------------------------------------------------------------------------- decode
// One token. The weights are read one row after another, a single sequential stream: measured on
// Zen 4, DRAM delivers ~30 GB/s to a core reading one stream but only 16–22 GB/s when the core
// interleaves 2–8 row streams (native/test/quant_test.cc --what streams), so rows are not blocked.
// Within a row the dots of 4 consecutive steps (8 blocks) are merged (merge4): a group of 8 blocks
// costs 4 loads, 4 vpdpbusd (+ Q8_0: 4 xor / Q4_0: the nibble unpacks), one merge, one conversion,
// one scale product and one FMA. The activation side (quants, accumulator starts, merged scale
// patterns) is prepared once per call into a per-thread buffer.
// Per-call activation data (1.5 bytes per column), kept small because it must stay in L1 next to
// the weight stream: measured on Zen 4, decode bandwidth falls as k grows (k = 13824, 20 KB of it:
// ~15 GB/s on one core against ~25 at k = 5120); so the accumulator starts are stored merged, one
// vector per 4 steps, and added after merge4. Cutting rows into column chunks or running rows
// backwards to keep it in L1 was measured to be worse (the weights are no longer one ascending
// stream).
struct DecodeBuffers {
  __m512i* xq = nullptr;  // [steps] activation quants of blocks 2s, 2s+1
  __m512i* cm = nullptr;  // [steps / 4] merge4 of the 4 steps' accumulator starts −K·Σx
  __m512* sxm = nullptr;  // [steps / 4] activation scales in merge4's layout
  int64_t cap = 0;        // steps
};

static DecodeBuffers& decode_buffers(int64_t steps) {
  thread_local DecodeBuffers d;  // grows, never freed (the pool's threads live as long as the process)
  if (d.cap < steps) {
    ::operator delete[](d.xq, std::align_val_t(64));
    d.xq = static_cast<__m512i*>(::operator new[](static_cast<size_t>(steps + 2 * (steps / 4 + 1)) * 64, std::align_val_t(64)));
    d.cm = d.xq + steps;
    d.sxm = reinterpret_cast<__m512*>(d.cm + steps / 4 + 1);
    d.cap = steps;
  }
  return d;
}

// f16 scales of the 8 blocks at p, stride BS, in merge4's layout for 4 steps: chunk c, lane j =
// block 2j + c/2. Generic version (scalar loads), used for the activations once per call.
template <int BS>
static inline __m512 merged_scales8(const uint8_t* p) {
  return merged_scales(f16x4(p, p + 2 * BS, p + 4 * BS, p + 6 * BS), f16x4(p + BS, p + 3 * BS, p + 5 * BS, p + 7 * BS));
}

// The same for 8 consecutive weight blocks of a row, gathered with word permutes from 64-byte loads
// of the group's own bytes (never past them): Q4_0's 8 blocks span 144 bytes (two loads, one
// permute), Q8_0's 272 (four loads, two permutes and a blend), then one vcvtph2ps.
template <int BS>
static inline __m512 row_scales8(const uint8_t* p);

template <>
inline __m512 row_scales8<Q4_0_BYTES>(const uint8_t* p) {
  // words (2-byte units from p) of the scales: block j at word 9j
  const __m512i idx = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  //
                                       63, 45, 27, 9, 63, 45, 27, 9, 54, 36, 18, 0, 54, 36, 18, 0);
  const __m512i h = _mm512_permutex2var_epi16(_mm512_loadu_si512(p), idx, _mm512_loadu_si512(p + 64));
  return _mm512_cvtph_ps(_mm512_castsi512_si256(h));
}

template <>
inline __m512 row_scales8<Q8_0_BYTES>(const uint8_t* p) {
  // block j at word 17j: blocks 0–3 (words 0, 17, 34, 51) in p[0, 128), blocks 4–7 (words 68, 85,
  // 102, 119 = 4, 21, 38, 55 relative to p + 128) in p[128, 256)
  const __m512i idx_a = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  //
                                         0, 0, 51, 17, 0, 0, 51, 17, 0, 0, 34, 0, 0, 0, 34, 0);
  const __m512i idx_b = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  //
                                         55, 21, 0, 0, 55, 21, 0, 0, 38, 4, 0, 0, 38, 4, 0, 0);
  const __m512i a = _mm512_permutex2var_epi16(_mm512_loadu_si512(p), idx_a, _mm512_loadu_si512(p + 64));
  const __m512i b = _mm512_permutex2var_epi16(_mm512_loadu_si512(p + 128), idx_b, _mm512_loadu_si512(p + 192));
  const __m512i h = _mm512_mask_blend_epi16(0xcccc, a, b);
  return _mm512_cvtph_ps(_mm512_castsi512_si256(h));
}

// Q4_0 row scales for the split layout: chunk c, lane j = block 2j + (c & 1) (blocks at word 9j).
static inline __m512 row_scales8_split(const uint8_t* p) {
  const __m512i idx = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  //
                                       63, 45, 27, 9, 54, 36, 18, 0, 63, 45, 27, 9, 54, 36, 18, 0);
  const __m512i h = _mm512_permutex2var_epi16(_mm512_loadu_si512(p), idx, _mm512_loadu_si512(p + 64));
  return _mm512_cvtph_ps(_mm512_castsi512_si256(h));
}

template <class E>
static QATTR void decode_prepare(int64_t nb, const uint8_t* x, DecodeBuffers& d) {
  const int64_t steps = nb / 2, groups = steps / 4;
  int64_t s = 0;
  if (E::SPLIT) {
    const __m512i k = _mm512_inserti64x4(_mm512_set1_epi8(8), _mm256_set1_epi8(static_cast<char>(0x80)), 1);
    for (; s < 4 * groups; s++) {
      const uint8_t* xb = x + 2 * s * Q8_0_BYTES;
      const __m256i lo = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xb + 2))),
                                                 _mm_loadu_si128(reinterpret_cast<const __m128i*>(xb + 2 + Q8_0_BYTES)), 1);
      const __m256i hi = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xb + 18))),
                                                 _mm_loadu_si128(reinterpret_cast<const __m128i*>(xb + 18 + Q8_0_BYTES)), 1);
      d.xq[s] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    }
    for (int64_t g = 0; g < groups; g++) {
      __m512i c[4];
      for (int j = 0; j < 4; j++) c[j] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), k, d.xq[4 * g + j]));
      d.cm[g] = merge4(c[0], c[1], c[2], c[3]);
    }
    for (int64_t g = 0; g < groups; g++) {
      float a[4], b[4];
      for (int j = 0; j < 4; j++) {
        a[j] = _cvtsh_ss(load_u16(x + (8 * g + 2 * j) * Q8_0_BYTES));
        b[j] = _cvtsh_ss(load_u16(x + (8 * g + 2 * j + 1) * Q8_0_BYTES));
      }
      const float e = 1.0f / 16.0f;
      d.sxm[g] = _mm512_setr_ps(a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3], a[0] * e, a[1] * e, a[2] * e, a[3] * e, b[0] * e, b[1] * e, b[2] * e,
                                b[3] * e);
    }
  } else {
    for (int64_t g = 0; g < groups; g++) {
      __m512i c[4];
      for (int j = 0; j < 4; j++) prep_x<E::K, true>(x + 2 * (4 * g + j) * Q8_0_BYTES, d.xq[4 * g + j], c[j]);
      d.cm[g] = merge4(c[0], c[1], c[2], c[3]);
      d.sxm[g] = merged_scales8<Q8_0_BYTES>(x + 8 * g * Q8_0_BYTES);
    }
  }
}

template <class E>
static QINLINE __m512i decode_weights(const uint8_t* p) {
  using WF = typename E::WFormat;
  if (E::SPLIT) {
    __m512i z = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2)));
    z = _mm512_mask_broadcast_i32x4(z, 0xf0f0, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 + WF::BYTES)));
    return _mm512_and_si512(z, _mm512_inserti64x4(_mm512_set1_epi8(0x0f), _mm256_set1_epi8(static_cast<char>(0xf0)), 1));
  }
  return E::prep_w(WF::load2(p));
}

template <class E>
static QINLINE float decode_row(int64_t nb, const uint8_t* row, const uint8_t* x, const DecodeBuffers& d) {
  using WF = typename E::WFormat;
  constexpr int WB = WF::BYTES;
  const int64_t steps = nb / 2, groups = steps / 4;
  __m512 acc = _mm512_setzero_ps();
  for (int64_t g = 0; g < groups; g++) {
    const uint8_t* p = row + 8 * g * WB;
    const __m512i* xq = d.xq + 4 * g;
    // Software prefetch into L2, 4 KB ahead (measured: +10–50 % at k = 13824, about neutral at
    // 5120; into L1 instead, the prefetched lines evict the activation data).
    for (int o = 0; o < 8 * WB; o += 64) _mm_prefetch(reinterpret_cast<const char*>(p) + 4096 + o, _MM_HINT_T1);
    const __m512i z = _mm512_setzero_si512();
    const __m512i d0 = _mm512_dpbusd_epi32(z, decode_weights<E>(p), xq[0]);
    const __m512i d1 = _mm512_dpbusd_epi32(z, decode_weights<E>(p + 2 * WB), xq[1]);
    const __m512i d2 = _mm512_dpbusd_epi32(z, decode_weights<E>(p + 4 * WB), xq[2]);
    const __m512i d3 = _mm512_dpbusd_epi32(z, decode_weights<E>(p + 6 * WB), xq[3]);
    const __m512 sw = E::SPLIT ? row_scales8_split(p) : row_scales8<WB>(p);
    const __m512i m = _mm512_add_epi32(merge4(d0, d1, d2, d3), d.cm[g]);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(m), _mm512_mul_ps(sw, d.sxm[g]), acc);
  }
  // the last < 8 blocks: steps of two blocks, then a single block, in the plain layout (the final
  // sum adds all 16 lanes whatever their layout)
  for (int64_t s = 4 * groups; s < steps; s++) {
    const uint8_t* p = row + 2 * s * WB;
    __m512i xq, c;
    prep_x<E::K, true>(x + 2 * s * Q8_0_BYTES, xq, c);
    const __m512i dp = _mm512_dpbusd_epi32(c, E::prep_w(WF::load2(p)), xq);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dp), _mm512_mul_ps(scales2<WB>(p), scales2<Q8_0_BYTES>(x + 2 * s * Q8_0_BYTES)), acc);
  }
  if (nb & 1) {
    const uint8_t* p = row + (nb - 1) * WB;
    const uint8_t* xb = x + (nb - 1) * Q8_0_BYTES;
    __m512i xq, c;
    prep_x<E::K, false>(xb, xq, c);
    const __m512i dp = _mm512_dpbusd_epi32(c, E::prep_w(WF::load1(p)), xq);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dp), _mm512_mul_ps(scales1(p), scales1(xb)), acc);
  }
  return hsum(acc);
}

template <class E>
static QATTR void decode(int64_t nb, const uint8_t* w, int64_t ws, int64_t nr, const uint8_t* x, float* out) {
  DecodeBuffers& d = decode_buffers(nb / 2 + 1);
  decode_prepare<E>(nb, x, d);
  for (int64_t r = 0; r < nr; r++) out[r] = decode_row<E>(nb, w + r * ws, x, d);
}

// --------------------------------------------------------------------------------- prefill
// Several tokens: the tile is cut into chunks of tokens (their activations stay in L2) and row
// blocks of up to RB rows. Each row block is first packed into a per-thread buffer, once per chunk:
// per step the prepared weight quants (Q8_0: w XOR 0x80; Q4_0: the unpacked nibbles) and the
// scale pattern [d_b ×8, d_b+1 ×8] as f32, so that the inner loop spends nothing on them. The
// chunk's activation scales are laid out per group of 4 tokens, [block][token] as f32.
// The micro kernel then runs R ≤ RB packed rows × 4 tokens: per step and token a load and the
// accumulator start c (one vpdpbusd), per row a load, 4 vpdpbusd, one merge4 over the 4 tokens,
// one conversion, one scale product (row pattern × token scales) and one FMA.
constexpr int RB = 8;

struct PackBuffers {
  __m512i* w = nullptr;  // [RB][steps]: prepared quants
  __m512* sw = nullptr;  // [RB][steps]: weight scale patterns
  float* sx = nullptr;   // [groups][nb + 1][4]: activation scales per group of 4 tokens
  int64_t w_cap = 0, sx_cap = 0;
};

// Per-thread buffers; they grow to the largest tile a thread has seen and are never freed (the
// worker threads live as long as the process).
static PackBuffers& pack_buffers(int64_t steps, int64_t sx_floats) {
  thread_local PackBuffers p;
  if (p.w_cap < steps * RB) {
    ::operator delete[](p.w, std::align_val_t(64));
    ::operator delete[](p.sw, std::align_val_t(64));
    p.w = static_cast<__m512i*>(::operator new[](static_cast<size_t>(steps * RB) * 64, std::align_val_t(64)));
    p.sw = static_cast<__m512*>(::operator new[](static_cast<size_t>(steps * RB) * 64, std::align_val_t(64)));
    p.w_cap = steps * RB;
  }
  if (p.sx_cap < sx_floats) {
    ::operator delete[](p.sx, std::align_val_t(64));
    p.sx = static_cast<float*>(::operator new[](static_cast<size_t>(sx_floats) * 4, std::align_val_t(64)));
    p.sx_cap = sx_floats;
  }
  return p;
}

template <class E>
static QATTR void pack_rows(int64_t nb, const uint8_t* w, int64_t ws, int64_t nr, __m512i* pw, __m512* psw) {
  using WF = typename E::WFormat;
  constexpr int WB = WF::BYTES;
  const int64_t steps = (nb + 1) / 2;
  for (int64_t r = 0; r < nr; r++) {
    const uint8_t* row = w + r * ws;
    int64_t b = 0, s = 0;
    for (; b + 2 <= nb; b += 2, s++) {
      _mm512_store_si512(pw + r * steps + s, E::prep_w(WF::load2(row + b * WB)));
      _mm512_store_ps(psw + r * steps + s, scales2<WB>(row + b * WB));
    }
    if (b < nb) {
      _mm512_store_si512(pw + r * steps + s, E::prep_w(WF::load1(row + b * WB)));
      _mm512_store_ps(psw + r * steps + s, scales1(row + b * WB));
    }
  }
}

template <class E, int R, bool TWO>
static QINLINE void prefill_step(const __m512i* pw, const __m512* psw, int64_t steps, const uint8_t* const* xt, const float* sxg, int64_t b,
                               __m512* acc) {
  const int64_t s = b / 2;
  __m512i xq[4], c[4];
  for (int t = 0; t < 4; t++) prep_x<E::K, TWO>(xt[t] + b * Q8_0_BYTES, xq[t], c[t]);
  const __m512i idx = _mm512_set_epi32(7, 6, 5, 4, 7, 6, 5, 4, 3, 2, 1, 0, 3, 2, 1, 0);
  const __m512 sx = _mm512_permutexvar_ps(idx, _mm512_castps256_ps512(_mm256_loadu_ps(sxg + b * 4)));
  for (int r = 0; r < R; r++) {
    const __m512i wq = _mm512_load_si512(pw + r * steps + s);
    const __m512i d0 = _mm512_dpbusd_epi32(c[0], wq, xq[0]);
    const __m512i d1 = _mm512_dpbusd_epi32(c[1], wq, xq[1]);
    const __m512i d2 = _mm512_dpbusd_epi32(c[2], wq, xq[2]);
    const __m512i d3 = _mm512_dpbusd_epi32(c[3], wq, xq[3]);
    const __m512 scale = _mm512_mul_ps(_mm512_load_ps(psw + r * steps + s), sx);
    acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(merge4(d0, d1, d2, d3)), scale, acc[r]);
  }
}

// R packed rows × 4 tokens (xt: the 4 activation rows; a partial group repeats its last token and
// writes only nt outputs per row).
template <class E, int R>
static QATTR void prefill_micro(int64_t nb, const __m512i* pw, const __m512* psw, const uint8_t* const* xt, const float* sxg, int64_t nt,
                                float* out, int64_t os) {
  const int64_t steps = (nb + 1) / 2;
  __m512 acc[R];
  for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) prefill_step<E, R, true>(pw, psw, steps, xt, sxg, b, acc);
  if (b < nb) prefill_step<E, R, false>(pw, psw, steps, xt, sxg, b, acc);
  for (int r = 0; r < R; r++) {
    alignas(16) float v[4];
    _mm_store_ps(v, chunk_sums(acc[r]));
    for (int t = 0; t < nt; t++) out[t * os + r] = v[t];
  }
}

template <class E>
static QATTR void prefill_rows(int64_t nb, int64_t nr, const __m512i* pw, const __m512* psw, const uint8_t* const* xt, const float* sxg,
                               int64_t nt, float* out, int64_t os) {
  switch (nr) {
    case 8: prefill_micro<E, 8>(nb, pw, psw, xt, sxg, nt, out, os); break;
    case 7: prefill_micro<E, 7>(nb, pw, psw, xt, sxg, nt, out, os); break;
    case 6: prefill_micro<E, 6>(nb, pw, psw, xt, sxg, nt, out, os); break;
    case 5: prefill_micro<E, 5>(nb, pw, psw, xt, sxg, nt, out, os); break;
    case 4: prefill_micro<E, 4>(nb, pw, psw, xt, sxg, nt, out, os); break;
    case 3: prefill_micro<E, 3>(nb, pw, psw, xt, sxg, nt, out, os); break;
    case 2: prefill_micro<E, 2>(nb, pw, psw, xt, sxg, nt, out, os); break;
    case 1: prefill_micro<E, 1>(nb, pw, psw, xt, sxg, nt, out, os); break;
    default: break;
  }
}

template <class E>
QATTR void tile(int64_t k, const void* wv, int64_t w_stride, const void* xv, int64_t x_stride, float* out, int64_t out_stride, int64_t nr,
                int64_t nt) {
  const int64_t nb = k / QK;
  const auto* w = static_cast<const uint8_t*>(wv);
  const auto* x = static_cast<const uint8_t*>(xv);
  if (nt < 4) {  // decode (and 2–3 tokens, which reuse it per token)
    for (int64_t t = 0; t < nt; t++) decode<E>(nb, w, w_stride, nr, x + t * x_stride, out + t * out_stride);
    return;
  }
  // Tokens per chunk: a multiple of 4 whose activation rows fit in ~384 KB (of a 1–2 MB L2).
  const int64_t steps = (nb + 1) / 2;
  int64_t chunk = (int64_t(384) << 10) / (x_stride > 0 ? x_stride : 1) / 4 * 4;
  chunk = chunk < 8 ? 8 : chunk > 64 ? 64 : chunk;
  const int64_t groups_max = (chunk + 3) / 4;
  PackBuffers& buf = pack_buffers(steps, groups_max * (nb + 1) * 4);
  for (int64_t t0 = 0; t0 < nt; t0 += chunk) {
    const int64_t tc = nt - t0 < chunk ? nt - t0 : chunk;
    const int64_t groups = (tc + 3) / 4;
    // activation scales, per group [block][token] (token slots past tc repeat the last token; the
    // entry past the last block is 0 for an odd block count)
    for (int64_t g = 0; g < groups; g++) {
      float* sxg = buf.sx + g * (nb + 1) * 4;
      for (int t = 0; t < 4; t++) {
        const int64_t tt = t0 + (4 * g + t < tc ? 4 * g + t : tc - 1);
        const uint8_t* xr = x + tt * x_stride;
        for (int64_t b = 0; b < nb; b++) sxg[b * 4 + t] = _cvtsh_ss(load_u16(xr + b * Q8_0_BYTES));
        sxg[nb * 4 + t] = 0.0f;
      }
    }
    for (int64_t r0 = 0; r0 < nr; r0 += RB) {
      const int64_t rn = nr - r0 < RB ? nr - r0 : RB;
      pack_rows<E>(nb, w + r0 * w_stride, w_stride, rn, buf.w, buf.sw);
      for (int64_t g = 0; g < groups; g++) {
        const uint8_t* xt[4];
        const int64_t tn = tc - 4 * g < 4 ? tc - 4 * g : 4;
        for (int t = 0; t < 4; t++) xt[t] = x + (t0 + 4 * g + (t < tn ? t : tn - 1)) * x_stride;
        prefill_rows<E>(nb, rn, buf.w, buf.sw, xt, buf.sx + g * (nb + 1) * 4, tn, out + (t0 + 4 * g) * out_stride + r0, out_stride);
      }
    }
  }
}

#undef QATTR
#undef QINLINE
}  // namespace vnni

void register_common(KernelSet& ks) {
  ks.quantize_q8_0 = quantize_q8_0;
  ks.quantize_q4_0 = quantize_q4_0;
  ks.to_f32[W_Q8_0] = dequantize_q8_0;
  ks.to_f32[W_Q4_0] = dequantize_q4_0;
}

}  // namespace

void register_quant_avx512_bw(KernelSet& ks) {
  register_common(ks);
  ks.tile[W_Q8_0] = bw::tile<bw::Q8Engine>;
  ks.tile[W_Q4_0] = bw::tile<bw::Q4Engine>;
}

void register_quant_avx512_vnni(KernelSet& ks) {
  register_common(ks);
  ks.tile[W_Q8_0] = vnni::tile<vnni::Q8Engine>;
  ks.tile[W_Q4_0] = vnni::tile<vnni::Q4Engine>;
  ks.isa = "avx512+vnni";
}

void register_quant_avx512(KernelSet& ks) {
  if (cpu_features().avx512vnni) {
    register_quant_avx512_vnni(ks);
  } else {
    register_quant_avx512_bw(ks);
  }
}

}  // namespace xts

#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif  // x86-64
