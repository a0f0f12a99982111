// float kernels, scalar variant (placeholder: registers nothing yet, so the simpler variant's
// kernels stay in place).
#include "kernels.h"

namespace xts {
void register_float_scalar(KernelSet& ks) { (void)ks; }
}  // namespace xts

