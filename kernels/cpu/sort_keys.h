// Order-preserving integer keys and Philox-derived draws shared by the CPU and CUDA
// sort / unique / topk / randperm / multinomial kernels. Header-only and usable from
// host and device code, so both backends compute bit-identical keys and therefore
// identical orders and samples for the same inputs and generator state.
#pragma once
#include <cstdint>
#include <cstring>

#include "core/philox.h"  // VQ_HD, philox4x32

namespace vq::sortkey {

// f32 -> u32 whose unsigned order equals the float order, with -0.0 == +0.0 and every
// NaN mapped to one key above +inf (PyTorch sorts NaN as the largest value).
VQ_HD uint32_t f32_key(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0xffffffffu;  // NaN: above +inf's key
  if (u == 0x80000000u) u = 0;                              // -0.0 -> +0.0
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// i64 -> u64 preserving signed order.
VQ_HD uint64_t i64_key(int64_t v) { return static_cast<uint64_t>(v) ^ 0x8000000000000000ull; }

// f64 -> u64 preserving order (used for multinomial race times; no NaN reaches it).
VQ_HD uint64_t f64_key(double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  if (u == 0x8000000000000000ull) u = 0;
  return (u & 0x8000000000000000ull) ? ~u : (u | 0x8000000000000000ull);
}

// 64-bit random key of element i of a randperm draw starting at counter `base`.
VQ_HD uint64_t randperm_key(uint64_t seed, uint64_t base, uint64_t i) {
  Philox4 r = philox4x32(seed, base + i);
  return (static_cast<uint64_t>(r.v[0]) << 32) | r.v[1];
}

// 53-bit uniform in [0, 1) from counter base + i.
VQ_HD double uniform53(uint64_t seed, uint64_t base, uint64_t i) {
  Philox4 r = philox4x32(seed, base + i);
  uint64_t bits = ((static_cast<uint64_t>(r.v[0]) << 21) ^ (r.v[1] >> 11)) & ((1ull << 53) - 1);
  return static_cast<double>(bits) * (1.0 / 9007199254740992.0);
}

// 53-bit uniform in (0, 1] (safe for log) from counter base + i.
VQ_HD double uniform53_open0(uint64_t seed, uint64_t base, uint64_t i) {
  Philox4 r = philox4x32(seed, base + i);
  uint64_t bits = ((static_cast<uint64_t>(r.v[0]) << 21) ^ (r.v[1] >> 11)) & ((1ull << 53) - 1);
  return static_cast<double>(bits + 1) * (1.0 / 9007199254740992.0);
}

// Index of the first cdf entry strictly greater than target in cdf[0, k): the sampled
// category for an inverse-CDF draw (zero-weight categories are never returned).
VQ_HD int64_t upper_bound_cdf(const double* cdf, int64_t k, double target) {
  int64_t lo = 0, hi = k - 1;  // target < cdf[k-1] always holds for u < 1
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (cdf[mid] > target)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

}  // namespace vq::sortkey
