// Memory bandwidth probe (see bandwidth.h).
#include "bandwidth.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "dispatch.h"
#include "memory.h"
#include "thread_pool.h"

namespace xts {

double read_bandwidth(int64_t bytes, int threads) {
  constexpr int64_t ALIGN = 64;
  constexpr int PASSES = 5;
  // Many slices per thread, claimed dynamically: a thread that starts late does not hold a pass up.
  const int64_t slices = int64_t{16} * threads;
  bytes = std::max<int64_t>(bytes / (ALIGN * slices) * ALIGN * slices, ALIGN * slices);
  struct Free {
    void operator()(uint8_t* p) const { free_huge(p); }
  };
  // Huge-page memory like the weights' (memory.h): the probe measures what the weight stream gets.
  std::unique_ptr<uint8_t, Free> buf(static_cast<uint8_t*>(alloc_huge(static_cast<size_t>(bytes))));
  if (!buf) throw std::bad_alloc();
  std::memset(buf.get(), 1, static_cast<size_t>(bytes));  // fault every page in before timing

  ThreadPool& p = pool();
  const int previous = p.size();
  if (threads != previous) p.resize(threads);
  const auto read_sum = dispatch().ops.read_sum;
  const int64_t slice = bytes / slices;
  std::atomic<uint64_t> sink{0};
  double best = 0;
  for (int pass = 0; pass <= PASSES; pass++) {  // pass 0 warms up
    const auto t0 = std::chrono::steady_clock::now();
    p.run(slices, [&](int64_t task, int) { sink.fetch_xor(read_sum(buf.get() + task * slice, slice), std::memory_order_relaxed); });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (pass > 0) best = std::max(best, static_cast<double>(bytes) / s / 1e9);
  }
  if (threads != previous) p.resize(previous);
  return best;
}

}  // namespace xts
