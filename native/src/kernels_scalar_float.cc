// Float-weight kernels (f32, f16, bf16 weights × f32 activations), portable scalar variant: the
// fallback on CPUs without a SIMD variant and the baseline the SIMD variants are tested against.
// 16-bit weights are widened exactly (half.h); sums use eight f32 partial sums per dot product,
// which the compiler maps onto SSE/NEON registers and which keeps the error of long sums small.
#include <cstring>

#include "float_ops.h"
#include "half.h"
#include "kernels.h"

namespace xts {
namespace {

struct F32 {
  using T = float;
  static float get(const float* p, int64_t i) { return p[i]; }
};
struct F16 {
  using T = uint16_t;
  static float get(const uint16_t* p, int64_t i) { return f16_to_f32(p[i]); }
};
struct BF16 {
  using T = uint16_t;
  static float get(const uint16_t* p, int64_t i) { return bf16_to_f32(p[i]); }
};

constexpr int LANES = 8;

// dot(w, x) over k values with LANES partial sums (lane j sums the terms i ≡ j mod LANES).
template <class W>
float dot(int64_t k, const typename W::T* w, const float* x) {
  float acc[LANES] = {};
  int64_t i = 0;
  for (; i + LANES <= k; i += LANES)
    for (int j = 0; j < LANES; j++) acc[j] += W::get(w, i + j) * x[i + j];
  for (int j = 0; i < k; i++, j++) acc[j] += W::get(w, i) * x[i];
  for (int s = LANES / 2; s > 0; s /= 2)
    for (int j = 0; j < s; j++) acc[j] += acc[j + s];
  return acc[0];
}

// Rows are widened once into a per-thread buffer when several tokens use them (prefill), so the
// conversion is not repeated per token; a decode (one token) widens on the fly.
template <class W>
void tile(int64_t k, const void* w, int64_t w_stride, const void* x, int64_t x_stride, float* out,
          int64_t out_stride, int64_t nr, int64_t nt) {
  using T = typename W::T;
  thread_local float* row = nullptr;
  thread_local int64_t row_cap = 0;
  for (int64_t r = 0; r < nr; r++) {
    const T* wr = reinterpret_cast<const T*>(static_cast<const char*>(w) + r * w_stride);
    const float* wf = nullptr;
    if (nt > 1) {
      if (row_cap < k) {  // grows to the longest row once per thread
        delete[] row;
        row = new float[k];
        row_cap = k;
      }
      for (int64_t i = 0; i < k; i++) row[i] = W::get(wr, i);
      wf = row;
    }
    for (int64_t t = 0; t < nt; t++) {
      const float* xt = reinterpret_cast<const float*>(static_cast<const char*>(x) + t * x_stride);
      out[t * out_stride + r] = wf ? dot<F32>(k, wf, xt) : dot<W>(k, wr, xt);
    }
  }
}

template <class W>
void to_f32(const void* x, float* y, int64_t n) {
  const auto* p = static_cast<const typename W::T*>(x);
  for (int64_t i = 0; i < n; i++) y[i] = W::get(p, i);
}

void axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

void axpy_f16(float a, const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += a * f16_to_f32(x[i]);
}

uint64_t read_sum(const void* p, int64_t n) {
  const auto* q = static_cast<const uint64_t*>(p);
  uint64_t s[8] = {};
  for (int64_t i = 0; i < n / 8; i += 8)
    for (int j = 0; j < 8; j++) s[j] ^= q[i + j];
  return s[0] ^ s[1] ^ s[2] ^ s[3] ^ s[4] ^ s[5] ^ s[6] ^ s[7];
}

}  // namespace

void register_float_scalar(KernelSet& ks) {
  ks.tile[W_F32] = tile<F32>;
  ks.tile[W_F16] = tile<F16>;
  ks.tile[W_BF16] = tile<BF16>;
  ks.to_f32[W_F32] = to_f32<F32>;
  ks.to_f32[W_F16] = to_f32<F16>;
  ks.to_f32[W_BF16] = to_f32<BF16>;
}

void register_ops_scalar(FloatOps& ops) {
  ops.axpy = axpy;
  ops.axpy_f16 = axpy_f16;
  ops.read_sum = read_sum;
}

}  // namespace xts
