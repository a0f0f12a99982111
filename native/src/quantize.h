// Weight quantization: rows of f32 / f16 / bf16 (or another block type) to Q8_0 or Q4_0 blocks,
// byte-identical to src/tensor/quant.ts (and so to ggml's reference quantizers).
#pragma once
#include <cstdint>

#include "kernels.h"

namespace xts {

// `rows` rows of `cols` values (cols a multiple of 32) from `src` (type src_t) into `dst` (dst_t =
// W_Q8_0 or W_Q4_0), split across the thread pool.
void quantize_rows(const void* src, WeightType src_t, int64_t rows, int64_t cols, void* dst, WeightType dst_t);

}  // namespace xts
