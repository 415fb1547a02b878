// Internal to the reduction ops (ops_reduce*.cpp): brings a reduction over any set of
// dims to the [outer, R, inner] form the CPU and CUDA kernels take (kernels/cpu/reduce.h),
// and the device dispatch guard. Not part of the public API.
#pragma once
#include <cstdint>
#include <ostream>
#include <vector>

#include "core/tensor.h"

namespace vq::ops::detail {

// A reduction brought to kernel form: src is contiguous f32 laid out as [outer, R, inner]
// with R the reduced elements; the result is [outer, inner] in row-major order of the
// kept dims, reshaped to out_shape (reduced dims removed, or kept as 1 with keepdim).
struct ReducePlan {
  Tensor src;
  int64_t outer = 1, R = 1, inner = 1;
  Shape out_shape;
};

// Multi-dim plan (sum, mean, var, norm). dims empty = all; negative dims wrap; throws
// ShapeError naming `op`, the dims and x's shape for an out-of-range or repeated dim.
// No copy when the reduced dims are one contiguous range of a contiguous x, or when
// moving them to the end gives a contiguous view; otherwise one copy with them last.
ReducePlan plan_reduce(const char* op, const Tensor& x, const std::vector<int64_t>& dims,
                       bool keepdim);

// Single-dim plan (max/min, arg*, logsumexp, softmax): src = x.contiguous(), R = size(dim).
ReducePlan plan_dim(const char* op, const Tensor& x, int64_t dim, bool keepdim);

// A shape or a dim list for an error message, formatted only when the message is built
// (check() arguments are evaluated on every call, so no shape_str() there).
struct ShapeText {
  const Shape* s;
};
struct DimsText {
  const std::vector<int64_t>* d;
};
std::ostream& operator<<(std::ostream& os, const ShapeText& t);
std::ostream& operator<<(std::ostream& os, const DimsText& t);

// Throws DeviceError "<op>: this build has no CUDA support (x=...)".
[[noreturn]] void no_cuda(const char* op, const Tensor& x);

}  // namespace vq::ops::detail
