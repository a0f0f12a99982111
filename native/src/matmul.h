// The matrix product driver: out[n × rows] = x[n × cols] · Wᵀ for weights of any WeightType.
#pragma once
#include <cstdint>

#include "kernels.h"

namespace xts {

// `w` holds `rows` rows of row_bytes(wt, cols) bytes. For block types the activations are first
// quantized to Q8_0 (into a scratch buffer that only ever grows) and multiplied with integer dots.
// Throws std::invalid_argument / std::runtime_error for unusable shapes or a missing kernel.
void matmul(float* out, const float* x, const void* w, WeightType wt, int64_t rows, int64_t cols, int64_t n);

// Quantizes n rows of `cols` f32 values to Q8_0 rows (row_bytes(W_Q8_0, cols) apart), in parallel
// when there are many. Used for matmul activations.
void quantize_activations(uint8_t* dst, const float* x, int64_t cols, int64_t n);

// The name of a weight type as the TypeScript side spells it (f32, f16, bf16, q8_0, q4_0).
const char* weight_type_name(WeightType wt);

}  // namespace xts
