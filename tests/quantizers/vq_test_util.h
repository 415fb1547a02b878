// Small helpers for the quantizer tests: random inputs and closeness checks.
#pragma once
#include <cmath>
#include <vector>

#include "autograd/functions.h"
#include "core/tensor.h"

namespace vq::test {

inline Tensor randn(const Shape& s, uint64_t seed) {
  Generator g(seed);
  return Tensor::randn(s, g);
}

// max |a - b| over all elements (a, b on any device, same shape).
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  auto x = a.to(cpu_device()).contiguous().to(DType::f64).to_vector<double>();
  auto y = b.to(cpu_device()).contiguous().to(DType::f64).to_vector<double>();
  if (x.size() != y.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::fabs(x[i] - y[i]));
  return m;
}

inline bool all_finite(const Tensor& t) {
  for (float v : t.to(cpu_device()).contiguous().to_vector<float>())
    if (!std::isfinite(v)) return false;
  return true;
}

}  // namespace vq::test
