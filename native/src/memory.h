// Large buffers for weights and the bandwidth probe: 2 MiB-aligned and, on Linux, advised to use
// transparent huge pages. Loading a multi-GB model faults in every page of its weights once; in
// virtual machines a 4 KiB page fault costs microseconds and grows with the resident size (measured
// here: filling 1 GiB took 1.1–3.6 s with 4 KiB pages, 0.15–0.3 s with huge pages). The bandwidth
// probe uses the same memory so that it measures what the weight stream gets.
#pragma once
#include <cstddef>

namespace xts {

constexpr size_t HUGE_PAGE_BYTES = size_t{2} << 20;

// `bytes` rounded up to a multiple of HUGE_PAGE_BYTES; nullptr when out of memory. Contents are
// whatever the OS gives (zero for fresh pages). Free with free_huge.
void* alloc_huge(size_t bytes);
void free_huge(void* p);
// What alloc_huge really reserves for `bytes`.
size_t huge_rounded(size_t bytes);

}  // namespace xts
