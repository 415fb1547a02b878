// Differentiable reductions and normalizations on Variables: sum, mean, var, norm,
// max/min values along a dim, amax/amin, logsumexp, softmax, log_softmax. Shapes,
// dims (empty = all, negative counts from the end), keepdim and errors follow
// kernels/ops.h; the gradient has the input's shape, dtype and device.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "autograd/variable.h"

namespace vq::ag {

Variable sum(const Variable& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Variable mean(const Variable& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Variable var(const Variable& x, const std::vector<int64_t>& dims = {}, bool unbiased = true,
             bool keepdim = false);
// p = 2 or 1 (as ops::norm). The p = 2 gradient x / norm is taken as 0 where norm == 0.
Variable norm(const Variable& x, const std::vector<int64_t>& dims = {}, double p = 2.0,
              bool keepdim = false);
// Values (differentiable: the gradient goes to the selected element, the first on ties)
// and i64 indices (a plain Tensor) of the max/min along dim.
std::pair<Variable, Tensor> max(const Variable& x, int64_t dim, bool keepdim = false);
std::pair<Variable, Tensor> min(const Variable& x, int64_t dim, bool keepdim = false);
// Scalar max/min over all elements; the gradient is split evenly among ties.
Variable amax(const Variable& x);
Variable amin(const Variable& x);
Variable logsumexp(const Variable& x, int64_t dim, bool keepdim = false);
Variable softmax(const Variable& x, int64_t dim);
Variable log_softmax(const Variable& x, int64_t dim);

}  // namespace vq::ag
