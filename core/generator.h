// Counter-based random numbers (Philox 4x32-10). A Generator holds (seed, offset);
// each random op consumes a contiguous range of counters, so element i of a draw is
// a pure function of (seed, offset + i) and CPU and CUDA produce identical numbers.
#pragma once
#include <cstdint>

namespace vq {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void manual_seed(uint64_t seed) { seed_ = seed; offset_ = 0; }
  // Reserves n counters (each counter yields 4 x 32-bit words) and returns the first.
  uint64_t reserve(uint64_t n) { uint64_t o = offset_; offset_ += n; return o; }
  // Host-side helpers for small draws (k-means sampling, dropout seeds).
  uint32_t next_u32();
  float next_uniform();  // [0, 1)
  uint64_t next_u64();

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// The process-wide default generator (seeded with 0; reseed with manual_seed()).
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace vq
