// Weight quantization (see quantize.h): each task widens a run of rows to f32 (per-thread scratch)
// and quantizes them with the KernelSet's quantizer.
#include "quantize.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "dispatch.h"
#include "matmul.h"
#include "thread_pool.h"

namespace xts {
namespace {

constexpr int64_t ROWS_PER_TASK_MIN_VALUES = 1 << 16;  // values per task, at least

std::vector<std::vector<float>>& row_scratch() {
  static std::vector<std::vector<float>> s;
  return s;
}

}  // namespace

void quantize_rows(const void* src, WeightType src_t, int64_t rows, int64_t cols, void* dst, WeightType dst_t) {
  const KernelSet& ks = dispatch().ks;
  if (cols % QK != 0) {
    throw std::invalid_argument(std::string(weight_type_name(dst_t)) + " needs a multiple of 32 columns, got " + std::to_string(cols));
  }
  const QuantizeFn quantize = dst_t == W_Q8_0 ? ks.quantize_q8_0 : dst_t == W_Q4_0 ? ks.quantize_q4_0 : nullptr;
  if (!quantize) throw std::runtime_error(std::string("this build has no ") + weight_type_name(dst_t) + " quantization kernel");
  const ToF32Fn widen = ks.to_f32[src_t];
  if (src_t != W_F32 && !widen) throw std::runtime_error(std::string("this build cannot widen ") + weight_type_name(src_t) + " values");

  const int64_t src_row = row_bytes(src_t, cols);
  const int64_t dst_row = row_bytes(dst_t, cols);
  const int threads = pool().size();
  auto& scratch = row_scratch();
  if (static_cast<int>(scratch.size()) < threads) scratch.resize(static_cast<size_t>(threads));
  if (src_t != W_F32)
    for (auto& s : scratch)
      if (static_cast<int64_t>(s.size()) < cols) s.resize(static_cast<size_t>(cols));

  const int64_t per_task = std::max<int64_t>(1, ROWS_PER_TASK_MIN_VALUES / cols);
  const auto* in = static_cast<const uint8_t*>(src);
  auto* outb = static_cast<uint8_t*>(dst);
  pool().run((rows + per_task - 1) / per_task, [&](int64_t task, int thread) {
    const int64_t end = std::min(rows, (task + 1) * per_task);
    for (int64_t r = task * per_task; r < end; r++) {
      const float* row = reinterpret_cast<const float*>(in + r * src_row);
      if (src_t != W_F32) {
        float* buf = scratch[static_cast<size_t>(thread)].data();
        widen(in + r * src_row, buf, cols);
        row = buf;
      }
      quantize(row, outb + r * dst_row, cols);
    }
  });
}

}  // namespace xts
