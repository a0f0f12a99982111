// CPU feature detection and physical core count (see cpu.h).
#include "cpu.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <set>
#include <thread>
#include <utility>

#if defined(__x86_64__) || defined(_M_X64)
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif
#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace xts {
namespace {

#if defined(__x86_64__) || defined(_M_X64)
void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
#if defined(_MSC_VER)
  int v[4];
  __cpuidex(v, static_cast<int>(leaf), static_cast<int>(sub));
  for (int i = 0; i < 4; i++) r[i] = static_cast<uint32_t>(v[i]);
#else
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}

// Which register states the OS saves on context switches (XCR0): AVX needs XMM+YMM, AVX-512 also
// the opmask and upper-ZMM states. A CPU can have the instructions while the OS disables them.
uint64_t xcr0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
#endif
}

void detect(CpuFeatures& f) {
  uint32_t r[4];
  cpuid(0, 0, r);
  const uint32_t max_leaf = r[0];
  cpuid(1, 0, r);
  const bool osxsave = (r[2] >> 27) & 1;
  const uint64_t xcr = osxsave ? xcr0() : 0;
  const bool os_avx = (xcr & 0x6) == 0x6;
  const bool os_avx512 = os_avx && (xcr & 0xe0) == 0xe0;
  f.fma = os_avx && ((r[2] >> 12) & 1);
  f.f16c = os_avx && ((r[2] >> 29) & 1);
  if (max_leaf >= 7) {
    cpuid(7, 0, r);
    f.avx2 = os_avx && ((r[1] >> 5) & 1);
    f.avx512f = os_avx512 && ((r[1] >> 16) & 1);
    f.avx512bw = os_avx512 && ((r[1] >> 30) & 1);
    f.avx512vl = os_avx512 && ((r[1] >> 31) & 1);
    f.avx512vnni = os_avx512 && ((r[2] >> 11) & 1);
    cpuid(7, 1, r);
    f.avx512bf16 = os_avx512 && ((r[0] >> 5) & 1);
    f.avxvnni = os_avx && ((r[0] >> 4) & 1);
  }
  cpuid(0x80000000u, 0, r);
  if (r[0] >= 0x80000004u) {
    char brand[49] = {};
    for (uint32_t i = 0; i < 3; i++) {
      cpuid(0x80000002u + i, 0, r);
      std::memcpy(brand + 16 * i, r, 16);
    }
    f.brand = brand;
    const auto first = f.brand.find_first_not_of(' ');
    const auto last = f.brand.find_last_not_of(' ');
    f.brand = first == std::string::npos ? "" : f.brand.substr(first, last - first + 1);
  }
}
#elif defined(__aarch64__)
void detect(CpuFeatures& f) {
  f.neon = true;  // Advanced SIMD is mandatory in AArch64
#if defined(__linux__)
  const unsigned long hw = getauxval(AT_HWCAP);
#if defined(HWCAP_ASIMDDP)
  f.neon_dotprod = (hw & HWCAP_ASIMDDP) != 0;
#endif
#if defined(HWCAP_ASIMDHP)
  f.neon_fp16 = (hw & HWCAP_ASIMDHP) != 0;
#endif
#elif defined(__APPLE__)
  f.neon_dotprod = true;  // every Apple silicon core has them
  f.neon_fp16 = true;
#endif
}
#else
void detect(CpuFeatures&) {}
#endif

}  // namespace

std::vector<std::string> CpuFeatures::names() const {
  std::vector<std::string> out;
  const std::pair<bool, const char*> all[] = {
      {avx2, "avx2"}, {fma, "fma"}, {f16c, "f16c"}, {avxvnni, "avx_vnni"}, {avx512f, "avx512f"},
      {avx512bw, "avx512bw"}, {avx512vl, "avx512vl"}, {avx512vnni, "avx512_vnni"}, {avx512bf16, "avx512_bf16"},
      {neon, "neon"}, {neon_dotprod, "dotprod"}, {neon_fp16, "fp16"},
  };
  for (const auto& [on, name] : all)
    if (on) out.emplace_back(name);
  return out;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures c;
    detect(c);
    return c;
  }();
  return f;
}

int physical_cores() {
  const int logical = static_cast<int>(std::thread::hardware_concurrency());
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    std::set<std::pair<int, int>> cores;
    bool ok = true;
    for (int cpu = 0; cpu < CPU_SETSIZE && ok; cpu++) {
      if (!CPU_ISSET(cpu, &set)) continue;
      const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
      std::ifstream core(dir + "core_id"), pkg(dir + "physical_package_id");
      int core_id = -1, pkg_id = -1;
      if (!(core >> core_id) || !(pkg >> pkg_id)) ok = false;
      else cores.emplace(pkg_id, core_id);
    }
    if (ok && !cores.empty()) return static_cast<int>(cores.size());
    const int allowed = CPU_COUNT(&set);
    if (allowed > 0) return allowed;
  }
#endif
  return logical > 0 ? logical : 1;
}

}  // namespace xts
