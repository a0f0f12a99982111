// The KV cache's storage format and attention over it. A store is two buffers (keys, values) of
// `capacity` rows; a row holds kv_dim values of type f32, f16 or q8_0 (row_bytes(t, kv_dim) bytes;
// q8_0 needs kv_dim to be a multiple of 32). The buffers are owned by JavaScript.
#pragma once
#include <cstdint>

#include "kernels.h"

namespace xts {

// Whether `t` is a KV cache element type (f32, f16 or q8_0).
bool is_kv_type(WeightType t);

// Converts n rows of k and v (n × kv_dim f32 each) into rows pos … pos+n−1 of the store:
// f16 rounds to nearest even (as dtype.ts), q8_0 quantizes each row with the Q8_0 kernel.
void kv_write(void* keys, void* values, WeightType t, int64_t kv_dim, int64_t pos, const float* k, const float* v, int64_t n);

// Causal grouped-query attention of n query rows (positions start_pos …) over the store:
// out[i, h] = softmax(q[i, h] · K[0 … start_pos+i, g]ᵀ · scale) · V with g = h / (n_heads / n_kv_heads).
// Keys and values are widened exactly to f32 (f16) or dequantized (q8_0); dot products, softmax
// and the weighted sum of values are computed in f32.
void attention(float* out, const float* q, const void* keys, const void* values, WeightType t, int64_t kv_dim,
               int64_t n, int64_t start_pos, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim, float scale);

}  // namespace xts
