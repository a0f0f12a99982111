// float kernels, avx512 variant (placeholder: registers nothing yet, so the simpler variant's
// kernels stay in place).
#include "kernels.h"
#if defined(__x86_64__) || defined(_M_X64)
namespace xts {
void register_float_avx512(KernelSet& ks) { (void)ks; }
}  // namespace xts
#endif
