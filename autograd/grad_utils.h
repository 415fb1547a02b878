// Helpers shared by backward closures: reduce a broadcast gradient back to an input
// shape (sum_to), expand a reduction's gradient back over the reduced dims
// (unreduce), and place a gradient into a zero tensor (for views such as narrow).
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace vq::autograd {

// Sums `grad` over the dims that broadcasting added or stretched so that the result
// has `shape` (leading dims summed away, size-1 dims of `shape` summed with keepdim).
// Returns grad itself when the shapes already match. Throws ShapeError when `shape`
// does not broadcast to grad's shape.
Tensor sum_to(const Tensor& grad, const Shape& shape);

// The gradient of a reduction over `dims` (empty = all) of an input of `in_shape`:
// reinserts the reduced dims as size 1 (unless keepdim) and expands to in_shape
// (a view, not a copy).
Tensor unreduce(const Tensor& grad, const Shape& in_shape, const std::vector<int64_t>& dims,
                bool keepdim);

// Number of elements reduced by a reduction over `dims` (empty = all) of `shape`.
int64_t reduced_count(const Shape& shape, const std::vector<int64_t>& dims);

// zeros of `shape` (part's dtype and device), then `part` written into the view
// view_of(zeros): the gradient of a view op. view_of must return a view of its
// argument with part's shape.
template <typename ViewFn>
Tensor embed_in_zeros(const Shape& shape, const Tensor& part, ViewFn view_of) {
  Tensor z = Tensor::zeros(shape, part.dtype(), part.device());
  Tensor v = view_of(z);
  v.copy_(part);
  return z;
}

}  // namespace vq::autograd
