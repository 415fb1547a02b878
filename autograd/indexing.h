// Differentiable indexing functions on Variables: gather, index_select, scatter_add,
// index_add, masked_fill, cumsum, topk and sort values. Index and mask arguments are
// plain Tensors (i64 indices, bool/u8 masks) and get no gradient. Shapes, dtypes,
// devices and errors follow kernels/ops.h.
#pragma once
#include <cstdint>
#include <utility>

#include "autograd/variable.h"

namespace vq::ag {

// out[i][j] = x[i][index[i][j]] along dim; gradient scatter-added back into x's shape.
Variable gather(const Variable& x, int64_t dim, const Tensor& index);
// Rows of x along dim picked by the 1-D index; repeated indices accumulate gradient.
Variable index_select(const Variable& x, int64_t dim, const Tensor& index);
// base with src scatter-added along dim at index; gradient: base <- g, src <- gather(g).
Variable scatter_add(const Variable& base, int64_t dim, const Tensor& index, const Variable& src);
// x with alpha * src added at index along dim; gradient: x <- g, src <- alpha g[index].
Variable index_add(const Variable& x, int64_t dim, const Tensor& index, const Variable& src,
                   double alpha = 1.0);
// x with value where mask (broadcast to x); gradient zero at masked positions.
Variable masked_fill(const Variable& x, const Tensor& mask, double value);
// Inclusive cumulative sum along dim; gradient is the reversed cumulative sum.
Variable cumsum(const Variable& x, int64_t dim);
// Values (differentiable) and i64 indices of the k largest/smallest along dim.
std::pair<Variable, Tensor> topk(const Variable& x, int64_t k, int64_t dim = -1, bool largest = true);
// Stable sort along dim: values (differentiable) and i64 indices.
std::pair<Variable, Tensor> sort(const Variable& x, int64_t dim = -1, bool descending = false);

}  // namespace vq::ag
