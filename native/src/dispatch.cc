// Kernel dispatch (see dispatch.h). Each level overlays its kernels on the set built by the levels
// below it, so whatever a SIMD variant does not implement falls back to the scalar kernel.
#include "dispatch.h"

#include <cstdlib>
#include <stdexcept>

#include "cpu.h"

namespace xts {
namespace {

std::vector<std::string> supported_levels() {
  std::vector<std::string> levels{"scalar"};
#if defined(__x86_64__) || defined(_M_X64)
  const CpuFeatures& f = cpu_features();
  if (f.has_avx2_level()) levels.emplace_back("avx2");
  if (f.has_avx512_level()) levels.emplace_back("avx512");
#elif defined(__aarch64__)
  levels.emplace_back("neon");
#endif
  return levels;
}

void build(Dispatch& d, const std::string& level) {
  d.ks = KernelSet{};
  d.ops = FloatOps{};
  d.level = level;
  register_float_scalar(d.ks);
  register_quant_scalar(d.ks);
  register_ops_scalar(d.ops);
  // The isa name is set before each overlay so that a quant variant may refine it (e.g. to say
  // that it uses VNNI).
#if defined(__x86_64__) || defined(_M_X64)
  if (level == "avx2" || level == "avx512") {
    d.ks.isa = "avx2";
    register_float_avx2(d.ks);
    register_quant_avx2(d.ks);
    register_ops_avx2(d.ops);
  }
  if (level == "avx512") {
    d.ks.isa = "avx512";
    register_float_avx512(d.ks);
    register_quant_avx512(d.ks);
    register_ops_avx512(d.ops);
  }
#elif defined(__aarch64__)
  if (level == "neon") {
    d.ks.isa = "neon";
    register_float_neon(d.ks);
    register_quant_neon(d.ks);
    register_ops_neon(d.ops);
  }
#endif
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

Dispatch& state() {
  static Dispatch d = [] {
    Dispatch init;
    init.levels = supported_levels();
    std::string level = init.levels.back();
    if (const char* env = std::getenv("XVERSE_ISA"); env && *env) {
      const std::string want = env;
      bool found = false;
      for (const auto& l : init.levels) found = found || l == want;
      if (found) {
        level = want;
        if (want != init.levels.back()) init.note = "forced by XVERSE_ISA=" + want;
      } else {
        init.note = "XVERSE_ISA=" + want + " ignored (this CPU runs: " + join(init.levels) + ")";
      }
    }
    build(init, level);
    return init;
  }();
  return d;
}

}  // namespace

const Dispatch& dispatch() { return state(); }

void select_isa(const std::string& level) {
  Dispatch& d = state();
  const std::string want = level.empty() || level == "best" ? d.levels.back() : level;
  for (const auto& l : d.levels) {
    if (l == want) {
      build(d, want);
      d.note = want == d.levels.back() ? "" : "selected " + want;
      return;
    }
  }
  throw std::invalid_argument("instruction set \"" + level + "\" is not available on this CPU (available: " + join(d.levels) + ")");
}

}  // namespace xts
