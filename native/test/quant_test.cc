// Standalone test and benchmark of the block-quantized kernels (native/src/kernels_*_quant.cc).
// Not part of the addon build. Build and run (from native/test):
//
//   make            # g++ -O3 -std=c++17 -I../src quant_test.cc <quant kernels> ../src/cpu.cc -pthread
//   ./build/quant_test            # tests: every variant this CPU runs against the scalar one,
//                                 # and quantization against llama.cpp's GGUF files
//   ./build/quant_test --bench    # tests, then benchmarks (decode GB/s, prefill GOP/s, quantize)
//   ./build/quant_test --bench-only
//
// What is checked:
//  1. quantize_q8_0 / quantize_q4_0: bytes identical to the scalar variant (a transcription of
//     ggml's quantize_row_q8_0_ref / quantize_row_q4_0_ref) on random data and edge cases; the
//     scalar variant itself against a second, literal transcription of ggml's C code (below).
//  2. to_f32 (dequantize): bit-identical to the scalar variant.
//  3. tile: against an exact (double, per-block int32) reference of the documented semantics,
//     Σ_b f16(d_w)·f16(d_x)·Σ q_w·q_x, for k ∈ {32, 64, 96, 4096, 5120, 13824}, nr/nt ∈ {1, 3, 5, 17}
//     (and a few larger tiles), non-trivial strides; |got − exact| ≤ TILE_TOL · Σ_b |term_b|.
//     Canaries around every output check that nothing outside the tile is written, and the weights
//     and activations end right before an unmapped page, so that reading past them crashes.
//  4. GGUF: every Q8_0 / Q4_0 tensor of ../../shared/fixtures/xverse-tiny/gguf/xverse-tiny-{q8_0,q4_0}.gguf
//     (llama-quantize output) equals our quantization of the same tensor of xverse-tiny-f32.gguf.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>
#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "cpu.h"
#include "half.h"
#include "kernels.h"
#include "kernels_quant.h"

using namespace xts;

// --------------------------------------------------------------------------------- variants

struct Variant {
  std::string name;
  KernelSet ks;
};

static std::vector<Variant> variants() {
  std::vector<Variant> v;
  auto add = [&](const char* name, void (*overlay)(KernelSet&)) {
    Variant x;
    x.name = name;
    register_quant_scalar(x.ks);
    if (overlay) overlay(x.ks);
    v.push_back(x);
  };
  add("scalar", nullptr);
#if defined(__x86_64__) || defined(_M_X64)
  const CpuFeatures& f = cpu_features();
  if (f.has_avx2_level()) add("avx2", register_quant_avx2);
  if (f.has_avx512_level()) add("avx512bw", register_quant_avx512_bw);
  if (f.has_avx512_level() && f.avx512vnni) add("avx512vnni", register_quant_avx512_vnni);
#elif defined(__aarch64__)
  add("neon", register_quant_neon_plain);
  if (cpu_features().neon_dotprod) add("neon-dot", register_quant_neon_dot);
#endif
  return v;
}

// ------------------------------------------------------- literal transcription of ggml's C code
// (ggml/src/ggml-quants.c, quantize_row_q8_0_ref / quantize_row_q4_0_ref; GGML_FP32_TO_FP16 is
// round-to-nearest-even, half.h's f32_to_f16). The (int8_t) casts of floats go through x86's
// conversion (INT32_MIN when out of range) to keep the harness free of undefined behaviour.
namespace ggml {
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
static int8_t to_i8(float v) { return static_cast<int8_t>(quant_detail::cvtt_i32(v)); }
static void quantize_row_q8_0_ref(const float* x, uint8_t* y, int64_t k) {
  const int qk = 32;
  const int nb = static_cast<int>(k / qk);
  for (int i = 0; i < nb; i++) {
    float amax = 0.0f;
    for (int j = 0; j < qk; j++) {
      const float v = x[i * qk + j];
      amax = MAX(amax, fabsf(v));
    }
    const float d = amax / ((1 << 7) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    const uint16_t h = f32_to_f16(d);
    std::memcpy(y + i * 34, &h, 2);
    for (int j = 0; j < qk; ++j) {
      const float x0 = x[i * qk + j] * id;
      y[i * 34 + 2 + j] = static_cast<uint8_t>(to_i8(roundf(x0)));
    }
  }
}
static void quantize_row_q4_0_ref(const float* x, uint8_t* y, int64_t k) {
  const int qk = 32;
  const int nb = static_cast<int>(k / qk);
  for (int i = 0; i < nb; i++) {
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < qk; j++) {
      const float v = x[i * qk + j];
      if (amax < fabsf(v)) {
        amax = fabsf(v);
        max = v;
      }
    }
    const float d = max / -8;
    const float id = d ? 1.0f / d : 0.0f;
    const uint16_t h = f32_to_f16(d);
    std::memcpy(y + i * 18, &h, 2);
    for (int j = 0; j < qk / 2; ++j) {
      volatile float x0 = x[i * qk + 0 + j] * id;  // volatile: no FMA contraction with + 8.5f
      volatile float x1 = x[i * qk + qk / 2 + j] * id;
      const uint8_t xi0 = static_cast<uint8_t>(MIN(15, to_i8(x0 + 8.5f)));
      const uint8_t xi1 = static_cast<uint8_t>(MIN(15, to_i8(x1 + 8.5f)));
      y[i * 18 + 2 + j] = xi0;
      y[i * 18 + 2 + j] |= static_cast<uint8_t>(xi1 << 4);
    }
  }
}
#undef MAX
#undef MIN
}  // namespace ggml

// ---------------------------------------------------------------------------------- helpers

static int g_failures = 0;
#define CHECK(cond, ...)                   \
  do {                                     \
    if (!(cond)) {                         \
      g_failures++;                        \
      std::printf("  FAIL: " __VA_ARGS__); \
      std::printf("\n");                   \
    }                                      \
  } while (0)

static float bits_f(uint32_t b) { return bits_to_f32(b); }

// Test inputs for the quantizers: groups of 32-value blocks covering the edge cases.
static std::vector<float> quant_inputs(std::mt19937_64& rng) {
  std::vector<float> v;
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(-1.0f, 1.0f);
  auto block = [&](const std::function<float(int)>& f) {
    for (int j = 0; j < 32; j++) v.push_back(f(j));
  };
  // random normal / uniform data at magnitudes 1e-30 … 1e30 (a varying scale per block)
  for (int i = 0; i < 40000; i++) {
    const float scale = std::pow(10.0f, std::uniform_real_distribution<float>(-30.0f, 30.0f)(rng));
    const bool normal = i & 1;
    block([&](int) { return (normal ? nd(rng) : ud(rng)) * scale; });
  }
  // weight-like data (σ = 0.02) and activation-like data with outliers
  for (int i = 0; i < 20000; i++) block([&](int) { return nd(rng) * 0.02f; });
  for (int i = 0; i < 5000; i++) block([&](int j) { return nd(rng) * (j == i % 32 ? 40.0f : 1.0f); });
  // all-zero blocks, ±0 mixes, a single non-zero value
  block([](int) { return 0.0f; });
  block([](int) { return -0.0f; });
  block([](int j) { return j & 1 ? -0.0f : 0.0f; });
  for (int p = 0; p < 32; p++) block([&](int j) { return j == p ? -3.0f : 0.0f; });
  for (int p = 0; p < 32; p++) block([&](int j) { return j == p ? 1e-3f : -0.0f; });
  // ties of the largest magnitude (q4_0 takes the first one's sign)
  for (int p = 0; p < 32; p++)
    for (int q = 0; q < 32; q++)
      if (p != q) block([&](int j) { return j == p ? 5.0f : j == q ? -5.0f : ud(rng) * 4.0f; });
  block([](int j) { return j & 1 ? 7.0f : -7.0f; });
  block([](int j) { return j & 1 ? -7.0f : 7.0f; });
  block([](int) { return 1.0f; });
  block([](int) { return -1.0f; });
  // exact .5 boundaries of x·id: amax = 127 gives d = 1, id = 1 for q8_0 (values k + 0.5, and the
  // neighbours just below/above); max = −8 gives d = 1 for q4_0 (x·id + 8.5 on integers)
  for (int base = -127; base < 127; base += 8) {
    block([&](int j) { return j == 0 ? 127.0f : static_cast<float>(base + (j % 8)) + 0.5f; });
    block([&](int j) { return j == 0 ? -127.0f : std::nextafter(static_cast<float>(base + (j % 8)) + 0.5f, 0.0f); });
    block([&](int j) { return j == 0 ? 127.0f : std::nextafter(static_cast<float>(base + (j % 8)) + 0.5f, 1000.0f); });
  }
  block([](int j) { return j == 0 ? 127.0f : (j & 1 ? 0.49999997f : -0.49999997f); });
  block([](int j) { return j == 0 ? 127.0f : (j & 1 ? 0.5f : -0.5f); });
  for (int s = 0; s < 4; s++) {
    const float m = -8.0f * static_cast<float>(1 << s);  // d = 2^s, exact id
    block([&](int j) { return j == 0 ? m : static_cast<float>((j % 17) - 8) * (m / -8.0f) + (j & 1 ? 0.5f : -0.5f) * (m / -8.0f); });
    block([&](int j) { return j == 0 ? m : std::nextafter((static_cast<float>(j % 16) - 8.0f + 0.5f) * (m / -8.0f), 0.0f); });
    block([&](int j) { return j == 0 ? m : (j & 1 ? 0.49999997f : -0.50000006f) * (m / -8.0f); });
  }
  // random blocks whose values sit near k + 0.5 after scaling (many ties and near-ties)
  for (int i = 0; i < 5000; i++) {
    const float amax = static_cast<float>(1 + (i % 127));
    block([&](int j) {
      if (j == 0) return (i & 1) ? amax : -amax;
      const float q = std::floor(ud(rng) * amax) + 0.5f;
      const int nudge = static_cast<int>(rng() % 3) - 1;
      return nudge == 0 ? q : std::nextafter(q, nudge * 1e9f);
    });
  }
  // huge magnitudes (d overflows f16 → inf; amax near FLT_MAX) and tiny ones (d subnormal in f16,
  // 0 in f16, subnormal f32 inputs; id overflowing to inf when amax < ~1e-36)
  for (float m : {1e38f, 3.4e38f, 6.6e4f, 8.3e6f, 1e5f, 1e-5f, 6e-8f, 1e-10f, 1e-20f, 1e-30f, 1e-35f, 1e-37f,
                  1.2e-38f, 1e-39f, 1e-41f, 1e-44f, bits_f(1)}) {
    block([&](int) { return ud(rng) * m; });
    block([&](int j) { return j == 5 ? -m : ud(rng) * m; });
    block([&](int j) { return j == 0 ? m : -m; });
  }
  return v;
}

static std::string hex_block(const uint8_t* p, int n) {
  std::string s;
  char b[4];
  for (int i = 0; i < n; i++) {
    std::snprintf(b, sizeof b, "%02x", p[i]);
    s += b;
  }
  return s;
}

// Compares two quantized buffers block by block; prints the first few differing blocks.
static int64_t compare_blocks(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, int bs, const float* src, int shown_max = 3) {
  int64_t bad = 0;
  int shown = 0;
  for (size_t i = 0; i < a.size() / bs; i++) {
    if (std::memcmp(&a[i * bs], &b[i * bs], bs) != 0) {
      if (shown++ < shown_max) {
        std::printf("    block %zu differs:\n      want %s\n      got  %s\n", i, hex_block(&a[i * bs], bs).c_str(), hex_block(&b[i * bs], bs).c_str());
        if (src) {
          std::printf("      input:");
          for (int j = 0; j < 32; j++) std::printf(" %.9g", src[i * 32 + j]);
          std::printf("\n");
        }
      }
      bad++;
    }
  }
  return bad;
}

// ----------------------------------------------------------------------------- quantize tests

static void test_quantize(const std::vector<Variant>& vs) {
  std::printf("== quantize (byte-exact)\n");
  std::mt19937_64 rng(1234);
  const std::vector<float> x = quant_inputs(rng);
  const int64_t n = static_cast<int64_t>(x.size());
  const int64_t nb = n / 32;
  std::vector<uint8_t> ref8(nb * 34), ref4(nb * 18);
  ggml::quantize_row_q8_0_ref(x.data(), ref8.data(), n);
  ggml::quantize_row_q4_0_ref(x.data(), ref4.data(), n);
  {
    // The data must be able to catch the usual porting mistakes; count the blocks each would break.
    int64_t half_even = 0, add_half = 0, fused = 0;
    for (int64_t b = 0; b < nb; b++) {
      const float* p = &x[b * 32];
      float amax = 0.0f, amx = 0.0f, mx = 0.0f;
      for (int j = 0; j < 32; j++) {
        amax = std::max(amax, std::fabs(p[j]));
        if (amx < std::fabs(p[j])) amx = std::fabs(p[j]), mx = p[j];
      }
      const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
      const float d4 = mx / -8.0f, id4 = d4 != 0.0f ? 1.0f / d4 : 0.0f;
      bool e = false, h = false, f = false;
      for (int j = 0; j < 32; j++) {
        volatile float v = p[j] * id, v4 = p[j] * id4;
        if (!std::isfinite(v) || !std::isfinite(v4)) continue;
        e = e || std::nearbyint(v) != std::round(v);
        h = h || std::trunc(v + std::copysign(0.5f, v)) != std::round(v);
        f = f || std::min(15, static_cast<int>(v4 + 8.5f)) != std::min(15, static_cast<int>(std::fma(p[j], id4, 8.5f)));
      }
      half_even += e, add_half += h, fused += f;
    }
    std::printf("  %" PRId64 " blocks; q8_0 blocks that round-half-even would break: %" PRId64 ", trunc(v ± 0.5): %" PRId64
                "; q4_0 blocks that a fused x·id + 8.5 would break: %" PRId64 "\n", nb, half_even, add_half, fused);
    CHECK(half_even > 0 && add_half > 0 && fused > 0, "the quantizer test data misses a known pitfall");
  }
  for (const auto& v : vs) {
    std::vector<uint8_t> q8(nb * 34, 0xcd), q4(nb * 18, 0xcd);
    v.ks.quantize_q8_0(x.data(), q8.data(), n);
    v.ks.quantize_q4_0(x.data(), q4.data(), n);
    const int64_t bad8 = compare_blocks(ref8, q8, 34, x.data());
    const int64_t bad4 = compare_blocks(ref4, q4, 18, x.data());
    std::printf("  %-11s q8_0: %" PRId64 "/%" PRId64 " blocks identical   q4_0: %" PRId64 "/%" PRId64 " blocks identical\n", v.name.c_str(),
                nb - bad8, nb, nb - bad4, nb);
    CHECK(bad8 == 0, "%s quantize_q8_0 differs from ggml's reference in %" PRId64 " blocks", v.name.c_str(), bad8);
    CHECK(bad4 == 0, "%s quantize_q4_0 differs from ggml's reference in %" PRId64 " blocks", v.name.c_str(), bad4);
    // odd block counts and unaligned source / destination pointers
    for (int64_t blocks : {1, 2, 3, 7}) {
      for (int off : {1, 3}) {
        std::vector<float> src(blocks * 32 + off);
        std::copy(x.begin() + 32 * 1000, x.begin() + 32 * (1000 + blocks), src.begin() + off);
        std::vector<uint8_t> d8(blocks * 34 + off + 8, 0x5a), d4(blocks * 18 + off + 8, 0x5a);
        v.ks.quantize_q8_0(src.data() + off, d8.data() + off, blocks * 32);
        v.ks.quantize_q4_0(src.data() + off, d4.data() + off, blocks * 32);
        CHECK(std::memcmp(d8.data() + off, ref8.data() + 1000 * 34, blocks * 34) == 0, "%s q8_0 unaligned (%d) %" PRId64 " blocks", v.name.c_str(), off, blocks);
        CHECK(std::memcmp(d4.data() + off, ref4.data() + 1000 * 18, blocks * 18) == 0, "%s q4_0 unaligned (%d) %" PRId64 " blocks", v.name.c_str(), off, blocks);
        CHECK(d8[blocks * 34 + off] == 0x5a && d4[blocks * 18 + off] == 0x5a && d8[off - 1] == 0x5a, "%s quantize wrote past its output", v.name.c_str());
      }
    }
  }
  // to_f32: bit-identical across variants (on the quantized test data and on random bytes)
  std::printf("== to_f32 (dequantize, bit-exact vs scalar)\n");
  std::vector<uint8_t> r8 = ref8, r4 = ref4;
  for (size_t i = 0; i < 4000 * 34; i++) r8[i] = static_cast<uint8_t>(rng());
  for (size_t i = 0; i < 4000 * 18; i++) r4[i] = static_cast<uint8_t>(rng());
  for (size_t i = 0; i < 4000; i++) {  // keep the random scales finite
    uint16_t h = static_cast<uint16_t>(rng() & 0x7bff);
    std::memcpy(&r8[i * 34], &h, 2);
    std::memcpy(&r4[i * 18], &h, 2);
  }
  std::vector<float> want8(n), want4(n);
  vs[0].ks.to_f32[W_Q8_0](r8.data(), want8.data(), n);
  vs[0].ks.to_f32[W_Q4_0](r4.data(), want4.data(), n);
  for (const auto& v : vs) {
    std::vector<float> got8(n + 1, 7.0f), got4(n + 1, 7.0f);
    v.ks.to_f32[W_Q8_0](r8.data(), got8.data(), n);
    v.ks.to_f32[W_Q4_0](r4.data(), got4.data(), n);
    const bool ok8 = std::memcmp(got8.data(), want8.data(), n * 4) == 0 && got8[n] == 7.0f;
    const bool ok4 = std::memcmp(got4.data(), want4.data(), n * 4) == 0 && got4[n] == 7.0f;
    std::printf("  %-11s q8_0 %s  q4_0 %s  (%" PRId64 " values)\n", v.name.c_str(), ok8 ? "identical" : "DIFFERS", ok4 ? "identical" : "DIFFERS", n);
    CHECK(ok8 && ok4, "%s to_f32 differs from scalar", v.name.c_str());
  }
  // and the scalar dequantization itself: d·q with d = f16 → f32
  bool ok = true;
  for (int64_t b = 0; b < 1000 && ok; b++) {
    const float d = f16_to_f32(static_cast<uint16_t>(r8[b * 34] | r8[b * 34 + 1] << 8));
    for (int j = 0; j < 32; j++) ok = ok && want8[b * 32 + j] == d * static_cast<float>(static_cast<int8_t>(r8[b * 34 + 2 + j]));
    const float d4 = f16_to_f32(static_cast<uint16_t>(r4[b * 18] | r4[b * 18 + 1] << 8));
    for (int j = 0; j < 16; j++) {
      ok = ok && want4[b * 32 + j] == d4 * static_cast<float>((r4[b * 18 + 2 + j] & 15) - 8);
      ok = ok && want4[b * 32 + 16 + j] == d4 * static_cast<float>((r4[b * 18 + 2 + j] >> 4) - 8);
    }
  }
  CHECK(ok, "scalar to_f32 is not d·q");
}

// --------------------------------------------------------------------------------- tile tests

// |got − exact| ≤ TILE_TOL · Σ_b |d_w·d_x| · Σ_j |q_w·q_x| (the products' magnitudes: SIMD variants
// convert per-lane partial sums of a block to f32, so cancellation inside a block is not exact).
// f32 summation of n terms errs by at most ~n·2⁻²⁴ of that; 1e-5 allows ~170 sequential adds of
// worst-case error, far above what random data shows (the worst seen is printed).
constexpr double TILE_TOL = 1e-5;

struct TileCase {
  WeightType wt;
  int64_t k, nr, nt;
};

// exact reference of one (row, token) pair and the sum of the terms' magnitudes
static void tile_ref(WeightType wt, int64_t k, const uint8_t* w, const uint8_t* x, double* exact, double* mag) {
  const int wb = wt == W_Q8_0 ? 34 : 18;
  double s = 0, m = 0;
  for (int64_t b = 0; b < k / 32; b++) {
    const uint8_t* pw = w + b * wb;
    const uint8_t* px = x + b * 34;
    int32_t isum = 0, iabs = 0;
    for (int j = 0; j < 32; j++) {
      const int qw = wt == W_Q8_0 ? static_cast<int8_t>(pw[2 + j]) : (j < 16 ? (pw[2 + j] & 15) : (pw[2 + j - 16] >> 4)) - 8;
      isum += qw * static_cast<int8_t>(px[2 + j]);
      iabs += std::abs(qw * static_cast<int8_t>(px[2 + j]));
    }
    const double scale = static_cast<double>(f16_to_f32(static_cast<uint16_t>(pw[0] | pw[1] << 8))) *
                         static_cast<double>(f16_to_f32(static_cast<uint16_t>(px[0] | px[1] << 8)));
    s += scale * isum;
    m += std::fabs(scale) * iabs;
  }
  *exact = s;
  *mag = m;
}

// A copy of `data` whose last byte is the last byte before an inaccessible page (Linux / macOS), so
// that a kernel reading past the end of its weights or activations crashes the test.
class Guarded {
 public:
  explicit Guarded(const std::vector<uint8_t>& data, int64_t used) {
#if defined(__unix__) || defined(__APPLE__)
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    len_ = (static_cast<size_t>(used) + page - 1) / page * page + page;
    base_ = static_cast<uint8_t*>(mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (base_ == MAP_FAILED) std::abort();
    mprotect(base_ + len_ - page, page, PROT_NONE);
    p_ = base_ + len_ - page - used;
#else
    own_.resize(static_cast<size_t>(used));
    p_ = own_.data();
#endif
    std::memcpy(p_, data.data(), static_cast<size_t>(used));
  }
  ~Guarded() {
#if defined(__unix__) || defined(__APPLE__)
    munmap(base_, len_);
#endif
  }
  const uint8_t* data() const { return p_; }

 private:
  uint8_t* base_ = nullptr;
  uint8_t* p_ = nullptr;
  size_t len_ = 0;
  std::vector<uint8_t> own_;
};

static void test_tiles(const std::vector<Variant>& vs) {
  std::printf("== tile (vs exact reference; tolerance %.0e × Σ|d_w·d_x·q_w·q_x|)\n", TILE_TOL);
  std::mt19937_64 rng(99);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<TileCase> cases;
  for (WeightType wt : {W_Q8_0, W_Q4_0})
    for (int64_t k : {32, 64, 96, 4096, 5120, 13824})
      for (int64_t nr : {1, 3, 5, 17})
        for (int64_t nt : {1, 3, 5, 17}) {
          if (k >= 4096 && nr * nt > 85 && !(nr == 17 && nt == 17)) continue;
          cases.push_back({wt, k, nr, nt});
        }
  for (WeightType wt : {W_Q8_0, W_Q4_0}) {  // the decode path's 8- and 4-row blocks, token chunks
    cases.push_back({wt, 160, 8, 1});
    cases.push_back({wt, 160, 12, 1});
    cases.push_back({wt, 160, 29, 1});
    cases.push_back({wt, 96, 4, 4});
    cases.push_back({wt, 64, 9, 130});
    cases.push_back({wt, 4096, 16, 70});
  }
  std::map<std::string, double> worst;
  int64_t pairs = 0;
  for (const TileCase& c : cases) {
    const int wb = c.wt == W_Q8_0 ? 34 : 18;
    const int64_t rb = row_bytes(c.wt, c.k), xb = row_bytes(W_Q8_0, c.k);
    const int64_t w_stride = rb + 2 * wb + 5, x_stride = xb + 13, out_stride = c.nr + 3;
    std::vector<uint8_t> w(c.nr * w_stride), x(c.nt * x_stride);
    // weights: random quants (all 256 byte values, -128 included) with realistic random scales;
    // or quantized Gaussian data (half of the cases)
    const bool raw = rng() & 1;
    std::vector<float> f(c.k);
    for (int64_t r = 0; r < c.nr; r++) {
      uint8_t* p = w.data() + r * w_stride;
      if (raw) {
        for (int64_t i = 0; i < rb; i++) p[i] = static_cast<uint8_t>(rng());
        for (int64_t b = 0; b < c.k / 32; b++) {
          const uint16_t h = f32_to_f16(std::ldexp(0.5f + (rng() % 1000) / 1000.0f, -static_cast<int>(rng() % 12)) * ((rng() & 1) ? 1 : -1));
          std::memcpy(p + b * wb, &h, 2);
        }
      } else {
        for (auto& v : f) v = nd(rng) * 0.05f;
        (c.wt == W_Q8_0 ? vs[0].ks.quantize_q8_0 : vs[0].ks.quantize_q4_0)(f.data(), p, c.k);
      }
    }
    for (int64_t t = 0; t < c.nt; t++) {  // activations: quantized data with outliers
      for (int64_t i = 0; i < c.k; i++) f[i] = nd(rng) * ((rng() % 97) == 0 ? 30.0f : 1.0f);
      vs[0].ks.quantize_q8_0(f.data(), x.data() + t * x_stride, c.k);
    }
    std::vector<double> exact(c.nr * c.nt), mag(c.nr * c.nt);
    for (int64_t t = 0; t < c.nt; t++)
      for (int64_t r = 0; r < c.nr; r++)
        tile_ref(c.wt, c.k, w.data() + r * w_stride, x.data() + t * x_stride, &exact[t * c.nr + r], &mag[t * c.nr + r]);
    pairs += c.nr * c.nt;
    for (const auto& v : vs) {
      const float canary = -12345.0f;
      std::vector<float> out(c.nt * out_stride + 4, canary);
      // the last row / token ends right before an unmapped page
      const Guarded gw(w, (c.nr - 1) * w_stride + rb), gx(x, (c.nt - 1) * x_stride + xb);
      v.ks.tile[c.wt](c.k, gw.data(), w_stride, gx.data(), x_stride, out.data(), out_stride, c.nr, c.nt);
      double& wr = worst[v.name + (c.wt == W_Q8_0 ? " q8_0" : " q4_0")];
      bool canary_ok = true;
      for (int64_t t = 0; t < c.nt; t++) {
        for (int64_t r = 0; r < c.nr; r++) {
          const double got = out[t * out_stride + r];
          const double e = exact[t * c.nr + r], m = mag[t * c.nr + r];
          const double rel = std::fabs(got - e) / (m + 1e-30);
          wr = std::max(wr, rel);
          if (!(rel <= TILE_TOL)) {
            CHECK(false, "%s %s k=%" PRId64 " nr=%" PRId64 " nt=%" PRId64 " r=%" PRId64 " t=%" PRId64 ": got %.9g, exact %.9g (Σ|products| %.3g)", v.name.c_str(),
                  c.wt == W_Q8_0 ? "q8_0" : "q4_0", c.k, c.nr, c.nt, r, t, got, e, m);
            if (g_failures > 40) std::exit(1);
          }
        }
        for (int64_t r = c.nr; r < out_stride; r++) canary_ok = canary_ok && out[t * out_stride + r] == canary;
      }
      for (size_t i = c.nt * out_stride; i < out.size(); i++) canary_ok = canary_ok && out[i] == canary;
      CHECK(canary_ok, "%s wrote outside its tile (k=%" PRId64 " nr=%" PRId64 " nt=%" PRId64 ")", v.name.c_str(), c.k, c.nr, c.nt);
    }
  }
  std::printf("  %zu tile shapes, %" PRId64 " (row, token) pairs per variant; worst |got − exact| / Σ|products|:\n", cases.size(), pairs);
  for (const auto& [name, e] : worst) std::printf("    %-16s %.2e\n", name.c_str(), e);
}

// ------------------------------------------------------------------------------------ GGUF

struct GgufTensor {
  std::string name;
  std::vector<uint64_t> ne;
  uint32_t type = 0;
  uint64_t offset = 0;
};

struct Gguf {
  std::vector<uint8_t> data;
  std::vector<GgufTensor> tensors;
  uint64_t data_start = 0;
  const GgufTensor* find(const std::string& n) const {
    for (const auto& t : tensors)
      if (t.name == n) return &t;
    return nullptr;
  }
};

static bool read_gguf(const std::string& path, Gguf& g) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  g.data.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  size_t pos = 0;
  auto rd = [&](void* dst, size_t n) {
    if (pos + n > g.data.size()) throw std::runtime_error("truncated GGUF");
    std::memcpy(dst, &g.data[pos], n);
    pos += n;
  };
  auto u32 = [&] { uint32_t v; rd(&v, 4); return v; };
  auto u64 = [&] { uint64_t v; rd(&v, 8); return v; };
  auto str = [&] { const uint64_t n = u64(); std::string s(n, '\0'); rd(&s[0], n); return s; };
  const size_t type_size[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  uint64_t alignment = 32;
  std::function<void(uint32_t, const std::string&)> skip = [&](uint32_t type, const std::string& key) {
    if (type == 8) {
      str();
    } else if (type == 9) {
      const uint32_t et = u32();
      const uint64_t n = u64();
      for (uint64_t i = 0; i < n; i++) skip(et, "");
    } else if (type <= 12) {
      if (key == "general.alignment" && type == 4) {
        alignment = u32();
      } else {
        pos += type_size[type];
      }
    } else {
      throw std::runtime_error("bad GGUF value type");
    }
  };
  if (u32() != 0x46554747u) return false;  // "GGUF"
  const uint32_t version = u32();
  if (version < 2) return false;
  const uint64_t nt = u64(), nkv = u64();
  for (uint64_t i = 0; i < nkv; i++) {
    const std::string key = str();
    skip(u32(), key);
  }
  for (uint64_t i = 0; i < nt; i++) {
    GgufTensor t;
    t.name = str();
    const uint32_t nd = u32();
    for (uint32_t d = 0; d < nd; d++) t.ne.push_back(u64());
    t.type = u32();
    t.offset = u64();
    g.tensors.push_back(t);
  }
  g.data_start = (pos + alignment - 1) / alignment * alignment;
  return true;
}

static void test_gguf(const std::vector<Variant>& vs, const std::string& dir) {
  std::printf("== GGUF: our quantization of xverse-tiny-f32.gguf vs llama-quantize's files\n");
  Gguf f32, q8, q4;
  if (!read_gguf(dir + "/xverse-tiny-f32.gguf", f32) || !read_gguf(dir + "/xverse-tiny-q8_0.gguf", q8) || !read_gguf(dir + "/xverse-tiny-q4_0.gguf", q4)) {
    std::printf("  GGUF fixtures not found in %s: skipped\n", dir.c_str());
    return;
  }
  constexpr uint32_t GGML_F32 = 0, GGML_Q4_0 = 2, GGML_Q8_0 = 8;
  for (const auto& v : vs) {
    int tensors = 0, matched = 0;
    int64_t blocks = 0, blocks_ok = 0;
    std::string detail;
    for (const Gguf* qf : {&q8, &q4}) {
      for (const GgufTensor& qt : qf->tensors) {
        if (qt.type != GGML_Q8_0 && qt.type != GGML_Q4_0) continue;
        const GgufTensor* ft = f32.find(qt.name);
        CHECK(ft && ft->type == GGML_F32 && ft->ne == qt.ne, "%s: no matching f32 tensor", qt.name.c_str());
        if (!ft) continue;
        int64_t n = 1;
        for (uint64_t d : qt.ne) n *= static_cast<int64_t>(d);
        const int bs = qt.type == GGML_Q8_0 ? 34 : 18;
        const float* src = reinterpret_cast<const float*>(&f32.data[f32.data_start + ft->offset]);
        std::vector<float> aligned(src, src + n);
        std::vector<uint8_t> mine(n / 32 * bs);
        const int64_t row = static_cast<int64_t>(qt.ne[0]);
        for (int64_t r = 0; r < n / row; r++)  // row by row, as a loader would
          (qt.type == GGML_Q8_0 ? v.ks.quantize_q8_0 : v.ks.quantize_q4_0)(aligned.data() + r * row, mine.data() + r * (row / 32 * bs), row);
        const std::vector<uint8_t> theirs(&qf->data[qf->data_start + qt.offset], &qf->data[qf->data_start + qt.offset] + mine.size());
        const int64_t bad = compare_blocks(theirs, mine, bs, aligned.data());
        tensors++;
        matched += bad == 0;
        blocks += n / 32;
        blocks_ok += n / 32 - bad;
        CHECK(bad == 0, "%s: %s (%s) differs from llama.cpp in %" PRId64 " blocks", v.name.c_str(), qt.name.c_str(), bs == 34 ? "q8_0" : "q4_0", bad);
      }
    }
    std::printf("  %-11s %d/%d tensors byte-identical (%" PRId64 "/%" PRId64 " blocks)\n", v.name.c_str(), matched, tensors, blocks_ok, blocks);
  }
  std::printf("  (Q8_0 tensors: %d in the q8_0 file, %d in the q4_0 file; Q4_0 tensors: %d in the q4_0 file)\n",
              static_cast<int>(std::count_if(q8.tensors.begin(), q8.tensors.end(), [](const GgufTensor& t) { return t.type == GGML_Q8_0; })),
              static_cast<int>(std::count_if(q4.tensors.begin(), q4.tensors.end(), [](const GgufTensor& t) { return t.type == GGML_Q8_0; })),
              static_cast<int>(std::count_if(q4.tensors.begin(), q4.tensors.end(), [](const GgufTensor& t) { return t.type == GGML_Q4_0; })));
}

// ------------------------------------------------------------------------------- benchmarks

using Clock = std::chrono::steady_clock;

// Runs fn(thread) on `threads` threads (the caller is thread 0) `reps` times; returns seconds per rep.
class Team {
 public:
  explicit Team(int n) : n_(n) {
    for (int i = 1; i < n; i++) workers_.emplace_back([this, i] { pin(i); loop(i); });
    pin(0);
  }
  // One thread per CPU (Linux), so that the two spinning threads never share one.
  static void pin(int cpu) {
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % static_cast<int>(std::thread::hardware_concurrency()), &set);
    sched_setaffinity(0, sizeof set, &set);
#else
    (void)cpu;
#endif
  }
  ~Team() {
    stop_ = true;
    gen_.fetch_add(1);
    for (auto& t : workers_) t.join();
  }
  void run(const std::function<void(int)>& fn) {
    fn_ = &fn;
    done_.store(0);
    gen_.fetch_add(1, std::memory_order_release);
    fn(0);
    for (int spins = 0; done_.load(std::memory_order_acquire) != n_ - 1; spins++)
      if (spins > 1000) std::this_thread::yield();
  }

 private:
  void loop(int i) {
    uint64_t seen = 0;
    for (;;) {
      uint64_t g;
      for (int spins = 0; (g = gen_.load(std::memory_order_acquire)) == seen; spins++)
        if (spins > 1000) std::this_thread::yield();
      seen = g;
      if (stop_) return;
      (*fn_)(i);
      done_.fetch_add(1, std::memory_order_release);
    }
  }
  int n_;
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> gen_{0};
  std::atomic<int> done_{0};
  const std::function<void(int)>* fn_ = nullptr;
  bool stop_ = false;
};

template <class F>
static double time_it(F&& f, double min_seconds = 0.4, int min_reps = 3) {
  f();  // warm-up
  int reps = 0;
  const auto t0 = Clock::now();
  double el = 0;
  double best = 1e30;
  while (reps < min_reps || el < min_seconds) {
    const auto a = Clock::now();
    f();
    const double s = std::chrono::duration<double>(Clock::now() - a).count();
    best = std::min(best, s);
    reps++;
    el = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  return best;
}

static std::vector<uint8_t> random_weights(WeightType wt, int64_t rows, int64_t k, std::mt19937_64& rng) {
  const int wb = wt == W_Q8_0 ? 34 : 18;
  std::vector<uint8_t> w(rows * row_bytes(wt, k));
  for (auto& b : w) b = static_cast<uint8_t>(rng());
  for (size_t i = 0; i < w.size() / wb; i++) {
    const uint16_t h = f32_to_f16(1e-3f * (1 + (rng() % 100)));
    std::memcpy(&w[i * wb], &h, 2);
  }
  return w;
}

static std::vector<uint8_t> random_acts(const KernelSet& ks, int64_t n, int64_t k, std::mt19937_64& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> f(k);
  std::vector<uint8_t> x(n * row_bytes(W_Q8_0, k));
  for (int64_t t = 0; t < n; t++) {
    for (auto& v : f) v = nd(rng);
    ks.quantize_q8_0(f.data(), x.data() + t * row_bytes(W_Q8_0, k), k);
  }
  return x;
}

static uint64_t read_bytes(const uint8_t* p, int64_t n) {  // plain 64-bit reads, for the bandwidth probe
  const auto* q = reinterpret_cast<const uint64_t*>(p);
  uint64_t a = 0, b = 0, c = 0, d = 0;
  for (int64_t i = 0; i + 4 <= n / 8; i += 4) {
    a ^= q[i];
    b ^= q[i + 1];
    c ^= q[i + 2];
    d ^= q[i + 3];
  }
  return a ^ b ^ c ^ d;
}

static std::string g_bench_what = "all";
static bool g_bench_scalar = true;  // --what memory|decode|prefill|quantize|all

// Reads `rows` rows of rb bytes with S rows interleaved (S concurrent streams), 64 bytes per row
// per step: how DRAM bandwidth depends on the access pattern of a matrix-vector product.
template <int S>
static uint64_t read_streams(const uint8_t* p, int64_t rows, int64_t rb) {
  uint64_t a = 0;
  for (int64_t r = 0; r + S <= rows; r += S)
    for (int64_t o = 0; o + 64 <= rb; o += 64)
      for (int s = 0; s < S; s++) {
        const auto* q = reinterpret_cast<const uint64_t*>(p + (r + s) * rb + o);
        a ^= q[0] ^ q[1] ^ q[2] ^ q[3] ^ q[4] ^ q[5] ^ q[6] ^ q[7];
      }
  return a;
}

static void bench(const std::vector<Variant>& vs) {
  auto want = [](const char* part) { return g_bench_what == "all" || g_bench_what.find(part) != std::string::npos; };
  std::mt19937_64 rng(7);
  std::printf("\n== benchmarks (%s, %d hardware threads)\n", cpu_features().brand.c_str(), static_cast<int>(std::thread::hardware_concurrency()));
  Team team1(1), team2(2);

  // memory read bandwidth (the ceiling for decode): one 256 MiB buffer, plain loads
  if (want("memory")) {
    const int64_t n = int64_t(256) << 20;
    std::vector<uint8_t> buf(n, 1);
    volatile uint64_t sink = 0;
    for (int th : {1, 2}) {
      Team& tm = th == 1 ? team1 : team2;
      const double s = time_it([&] { tm.run([&](int i) { sink = sink + read_bytes(buf.data() + i * (n / th), n / th); }); });
      std::printf("  memory read, %d thread%s: %.1f GB/s (256 MiB buffer)\n", th, th > 1 ? "s" : "", n / s / 1e9);
    }
    // one thread reading 5440-byte rows (a 5120-column Q8_0 matrix) as 1, 2, 4 or 8 interleaved streams
    const int64_t rb = 5440, rows = n / rb;
    double g[4];
    int i = 0;
    g[i++] = n / time_it([&] { sink = sink + read_streams<1>(buf.data(), rows, rb); }) / 1e9;
    g[i++] = n / time_it([&] { sink = sink + read_streams<2>(buf.data(), rows, rb); }) / 1e9;
    g[i++] = n / time_it([&] { sink = sink + read_streams<4>(buf.data(), rows, rb); }) / 1e9;
    g[i++] = n / time_it([&] { sink = sink + read_streams<8>(buf.data(), rows, rb); }) / 1e9;
    std::printf("  1 thread, rows read as 1 / 2 / 4 / 8 interleaved streams: %.1f / %.1f / %.1f / %.1f GB/s\n", g[0], g[1], g[2], g[3]);
  }

  struct Shape {
    int64_t rows, k;
  };
  const Shape shapes[] = {{4096, 4096}, {13824, 5120}, {5120, 13824}};
  if (want("decode"))
    std::printf("\n  decode (nt = 1) matrix-vector, GB/s of weights read. hot: the same matrix again (L3 holds up to\n"
                "  32 MiB); cold: cycling through copies totalling >= 512 MiB, each rep followed by a plain read of\n"
                "  another copy (same thread count), medians of %d reps; ratio = kernel / plain read (DRAM bandwidth\n"
                "  on this VM varies by run, so only same-moment ratios are comparable)\n", 24);
  if (want("decode"))
    std::printf("  %-11s %-5s %-12s %7s | %7s %7s %6s | %7s %7s %6s\n", "variant", "type", "rows×k", "1T hot", "1T cold", "read", "ratio", "2T cold", "read",
                "ratio");
  for (WeightType wt : {W_Q8_0, W_Q4_0}) {
    if (!want("decode")) break;
    for (const Shape& sh : shapes) {
      const int64_t rb = row_bytes(wt, sh.k), wbytes = sh.rows * rb;
      const int copies = static_cast<int>(std::max<int64_t>(4, (int64_t(512) << 20) / wbytes + 1));
      std::vector<std::vector<uint8_t>> ws;
      for (int c = 0; c < copies; c++) ws.push_back(random_weights(wt, sh.rows, sh.k, rng));
      const std::vector<uint8_t> x = random_acts(vs[0].ks, 1, sh.k, rng);
      std::vector<float> out(sh.rows);
      volatile uint64_t sink = 0;
      for (const auto& v : vs) {
        if (v.name == "scalar" && (sh.rows != 4096 || !g_bench_scalar)) continue;
        auto kernel = [&](Team& tm, int th, const uint8_t* w) {
          const int64_t part = (sh.rows / th + 15) / 16 * 16;
          tm.run([&](int i) {
            const int64_t r0 = i * part, nr = std::min(part, sh.rows - r0);
            if (nr > 0) v.ks.tile[wt](sh.k, w + r0 * rb, rb, x.data(), row_bytes(W_Q8_0, sh.k), out.data() + r0, sh.rows, nr, 1);
          });
        };
        auto plain = [&](Team& tm, int th, const uint8_t* w) {
          tm.run([&](int i) { sink = sink + read_bytes(w + i * (wbytes / th) / 64 * 64, wbytes / th / 64 * 64); });
        };
        auto seconds = [](auto&& f) {
          const auto a = Clock::now();
          f();
          return std::chrono::duration<double>(Clock::now() - a).count();
        };
        const double hot = wbytes / time_it([&] { kernel(team1, 1, ws[0].data()); }, 0.2, 5) / 1e9;
        double cold[2], read[2];
        for (int th : {1, 2}) {
          Team& tm = th == 1 ? team1 : team2;
          std::vector<double> tk, tr;
          for (int it = 0; it < 24; it++) {
            tk.push_back(seconds([&] { kernel(tm, th, ws[it % copies].data()); }));
            tr.push_back(seconds([&] { plain(tm, th, ws[(it + copies / 2) % copies].data()); }));
          }
          std::sort(tk.begin(), tk.end());
          std::sort(tr.begin(), tr.end());
          cold[th - 1] = wbytes / tk[tk.size() / 2] / 1e9;
          read[th - 1] = wbytes / tr[tr.size() / 2] / 1e9;
        }
        char shape[32];
        std::snprintf(shape, sizeof shape, "%" PRId64 "×%" PRId64, sh.rows, sh.k);
        std::printf("  %-11s %-5s %-12s %7.1f | %7.1f %7.1f %5.0f%% | %7.1f %7.1f %5.0f%%\n", v.name.c_str(), wt == W_Q8_0 ? "q8_0" : "q4_0", shape, hot, cold[0], read[0],
                    100 * cold[0] / read[0], cold[1], read[1], 100 * cold[1] / read[1]);
      }
    }
  }

  if (want("prefill")) std::printf("\n  prefill (nt tokens) matrix-matrix, GOP/s = 2·rows·k·nt / time (int8 multiply-adds)\n");
  if (want("prefill")) std::printf("  %-11s %-5s %-12s %6s %10s %10s\n", "variant", "type", "rows×k", "nt", "1 thread", "2 threads");
  for (WeightType wt : {W_Q8_0, W_Q4_0}) {
    if (!want("prefill")) break;
    for (const Shape& sh : {Shape{4096, 4096}, Shape{13824, 5120}}) {
      const std::vector<uint8_t> w = random_weights(wt, sh.rows, sh.k, rng);
      for (int64_t nt : {64, 512}) {
        const std::vector<uint8_t> x = random_acts(vs[0].ks, nt, sh.k, rng);
        std::vector<float> out(nt * sh.rows);
        for (const auto& v : vs) {
          if (v.name == "scalar" && (sh.rows != 4096 || nt != 64 || !g_bench_scalar)) continue;
          double g[2];
          for (int th : {1, 2}) {
            Team& tm = th == 1 ? team1 : team2;
            const int64_t part = (sh.rows / th + 15) / 16 * 16;
            const double s = time_it([&] {
              tm.run([&](int i) {
                const int64_t r0 = i * part, nr = std::min(part, sh.rows - r0);
                v.ks.tile[wt](sh.k, w.data() + r0 * row_bytes(wt, sh.k), row_bytes(wt, sh.k), x.data(), row_bytes(W_Q8_0, sh.k), out.data() + r0, sh.rows, nr, nt);
              });
            }, 0.5, 2);
            g[th - 1] = 2.0 * sh.rows * sh.k * nt / s / 1e9;
          }
          char shape[32];
          std::snprintf(shape, sizeof shape, "%" PRId64 "×%" PRId64, sh.rows, sh.k);
          std::printf("  %-11s %-5s %-12s %6" PRId64 " %10.1f %10.1f\n", v.name.c_str(), wt == W_Q8_0 ? "q8_0" : "q4_0", shape, nt, g[0], g[1]);
        }
      }
    }
  }

  if (want("quantize")) {
    std::printf("\n  quantize, 1 thread, 16 Mi f32 values (64 MiB in): GB/s of f32 input\n");
    const int64_t n = int64_t(16) << 20;
    std::vector<float> f(n);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (auto& v : f) v = nd(rng);
    std::vector<uint8_t> q(n / 32 * 34);
    for (const auto& v : vs) {
      if (v.name == "scalar" && !g_bench_scalar) continue;
      const double s8 = time_it([&] { v.ks.quantize_q8_0(f.data(), q.data(), n); }, 0.3, 2);
      const double s4 = time_it([&] { v.ks.quantize_q4_0(f.data(), q.data(), n); }, 0.3, 2);
      const double d8 = time_it([&] { v.ks.to_f32[W_Q8_0](q.data(), f.data(), n); }, 0.3, 2);
      std::printf("  %-11s q8_0 %6.2f GB/s   q4_0 %6.2f GB/s   (dequantize q8_0: %.2f GB/s of f32 out)\n", v.name.c_str(), n * 4 / s8 / 1e9, n * 4 / s4 / 1e9,
                  n * 4 / d8 / 1e9);
    }
  }
}

int main(int argc, char** argv) {
  bool do_bench = false, only_bench = false;
  std::string only_variants;  // --variants a,b: restrict to these
  std::string gguf_dir;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    if (a == "--bench") do_bench = true;
    else if (a == "--bench-only") do_bench = only_bench = true;
    else if (a == "--gguf" && i + 1 < argc) gguf_dir = argv[++i];
    else if (a == "--what" && i + 1 < argc) g_bench_what = argv[++i];
    else if (a == "--variants" && i + 1 < argc) only_variants = std::string(",") + argv[++i] + ",";
    else {
      std::fprintf(stderr, "usage: %s [--bench | --bench-only] [--what memory,decode,prefill,quantize] [--variants scalar,avx2,...] [--gguf DIR]\n", argv[0]);
      return 2;
    }
  }
  if (gguf_dir.empty()) {
    // native/test/build/quant_test → <repo>/../shared/fixtures/... (the workspace layout), or $XVERSE_GGUF_DIR
    const char* env = std::getenv("XVERSE_GGUF_DIR");
    gguf_dir = env ? env : "../../../shared/fixtures/xverse-tiny/gguf";
  }
  std::vector<Variant> vs = variants();
  if (!only_variants.empty()) {
    std::vector<Variant> keep{vs[0]};  // the scalar variant stays: it is the reference
    for (size_t i = 1; i < vs.size(); i++)
      if (only_variants.find("," + vs[i].name + ",") != std::string::npos) keep.push_back(vs[i]);
    vs = keep;
    g_bench_scalar = only_variants.find(",scalar,") != std::string::npos;
  }
  std::printf("variants on this CPU:");
  for (const auto& v : vs) std::printf(" %s", v.name.c_str());
  std::printf("\n");
  if (!only_bench) {
    test_quantize(vs);
    test_tiles(vs);
    test_gguf(vs, gguf_dir);
    std::printf("%s (%d failure%s)\n", g_failures ? "FAILED" : "all tests passed", g_failures, g_failures == 1 ? "" : "s");
  }
  if (do_bench) bench(vs);
  return g_failures ? 1 : 0;
}
