// Standalone test of the native backend's core (not part of the addon build): the float kernels of
// every instruction-set variant this CPU runs against a double-precision reference, the matmul
// driver and thread pool, and attention. It needs no Node, so it also runs cross-compiled under
// qemu (NEON) and with clang; build and run it with ./core_test.sh [host|clang|aarch64].
//
// Bound for a dot product of length k (u = 2^-24), as in test/helpers/native.ts:
//   |kernel − exact| ≤ (⌈k/4⌉ + 6)·u·Σ|wᵢxᵢ|
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "attention.h"
#include "cpu.h"
#include "dispatch.h"
#include "float_ops.h"
#include "half.h"
#include "kernels.h"
#include "matmul.h"
#include "thread_pool.h"

using namespace xts;

namespace {

int failures = 0;
int checks = 0;

void fail(const std::string& msg) {
  if (failures++ < 20) std::fprintf(stderr, "FAIL: %s\n", msg.c_str());
}

uint32_t rng_state = 12345;
float rnd() {  // uniform in [-1, 1)
  rng_state = rng_state * 1664525u + 1013904223u;
  return static_cast<float>(rng_state >> 8) / 8388608.0f - 1.0f;
}

struct Variant {
  std::string name;
  KernelSet ks;
  FloatOps ops;
};

std::vector<Variant> variants() {
  std::vector<Variant> v;
  Variant s{"scalar", {}, {}};
  register_float_scalar(s.ks);
  register_ops_scalar(s.ops);
  v.push_back(s);
#if defined(__x86_64__) || defined(_M_X64)
  const CpuFeatures& f = cpu_features();
  if (f.has_avx2_level()) {
    Variant a{"avx2", s.ks, s.ops};
    register_float_avx2(a.ks);
    register_ops_avx2(a.ops);
    v.push_back(a);
  }
  if (f.has_avx512_level()) {
    Variant a{"avx512", s.ks, s.ops};
    register_float_avx512(a.ks);
    register_ops_avx512(a.ops);
    v.push_back(a);
  }
#elif defined(__aarch64__)
  Variant a{"neon", s.ks, s.ops};
  register_float_neon(a.ks);
  register_ops_neon(a.ops);
  v.push_back(a);
#endif
  return v;
}

// Weights of type t holding `values` (rounded to t), and the values as stored (widened exactly).
std::vector<uint8_t> encode(WeightType t, const std::vector<float>& values, std::vector<float>& stored) {
  std::vector<uint8_t> out(values.size() * (t == W_F32 ? 4 : 2));
  stored.resize(values.size());
  for (size_t i = 0; i < values.size(); i++) {
    if (t == W_F32) {
      std::memcpy(&out[i * 4], &values[i], 4);
      stored[i] = values[i];
    } else {
      const uint16_t h = t == W_F16 ? f32_to_f16(values[i]) : static_cast<uint16_t>(f32_to_bits(values[i]) >> 16);
      std::memcpy(&out[i * 2], &h, 2);
      stored[i] = t == W_F16 ? f16_to_f32(h) : bf16_to_f32(h);
    }
  }
  return out;
}

const char* tname(WeightType t) { return t == W_F32 ? "f32" : t == W_F16 ? "f16" : "bf16"; }

void test_tiles(const Variant& v) {
  const int64_t ks[] = {1, 7, 15, 16, 17, 31, 33, 100, 4097};
  for (WeightType t : {W_F32, W_F16, W_BF16}) {
    for (int64_t k : ks) {
      const int64_t nr = 13, nt = 9;
      std::vector<float> wv(static_cast<size_t>(nr * k)), stored, x(static_cast<size_t>(nt * k));
      for (auto& e : wv) e = rnd() * 3;
      for (auto& e : x) e = rnd() * 2;
      const std::vector<uint8_t> w = encode(t, wv, stored);
      const int64_t es = t == W_F32 ? 4 : 2;
      // Every sub-tile shape (rows 1…13 × tokens 1…9) through the same kernel.
      for (int64_t r_n = 1; r_n <= nr; r_n += 3) {
        for (int64_t t_n = 1; t_n <= nt; t_n += 2) {
          std::vector<float> out(static_cast<size_t>(t_n * nr), NAN);
          v.ks.tile[t](k, w.data(), k * es, x.data(), k * 4, out.data(), nr, r_n, t_n);
          for (int64_t tt = 0; tt < t_n; tt++) {
            for (int64_t r = 0; r < r_n; r++) {
              double exact = 0, abs = 0;
              for (int64_t i = 0; i < k; i++) {
                const double p = static_cast<double>(stored[r * k + i]) * x[tt * k + i];
                exact += p;
                abs += std::fabs(p);
              }
              const double bound = (std::ceil(k / 4.0) + 6) * std::ldexp(1.0, -24) * abs;
              checks++;
              if (!(std::fabs(out[tt * nr + r] - exact) <= bound)) {
                fail(v.name + " tile " + tname(t) + " k=" + std::to_string(k) + " nr=" + std::to_string(r_n) + " nt=" + std::to_string(t_n) +
                     " out[" + std::to_string(tt) + "," + std::to_string(r) + "]=" + std::to_string(out[tt * nr + r]) + " exact=" + std::to_string(exact));
              }
            }
          }
        }
      }
      // to_f32 widens exactly (every length 0…k through the tail code).
      for (int64_t n : {k, k - 1 > 0 ? k - 1 : 1}) {
        std::vector<float> y(static_cast<size_t>(n) + 1, 7.0f);
        v.ks.to_f32[t](w.data(), y.data(), n);
        checks++;
        for (int64_t i = 0; i < n; i++)
          if (f32_to_bits(y[i]) != f32_to_bits(stored[i])) { fail(v.name + " to_f32 " + tname(t)); break; }
        if (y[n] != 7.0f) fail(v.name + " to_f32 wrote past the end");
      }
    }
  }
  // Special f16 values widen like half.h (subnormals, infinities).
  const uint16_t specials[] = {0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x7bff, 0x7c00, 0xfc00, 0x3c00, 0xc000, 0x8001};
  std::vector<float> y(11);
  v.ks.to_f32[W_F16](specials, y.data(), 11);
  for (int i = 0; i < 11; i++) {
    checks++;
    if (f32_to_bits(y[i]) != f32_to_bits(f16_to_f32(specials[i]))) fail(v.name + " f16 special " + std::to_string(specials[i]));
  }
  // axpy and axpy_f16 (y += a·x, x in f32 or f16), every tail length
  for (int64_t n : {1, 5, 7, 8, 9, 15, 16, 17, 100}) {
    std::vector<float> x(n), a(n), b(n), c(n);
    std::vector<uint16_t> h(n);
    for (int64_t i = 0; i < n; i++) {
      x[i] = rnd();
      h[i] = f32_to_f16(x[i]);
      a[i] = b[i] = c[i] = rnd();
    }
    v.ops.axpy(0.75f, x.data(), a.data(), n);
    v.ops.axpy_f16(0.75f, h.data(), c.data(), n);
    for (int64_t i = 0; i < n; i++) {
      checks += 2;
      if (std::fabs(a[i] - (b[i] + 0.75 * x[i])) > 2e-7 * (std::fabs(b[i]) + 1)) fail(v.name + " axpy");
      if (std::fabs(c[i] - (b[i] + 0.75 * f16_to_f32(h[i]))) > 2e-7 * (std::fabs(b[i]) + 1)) fail(v.name + " axpy_f16 n=" + std::to_string(n));
    }
  }
}

// The driver with the active (dispatched) kernels: threads and tiling must not change results.
void test_driver() {
  const int64_t rows = 301, cols = 1000, n = 37;
  std::vector<float> w(rows * cols), x(n * cols);
  for (auto& e : w) e = rnd();
  for (auto& e : x) e = rnd();
  std::vector<float> ref(n * rows), out(n * rows);
  pool().resize(1);
  matmul(ref.data(), x.data(), w.data(), W_F32, rows, cols, n);
  for (int threads : {2, 3, 4}) {
    pool().resize(threads);
    matmul(out.data(), x.data(), w.data(), W_F32, rows, cols, n);
    checks++;
    if (out != ref) fail("matmul differs with " + std::to_string(threads) + " threads");
  }
  // Many tiny jobs back to back (the decode pattern), checking each one.
  pool().resize(2);
  for (int rep = 0; rep < 20000; rep++) {
    std::vector<int> hit(64, 0);
    pool().run(64, [&](int64_t task, int) { hit[task]++; });
    for (int h : hit)
      if (h != 1) { fail("pool ran a task " + std::to_string(h) + " times"); rep = 1 << 30; break; }
  }
  checks++;
}

// Attention with an f32 cache against a double-precision evaluation of the definition.
void test_attention() {
  const int64_t heads = 8, kv_heads = 2, hd = 40, kv_dim = kv_heads * hd, q_dim = heads * hd, len = 70;
  std::vector<float> k(len * kv_dim), v(len * kv_dim), q(3 * q_dim), out(3 * q_dim);
  for (auto& e : k) e = rnd();
  for (auto& e : v) e = rnd();
  for (auto& e : q) e = rnd() * 2;
  std::vector<float> keys(len * kv_dim), values(len * kv_dim);
  kv_write(keys.data(), values.data(), W_F32, kv_dim, 0, k.data(), v.data(), len);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (int64_t nq : {1, 3, 20}) {  // decode path (≤ 3 queries) and prefill path
    const int64_t start = len - nq;
    out.assign(nq * q_dim, NAN);
    q.resize(nq * q_dim);
    for (auto& e : q) e = rnd() * 2;
    attention(out.data(), q.data(), keys.data(), values.data(), W_F32, kv_dim, nq, start, heads, kv_heads, hd, scale);
    for (int64_t i = 0; i < nq; i++) {
      for (int64_t h = 0; h < heads; h++) {
        const int64_t g = h / (heads / kv_heads), visible = start + i + 1;
        std::vector<double> s(visible);
        double max = -1e300, sum = 0;
        for (int64_t t = 0; t < visible; t++) {
          double d = 0;
          for (int64_t j = 0; j < hd; j++) d += static_cast<double>(q[i * q_dim + h * hd + j]) * k[t * kv_dim + g * hd + j];
          s[t] = d * scale;
          max = std::max(max, s[t]);
        }
        for (auto& e : s) sum += (e = std::exp(e - max));
        for (int64_t j = 0; j < hd; j++) {
          double o = 0;
          for (int64_t t = 0; t < visible; t++) o += s[t] / sum * v[t * kv_dim + g * hd + j];
          checks++;
          if (std::fabs(out[i * q_dim + h * hd + j] - o) > 2e-5) fail("attention out differs: " + std::to_string(out[i * q_dim + h * hd + j]) + " vs " + std::to_string(o));
        }
      }
    }
  }
}

}  // namespace

int main() {
  std::printf("cpu: %s; flags:", cpu_features().brand.c_str());
  for (const auto& f : cpu_features().names()) std::printf(" %s", f.c_str());
  std::printf("; physical cores %d\n", physical_cores());
  for (const Variant& v : variants()) {
    const int before = failures;
    test_tiles(v);
    std::printf("%-7s float kernels: %s\n", v.name.c_str(), failures == before ? "ok" : "FAILED");
  }
  for (const std::string& level : dispatch().levels) {
    select_isa(level);
    const int before = failures;
    test_driver();
    test_attention();
    std::printf("%-7s driver, pool, attention: %s\n", level.c_str(), failures == before ? "ok" : "FAILED");
  }
  std::printf("%d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
