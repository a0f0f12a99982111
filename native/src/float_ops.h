// Small f32 vector helpers that attention and the bandwidth probe need in SIMD form. Like the
// KernelSet, each instruction-set variant overlays its versions (in kernels_<isa>_float.cc) on the
// scalar ones; dispatch.cc fills one FloatOps next to the KernelSet.
#pragma once
#include <cstdint>

namespace xts {

struct FloatOps {
  // y[i] += a * x[i] for i in [0, n)
  void (*axpy)(float a, const float* x, float* y, int64_t n) = nullptr;
  // y[i] += a * x[i] with x in f16, widened exactly (attention over an f16 value cache reads the
  // cache in place: widening it into a buffer first costs more than the products themselves)
  void (*axpy_f16)(float a, const uint16_t* x, float* y, int64_t n) = nullptr;
  // Reads n bytes (p 64-byte aligned, n a multiple of 64) and returns a value that depends on all
  // of them, so the reads cannot be optimized away: the memory bandwidth probe.
  uint64_t (*read_sum)(const void* p, int64_t n) = nullptr;
};

void register_ops_scalar(FloatOps& ops);
#if defined(__x86_64__) || defined(_M_X64)
void register_ops_avx2(FloatOps& ops);
void register_ops_avx512(FloatOps& ops);
#endif
#if defined(__aarch64__)
void register_ops_neon(FloatOps& ops);
#endif

}  // namespace xts
