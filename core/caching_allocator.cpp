// Size-class caching allocator (see caching_allocator.h).
#include "core/caching_allocator.h"

namespace vq::detail {

size_t CachingAllocator::size_class(size_t nbytes) {
  if (nbytes <= 512) return 512;
  // Classes: 2^k, 1.25*2^k, 1.5*2^k, 1.75*2^k.
  size_t p = 1;
  while (p * 2 <= nbytes) p *= 2;
  size_t q = p / 4;
  size_t c = p;
  while (c < nbytes) c += q;
  return c;
}

void* CachingAllocator::allocate(size_t nbytes) {
  size_t c = size_class(nbytes);
  if (c >= min_cached_) {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = free_lists_.find(c);
    if (it != free_lists_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      cached_ -= c;
      return p;
    }
  }
  void* p = alloc_(c);
  if (!p) {  // out of memory: drop the cache and retry once
    empty();
    p = alloc_(c);
  }
  return p;
}

void CachingAllocator::deallocate(void* p, size_t nbytes) {
  if (!p) return;
  size_t c = size_class(nbytes);
  if (c >= min_cached_) {
    std::lock_guard<std::mutex> lk(mu_);
    if (cached_ + c <= cache_limit_) {
      free_lists_[c].push_back(p);
      cached_ += c;
      return;
    }
  }
  free_(p, c);
}

void CachingAllocator::empty() {
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& kv : free_lists_)
    for (void* p : kv.second) free_(p, kv.first);
  free_lists_.clear();
  cached_ = 0;
}

}  // namespace vq::detail
