// See memory.h.
#include "memory.h"

#include <cstdlib>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#if defined(_WIN32)
#include <malloc.h>
#endif

namespace xts {

size_t huge_rounded(size_t bytes) { return (bytes + HUGE_PAGE_BYTES - 1) / HUGE_PAGE_BYTES * HUGE_PAGE_BYTES; }

void* alloc_huge(size_t bytes) {
  const size_t rounded = huge_rounded(bytes);
#if defined(_WIN32)
  return _aligned_malloc(rounded, HUGE_PAGE_BYTES);
#else
  void* p = std::aligned_alloc(HUGE_PAGE_BYTES, rounded);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (p) madvise(p, rounded, MADV_HUGEPAGE);  // advisory: without THP it changes nothing
#endif
  return p;
#endif
}

void free_huge(void* p) {
#if defined(_WIN32)
  _aligned_free(p);
#else
  std::free(p);
#endif
}

}  // namespace xts
