// Elementwise and row operations of the forward pass, with the TypeScript backend's semantics
// (src/backend/ts/kernels.ts). Arguments are assumed checked by the caller (the addon).
#pragma once
#include <cstdint>

#include "kernels.h"

namespace xts {

// out[i, :] = x[i, :] / sqrt(mean(x[i, :]²) + eps) · w
void rms_norm(float* out, const float* x, const float* w, int64_t n, int64_t dim, double eps);

// rotate_half RoPE in place over n rows of n_heads × head_dim values, positions start_pos….
void rope(float* x, int64_t n, int64_t n_heads, int64_t head_dim, int64_t start_pos, const float* inv_freq);

// x = silu(x) · y over len values.
void silu_mul(float* x, const float* y, int64_t len);

// x += y over len values.
void add(float* x, const float* y, int64_t len);

// Widens n values of type t (a multiple of 32 for block types) to f32.
void to_f32(const void* src, WeightType t, float* out, int64_t n);

// out[i, :] = row ids[i] of a [rows × cols] table of type t, widened to f32. Returns the index of
// the first id outside [0, rows) without writing it, or -1 when all are valid.
int64_t embed(float* out, const void* table, WeightType t, int64_t rows, int64_t cols, const int32_t* ids, int64_t count);

}  // namespace xts
