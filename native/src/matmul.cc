// Matrix product driver (see matmul.h): splits the product into tiles of weight rows × tokens and
// hands them to the thread pool; the kernels (KernelSet::tile) do the arithmetic.
#include "matmul.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "dispatch.h"
#include "thread_pool.h"

namespace xts {
namespace {

// Below this many multiply-adds a product runs on the calling thread alone: waking the workers
// would cost more than it saves (the tiny test models are all like that).
constexpr int64_t MIN_PARALLEL_MACS = 1 << 17;
// Tokens per tile in a prefill: the tile's activations (TOKEN_TILE rows of `cols` f32 values) are
// reused by every weight row of the tile, so they should stay in L2 (1–2 MB per core).
constexpr int64_t TOKEN_TILE = 32;
// Weight rows per tile are a multiple of this (the kernels' row blocking).
constexpr int64_t ROW_ALIGN = 16;
// Tiles per thread: enough for the atomic task counter to even out threads that run slower, and
// to keep the wait for the last tile short (on average half a tile: 1/16 of a thread's share).
constexpr int64_t TILES_PER_THREAD = 8;

// Activations quantized for block weights; grows to the largest product seen, never shrinks.
std::vector<uint8_t>& q8_scratch() {
  static std::vector<uint8_t> buf;
  return buf;
}

}  // namespace

const char* weight_type_name(WeightType wt) {
  switch (wt) {
    case W_F32: return "f32";
    case W_F16: return "f16";
    case W_BF16: return "bf16";
    case W_Q8_0: return "q8_0";
    case W_Q4_0: return "q4_0";
    default: return "unknown";
  }
}

void quantize_activations(uint8_t* dst, const float* x, int64_t cols, int64_t n) {
  const KernelSet& ks = dispatch().ks;
  if (!ks.quantize_q8_0) throw std::runtime_error("this build has no q8_0 quantization kernel");
  const int64_t row = row_bytes(W_Q8_0, cols);
  auto body = [&](int64_t t, int) { ks.quantize_q8_0(x + t * cols, dst + t * row, cols); };
  if (n * cols < MIN_PARALLEL_MACS) {
    for (int64_t t = 0; t < n; t++) body(t, 0);
  } else {
    pool().run(n, body);
  }
}

void matmul(float* out, const float* x, const void* w, WeightType wt, int64_t rows, int64_t cols, int64_t n) {
  if (rows <= 0 || cols <= 0 || n <= 0) return;
  const KernelSet& ks = dispatch().ks;
  const TileFn tile = ks.tile[wt];
  if (!tile) throw std::runtime_error(std::string("this build has no matmul kernel for ") + weight_type_name(wt) + " weights");

  const void* xa = x;
  int64_t x_stride = cols * static_cast<int64_t>(sizeof(float));
  if (uses_q8_activations(wt)) {
    if (cols % QK != 0) {
      throw std::invalid_argument(std::string(weight_type_name(wt)) + " weights need a multiple of 32 columns, got " + std::to_string(cols));
    }
    x_stride = row_bytes(W_Q8_0, cols);
    auto& buf = q8_scratch();
    if (static_cast<int64_t>(buf.size()) < n * x_stride) buf.resize(static_cast<size_t>(n * x_stride));
    quantize_activations(buf.data(), x, cols, n);
    xa = buf.data();
  }

  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* xb = static_cast<const uint8_t*>(xa);
  const int64_t w_stride = row_bytes(wt, cols);
  const int threads = pool().size();
  if (threads == 1 || rows * cols * n < MIN_PARALLEL_MACS) {
    tile(cols, wb, w_stride, xb, x_stride, out, rows, rows, n);
    return;
  }

  const int64_t tc = std::min(n, TOKEN_TILE);
  const int64_t token_tiles = (n + tc - 1) / tc;
  const int64_t row_tiles_wanted = std::max<int64_t>(1, (threads * TILES_PER_THREAD + token_tiles - 1) / token_tiles);
  int64_t rc = (rows + row_tiles_wanted - 1) / row_tiles_wanted;
  rc = std::max<int64_t>(ROW_ALIGN, (rc + ROW_ALIGN - 1) / ROW_ALIGN * ROW_ALIGN);
  const int64_t row_tiles = (rows + rc - 1) / rc;

  // Consecutive task numbers share a row tile, so its weights are reused from cache.
  pool().run(row_tiles * token_tiles, [&](int64_t task, int) {
    const int64_t r0 = task / token_tiles * rc;
    const int64_t t0 = task % token_tiles * tc;
    const int64_t nr = std::min(rc, rows - r0);
    const int64_t nt = std::min(tc, n - t0);
    tile(cols, wb + r0 * w_stride, w_stride, xb + t0 * x_stride, x_stride, out + t0 * rows + r0, rows, nr, nt);
  });
}

}  // namespace xts
