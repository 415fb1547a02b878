// Helpers shared by the VQ kernel tests (CPU and CUDA): random data, the fp64 distance of
// one (row, code) pair, and the near-tie rule used when a fast path's argmin differs from
// the oracle's.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace vq_test {

inline std::vector<float> randn_vec(size_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, scale);
  std::vector<float> v(n);
  for (auto& e : v) e = nd(rng);
  return v;
}

// Squared distance (Euclidean) or the negated inner product (so smaller is better for
// both), in fp64 with direct differences.
inline double pair_cost(const float* x, const float* c, int64_t D, bool ip) {
  double acc = 0.0;
  for (int64_t d = 0; d < D; ++d) {
    if (ip) {
      acc -= double(x[d]) * double(c[d]);
    } else {
      double t = double(x[d]) - double(c[d]);
      acc += t * t;
    }
  }
  return acc;
}

inline double sq_norm64(const float* a, int64_t D) {
  double s = 0.0;
  for (int64_t d = 0; d < D; ++d) s += double(a[d]) * double(a[d]);
  return s;
}

// Scale of the rounding error of an f32 cost: |x|^2 + |ca|^2 + |cb|^2 for the expanded
// Euclidean form, |x| max(|ca|, |cb|) for inner products.
inline double cost_scale(const float* x, const float* ca, const float* cb, int64_t D, bool ip) {
  const double nx = sq_norm64(x, D), na = sq_norm64(ca, D), nb = sq_norm64(cb, D);
  const double s = ip ? std::sqrt(nx) * std::sqrt(std::max(na, nb)) : nx + na + nb;
  return std::max(s, 1e-30);
}

// True when code a is as good as code b for row x: identical, or their fp64 costs differ
// by less than 1e-5 of the cost scale (a documented near-tie; either answer is accepted).
inline bool same_or_near_tie(const float* x, const float* codes, int64_t D, int64_t a,
                             int64_t b, bool ip, double rel = 1e-5) {
  if (a == b) return true;
  const float* ca = codes + a * D;
  const float* cb = codes + b * D;
  const double da = pair_cost(x, ca, D, ip), db = pair_cost(x, cb, D, ip);
  return std::fabs(da - db) < rel * cost_scale(x, ca, cb, D, ip);
}

}  // namespace vq_test
