// Thread pool (see thread_pool.h).
#include "thread_pool.h"

#include <chrono>
#include <cstdlib>

#include "cpu.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define XTS_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define XTS_PAUSE() __asm__ volatile("yield")
#else
#define XTS_PAUSE() ((void)0)
#endif

namespace xts {
namespace {

// How long an idle worker spins before it sleeps. Jobs within one decode step follow each other
// within microseconds; between steps (sampling in JavaScript) the workers go to sleep.
constexpr auto SPIN_TIME = std::chrono::microseconds(300);

}  // namespace

ThreadPool::ThreadPool(int threads) { start(threads); }

ThreadPool::~ThreadPool() { stop(); }

void ThreadPool::start(int threads) {
  if (threads < 1) threads = 1;
  stopping_.store(false);
  workers_.reserve(static_cast<size_t>(threads - 1));
  // Each worker starts from the generation current now: if it read the counter itself when it
  // first runs, a job published in between would look old to it and never be picked up.
  const uint64_t generation = generation_.load();
  for (int i = 1; i < threads; i++) workers_.emplace_back([this, i, generation] { worker(i, generation); });
}

void ThreadPool::stop() {
  {
    std::lock_guard<std::mutex> lock(sleep_mutex_);
    stopping_.store(true);
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void ThreadPool::resize(int threads) {
  std::lock_guard<std::mutex> lock(run_mutex_);
  if (threads == size()) return;
  stop();
  start(threads);
}

void ThreadPool::drain(int thread) {
  for (;;) {
    const int64_t task = next_.fetch_add(1, std::memory_order_relaxed);
    if (task >= ntasks_) return;
    fn_(ctx_, task, thread);
    done_.fetch_add(1, std::memory_order_release);  // publishes the task's results to run()
  }
}

void ThreadPool::run(int64_t ntasks, TaskFn fn, void* ctx) {
  if (ntasks <= 0) return;
  if (workers_.empty() || ntasks == 1) {  // nothing to share: no handoff cost
    for (int64_t i = 0; i < ntasks; i++) fn(ctx, i, 0);
    return;
  }
  std::lock_guard<std::mutex> lock(run_mutex_);
  fn_ = fn;
  ctx_ = ctx;
  ntasks_ = ntasks;
  next_.store(0, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  const uint64_t generation = generation_.load(std::memory_order_relaxed) + 1;
  open_.store(generation, std::memory_order_seq_cst);
  // seq_cst on generation_ and sleepers_ (here and in worker()) guarantees that either this thread
  // sees a worker that went to sleep, or that worker sees the new generation before sleeping.
  generation_.store(generation, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard<std::mutex> sl(sleep_mutex_);
    wake_.notify_all();
  }
  drain(0);
  // Wait for the tasks other threads took, then close the job and wait for the workers inside it
  // (they are running, having found tasks or about to find none); late ones will not enter.
  auto wait = [](auto&& busy) {
    for (int spins = 0; busy(); spins++) {
      if (spins < 4096) XTS_PAUSE();
      else std::this_thread::yield();
    }
  };
  wait([&] { return done_.load(std::memory_order_acquire) != ntasks; });
  open_.store(0, std::memory_order_seq_cst);
  wait([&] { return active_.load(std::memory_order_seq_cst) != 0; });
}

void ThreadPool::worker(int index, uint64_t seen) {
  for (;;) {
    // Spin for a while, then sleep until the generation changes.
    auto deadline = std::chrono::steady_clock::now() + SPIN_TIME;
    for (int spins = 0; generation_.load(std::memory_order_acquire) == seen; spins++) {
      XTS_PAUSE();
      if ((spins & 255) == 255 && std::chrono::steady_clock::now() > deadline) {
        std::unique_lock<std::mutex> lock(sleep_mutex_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_seq_cst) != seen; });
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
        break;
      }
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stopping_.load(std::memory_order_acquire)) return;
    // Enter, then check that the job is still open: with seq_cst on both sides either run() sees
    // this worker active (and waits for it) or this worker sees the job closed (and skips it).
    active_.fetch_add(1, std::memory_order_seq_cst);
    if (open_.load(std::memory_order_seq_cst) == seen) drain(index);
    active_.fetch_sub(1, std::memory_order_seq_cst);
  }
}

ThreadPool& pool() {
  static ThreadPool* p = [] {
    int threads = physical_cores();
    if (const char* env = std::getenv("XVERSE_THREADS")) {
      const int n = std::atoi(env);
      if (n >= 1 && n <= 1024) threads = n;
    }
    return new ThreadPool(threads);  // never destroyed: workers must outlive any late caller
  }();
  return *p;
}

}  // namespace xts
