// Elementwise and row operations (see ops.h). These are a small share of a forward pass (the
// matrix products dominate), so they are written for exactness first: where the TypeScript
// reference computes in double, so does this code, in the same order, and the results match it
// bit for bit (rmsNorm, add; rope where libm and V8 agree on cos/sin to the last bit) or to an ulp
// (siluMul, which uses f32 exp). Long ones are split across the thread pool.
#include "ops.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "dispatch.h"
#include "matmul.h"
#include "thread_pool.h"

namespace xts {
namespace {

// Elementwise ops shorter than this run on the calling thread.
constexpr int64_t MIN_PARALLEL_ELEMENTS = 1 << 16;
constexpr int64_t CHUNK = 1 << 14;

template <class F>
void for_chunks(int64_t len, F&& f) {
  if (len < MIN_PARALLEL_ELEMENTS || pool().size() == 1) {
    f(0, len);
    return;
  }
  pool().run((len + CHUNK - 1) / CHUNK, [&](int64_t c, int) { f(c * CHUNK, std::min(len, (c + 1) * CHUNK)); });
}

}  // namespace

void rms_norm(float* out, const float* x, const float* w, int64_t n, int64_t dim, double eps) {
  for (int64_t i = 0; i < n; i++) {
    const float* xi = x + i * dim;
    float* oi = out + i * dim;
    // One sequential double sum, as the reference does, so the result matches it exactly; then,
    // like f32 implementations (HF float32, run.c, ggml), an f32 scale and the normalized value
    // rounded to f32 before the weight is applied.
    double ss = 0;
    for (int64_t j = 0; j < dim; j++) ss += static_cast<double>(xi[j]) * xi[j];
    const float scale = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(dim) + eps));
    for (int64_t j = 0; j < dim; j++) oi[j] = (xi[j] * scale) * w[j];
  }
}

void rope(float* x, int64_t n, int64_t n_heads, int64_t head_dim, int64_t start_pos, const float* inv_freq) {
  const int64_t half = head_dim / 2;
  const int64_t row_len = n_heads * head_dim;
  for_chunks(n, [&](int64_t first, int64_t end) {
    for (int64_t i = first; i < end; i++) {
      for (int64_t j = 0; j < half; j++) {
        // The angle is rounded to f32 as HF's float32 cos/sin tables are built.
        const float angle = static_cast<float>(start_pos + i) * inv_freq[j];
        const double c = std::cos(static_cast<double>(angle));
        const double s = std::sin(static_cast<double>(angle));
        for (int64_t h = 0; h < n_heads; h++) {
          float* p = x + i * row_len + h * head_dim;
          const double a = p[j], b = p[j + half];
          p[j] = static_cast<float>(a * c - b * s);
          p[j + half] = static_cast<float>(b * c + a * s);
        }
      }
    }
  });
}

void silu_mul(float* x, const float* y, int64_t len) {
  for_chunks(len, [&](int64_t first, int64_t end) {
    for (int64_t i = first; i < end; i++) {
      const float g = x[i];
      x[i] = g / (1.0f + std::exp(-g)) * y[i];
    }
  });
}

void add(float* x, const float* y, int64_t len) {
  for_chunks(len, [&](int64_t first, int64_t end) {
    for (int64_t i = first; i < end; i++) x[i] += y[i];
  });
}

void to_f32(const void* src, WeightType t, float* out, int64_t n) {
  const ToF32Fn f = dispatch().ks.to_f32[t];
  if (!f) throw std::runtime_error(std::string("this build cannot widen ") + weight_type_name(t) + " values");
  f(src, out, n);
}

int64_t embed(float* out, const void* table, WeightType t, int64_t rows, int64_t cols, const int32_t* ids, int64_t count) {
  const int64_t row = row_bytes(t, cols);
  for (int64_t i = 0; i < count; i++) {
    if (ids[i] < 0 || ids[i] >= rows) return i;
    to_f32(static_cast<const uint8_t*>(table) + ids[i] * row, t, out + i * cols, cols);
  }
  return -1;
}

}  // namespace xts
