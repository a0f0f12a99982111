// Memory read bandwidth probe for the benchmark: how fast can `threads` threads stream through a
// buffer of `bytes` bytes (far larger than the caches, to measure DRAM)?
#pragma once
#include <cstdint>

namespace xts {

// Best of several passes, in GB/s (1e9 bytes per second). Uses the active ISA's vector loads.
double read_bandwidth(int64_t bytes, int threads);

}  // namespace xts
