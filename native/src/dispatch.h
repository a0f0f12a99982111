// Run-time choice of kernels: the best instruction-set level this CPU supports, or a lower one
// forced by XVERSE_ISA=scalar|avx2|avx512|neon (or select_isa(), for tests).
#pragma once
#include <string>
#include <vector>

#include "float_ops.h"
#include "kernels.h"

namespace xts {

struct Dispatch {
  KernelSet ks;
  FloatOps ops;
  std::string level;                // the level chosen: scalar, avx2, avx512 or neon
  std::vector<std::string> levels;  // every level this CPU can run, lowest first
  std::string note;                 // why the level differs from the best one, if it does
};

// The active kernels (built on first use).
const Dispatch& dispatch();

// Rebuilds the kernel set for `level` ("" or "best" = the best the CPU supports). Throws
// std::invalid_argument naming the levels available when `level` is unknown or unsupported.
// Only call while no kernel runs (the addon calls it from the JavaScript thread).
void select_isa(const std::string& level);

}  // namespace xts
