// Differentiable shape functions on Variables: the views of core/tensor.h (reshape,
// view, flatten, permute, transpose, narrow, slice, select, unsqueeze, squeeze,
// expand), contiguous, to(device), detach, and the copies cat, stack, split,
// chunk, pad of kernels/ops.h. Views share storage with their input (as Tensor
// views do); arguments and errors (ShapeError naming the op and shapes) are those of
// the Tensor methods and ops.
#pragma once
#include <cstdint>
#include <vector>

#include "autograd/variable.h"

namespace vq::ag {

Variable reshape(const Variable& x, const Shape& shape);
Variable view(const Variable& x, const Shape& shape);  // x's value must be contiguous
Variable flatten(const Variable& x, int64_t start = 0, int64_t end = -1);
Variable permute(const Variable& x, const std::vector<int64_t>& dims);
Variable transpose(const Variable& x, int64_t a, int64_t b);
Variable narrow(const Variable& x, int64_t dim, int64_t start, int64_t length);
Variable slice(const Variable& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Variable select(const Variable& x, int64_t dim, int64_t index);
Variable unsqueeze(const Variable& x, int64_t dim);
Variable squeeze(const Variable& x, int64_t dim);
Variable squeeze(const Variable& x);
// Broadcast view (-1 keeps a size); the gradient is summed back to x's shape.
Variable expand(const Variable& x, const Shape& shape);
Variable contiguous(const Variable& x);
// Copy to another device; the gradient is copied back.
Variable to(const Variable& x, Device device);
// Straight-through helper: the same value as a new leaf that does not require grad,
// so no gradient flows through it (x + detach(q - x) passes q forward, x's gradient back).
Variable detach(const Variable& x);

// Concatenation / stacking of Variables with equal shapes except along dim.
Variable cat(const std::vector<Variable>& xs, int64_t dim);
Variable stack(const std::vector<Variable>& xs, int64_t dim);
// Views of x along dim (last piece may be smaller); each piece's gradient lands in
// its slice of x's gradient.
std::vector<Variable> split(const Variable& x, int64_t split_size, int64_t dim);
std::vector<Variable> split_sizes(const Variable& x, const std::vector<int64_t>& sizes, int64_t dim);
std::vector<Variable> chunk(const Variable& x, int64_t chunks, int64_t dim);
// pads: (before, after) pairs from the LAST dim (torch.nn.functional.pad); negative
// pads crop. Padding gets no gradient.
Variable pad(const Variable& x, const std::vector<int64_t>& pads, double value = 0.0);

}  // namespace vq::ag
