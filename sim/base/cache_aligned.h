// Vectors whose data starts on a 64-byte cache line, for arrays that hot loops read with vector
// loads. From plain operator new an array starts wherever the heap's history put it, 16 bytes
// into a line or 48; then part of its 32-byte loads straddle two lines, and a change anywhere
// else in the program that moves the heap moved the speed of those loops (the CPU router's, by a
// fifth, between two builds that differed only in the rank sampler's buffers).
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace moesim {

inline constexpr size_t kCacheLine = 64;

template <typename T>
struct CacheLineAllocator {
  using value_type = T;

  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}

  T* allocate(size_t n) { return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{kCacheLine})); }
  void deallocate(T* p, size_t) { ::operator delete (p, std::align_val_t{kCacheLine}); }
  template <typename U>
  bool operator==(const CacheLineAllocator<U>&) const {
    return true;
  }
};

template <typename T>
using CacheAlignedVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace moesim
