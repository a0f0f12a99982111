// A persistent pool of worker threads; the calling thread takes part in every job.
//
// Decode issues hundreds of small jobs per token (a few microseconds each), so handing a job over
// must be cheap: workers spin on a generation counter for a while after each job and only then
// sleep on a condition variable; the caller wakes sleepers only when there are some. Tasks are
// claimed from a shared atomic counter, so a thread that is slowed down (by the OS or a noisy
// neighbour) takes fewer of them — and a job is over when its tasks are done, not when every
// worker has checked in: on a busy machine a worker may not get a core for milliseconds, and
// waiting for it would stall every job (measured: 30 ms instead of 7 per token of a 25M model).
// A worker that arrives after its job was closed does nothing.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace xts {

class ThreadPool {
 public:
  // fn(ctx, task, thread): `thread` in [0, size()) identifies the caller, for per-thread scratch.
  using TaskFn = void (*)(void* ctx, int64_t task, int thread);

  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }
  // Stops the workers and starts `threads - 1` new ones (no job may be running).
  void resize(int threads);
  // Runs fn for every task in [0, ntasks) and returns when all have finished. Serialized: calls
  // from several threads (e.g. Node worker_threads) take turns.
  void run(int64_t ntasks, TaskFn fn, void* ctx);

  // Lambda convenience: run(n, [&](int64_t task, int thread) { ... }).
  template <class F>
  void run(int64_t ntasks, F&& f) {
    using Fn = std::remove_reference_t<F>;
    run(ntasks, [](void* c, int64_t task, int thread) { (*static_cast<Fn*>(c))(task, thread); }, const_cast<void*>(static_cast<const void*>(&f)));
  }

 private:
  void start(int threads);
  void stop();
  void worker(int index, uint64_t seen);
  void drain(int thread);

  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // one job at a time

  // The current job (written by run() before the generation is published).
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t ntasks_ = 0;
  std::atomic<int64_t> next_{0};    // next unclaimed task
  std::atomic<int64_t> done_{0};    // tasks finished
  std::atomic<int> active_{0};      // workers inside the current job
  std::atomic<uint64_t> open_{0};   // generation of the job that workers may still join, 0 if none
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stopping_{false};

  std::mutex sleep_mutex_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};
};

// The process-wide pool, created on first use with physical_cores() threads (or XVERSE_THREADS).
ThreadPool& pool();

}  // namespace xts
