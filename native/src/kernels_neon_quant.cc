// quant kernels, neon variant (placeholder: registers nothing yet, so the simpler variant's
// kernels stay in place).
#include "kernels.h"
#if defined(__aarch64__)
namespace xts {
void register_quant_neon(KernelSet& ks) { (void)ks; }
}  // namespace xts
#endif
