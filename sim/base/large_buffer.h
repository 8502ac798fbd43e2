// An allocator for the buffers of many megabytes that a simulation fills once and reuses (routing
// matrices, task graphs). On Linux it asks for transparent huge pages (madvise), so that first
// touching a 100 MB buffer takes a few hundred page faults rather than tens of thousands: in a
// virtual machine each fault costs microseconds, and they were a third of a one-step DeepSeek-V3
// run. Buffers under one huge page, and other systems, get plain operator new.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace moesim {

inline constexpr size_t kHugePage = size_t{2} << 20;

template <typename T>
struct LargeBufferAllocator {
  using value_type = T;

  LargeBufferAllocator() = default;
  template <typename U>
  LargeBufferAllocator(const LargeBufferAllocator<U>&) {}

  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < kHugePage) return static_cast<T*>(::operator new(bytes));
    void* p = ::operator new (rounded(bytes), std::align_val_t{kHugePage});
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    madvise(p, rounded(bytes), MADV_HUGEPAGE);  // advice only: where it is refused, small pages
#endif
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < kHugePage) return ::operator delete(p);
    ::operator delete (p, std::align_val_t{kHugePage});
  }
  template <typename U>
  bool operator==(const LargeBufferAllocator<U>&) const {
    return true;
  }

 private:
  static size_t rounded(size_t bytes) { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }
};

template <typename T>
using LargeVector = std::vector<T, LargeBufferAllocator<T>>;

}  // namespace moesim
