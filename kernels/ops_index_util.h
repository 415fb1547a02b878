// Helpers shared by the indexing ops (ops_index*.cpp, ops_random.cpp): index range
// checks that never let a kernel read out of bounds, and the [O, K, I] view of a shape
// around one dim that every raw index kernel uses. Internal to kernels/.
#pragma once
#include <cstdint>
#include <string>
#include <utility>

#include "core/tensor.h"

namespace vq::ops::detail {

// Sizes before, at and after dim: shape = [O..., K, I...] -> {O, K, I}.
struct Dims3 {
  int64_t outer, mid, inner;
};
Dims3 dims3(const Shape& s, int64_t dim);

// min and max of a contiguous i64 tensor with numel() > 0. CPU: one pass; CUDA: one
// reduction and a 16-byte read-back (synchronizes).
std::pair<int64_t, int64_t> index_minmax(const Tensor& index);

// Throws ShapeError unless every value of the contiguous i64 `index` lies in [0, size):
// "<op>: index 7 is out of bounds for dim 1 with size 3 (<context>)". Returns {min, max}
// ({0, -1} when index is empty).
std::pair<int64_t, int64_t> check_index_bounds(const char* op, const Tensor& index, int64_t dim,
                                               int64_t size, const std::string& context);

// Throws DeviceError "<op>: this build has no CUDA support" (CPU-only builds).
[[noreturn]] void no_cuda(const char* op);

}  // namespace vq::ops::detail
