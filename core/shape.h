// Shape = list of extents; helpers for numel, contiguous strides, dim wrapping,
// broadcasting and printing ("[2, 3]").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vq {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;

int64_t shape_numel(const Shape& s);
Strides contiguous_strides(const Shape& s);
std::string shape_str(const Shape& s);
// Wraps a possibly negative dim into [0, ndim); throws ShapeError naming `op`.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);
// Broadcast shape of a and b (numpy rules); throws ShapeError naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace vq
