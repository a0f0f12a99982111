// What the CPU offers, found at run time (cpuid + the OS's saved-state mask on x86, hwcaps on ARM),
// and how many physical cores this process may use.
#pragma once
#include <string>
#include <vector>

namespace xts {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512vnni = false, avx512bf16 = false;
  bool avxvnni = false;
  bool neon = false, neon_dotprod = false, neon_fp16 = false;
  std::string brand;  // CPU model name, when known

  bool has_avx2_level() const { return avx2 && fma && f16c; }
  bool has_avx512_level() const { return has_avx2_level() && avx512f && avx512bw && avx512vl; }
  // The flags above that are set, by their usual names (for `xverse info`).
  std::vector<std::string> names() const;
};

const CpuFeatures& cpu_features();

// Physical cores among the CPUs this process may run on (Linux: distinct (package, core) ids in
// /sys for the CPUs in the affinity mask); else std::thread::hardware_concurrency(); at least 1.
int physical_cores();

}  // namespace xts
