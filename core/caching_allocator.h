// A size-class caching allocator shared by the CPU and CUDA backends. Freed blocks
// are kept per size class and handed out again, so a training step's steady state
// makes no system allocations (no page faults on fresh mappings on CPU, no
// cudaMalloc on GPU). Thread-safe. Internal to core/.
#pragma once
#include <cstddef>
#include <map>
#include <mutex>
#include <vector>

namespace vq::detail {

class CachingAllocator {
 public:
  using RawAlloc = void* (*)(size_t);
  using RawFree = void (*)(void*, size_t);
  CachingAllocator(RawAlloc a, RawFree f, size_t min_cached, size_t cache_limit)
      : alloc_(a), free_(f), min_cached_(min_cached), cache_limit_(cache_limit) {}

  // Rounds nbytes to its size class (<= 25% over) and returns a block of that size.
  void* allocate(size_t nbytes);
  void deallocate(void* p, size_t nbytes);
  void empty();
  size_t cached_bytes() const { return cached_; }
  static size_t size_class(size_t nbytes);

 private:
  RawAlloc alloc_;
  RawFree free_;
  size_t min_cached_;
  size_t cache_limit_;
  size_t cached_ = 0;
  std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_lists_;
};

}  // namespace vq::detail
