// Raw CPU reduction kernels: sums and moments (reduce.cpp), max/min with indices and
// non-zero counts (reduce_index.cpp), logsumexp and softmax (reduce_softmax.cpp).
// Pointers + sizes only; the validated Tensor API is in kernels/ops.h.
//
// Layout: every kernel sees its input as a contiguous row-major [outer, R, inner]
// block and reduces the middle dim R, writing a contiguous [outer, inner] output
// (softmax writes [outer, R, inner]). The ops layer brings any reduction to this form:
// reduced dims that form one contiguous range of a contiguous tensor need no copy
// (inner == 1 is a row reduction, outer == 1 a column reduction such as a bias
// gradient, sum over dim 0 of [N, D]); other dim sets are permuted to the end first.
//
// Determinism: sums accumulate in double over fixed chunks of the reduced dim whose
// partials combine in chunk order; the chunking depends only on the shape, so the
// result does not depend on the number of OpenMP threads. Max/min keep the first
// index on ties; a NaN wins over any number (the first NaN), like torch.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "kernels/cpu/reduce_spec.h"

namespace vq::cpu {

// out[o, j] = root_p(scale * combine_r f(x[o, r, j])) as described by spec (see
// reduce_spec.h). R == 0 folds nothing (acc = 0). spec.center, when used, is [outer, inner].
void reduce_forward(float* out, const float* x, int64_t outer, int64_t R, int64_t inner,
                    const ReduceSpec& spec);

// values[o, j] = max_r x[o, r, j] (min when !is_max) and indices[o, j] = its first r.
// Either output may be null. Requires R >= 1.
void max_forward(float* values, int64_t* indices, const float* x, int64_t outer, int64_t R,
                 int64_t inner, bool is_max);

// Number of non-zero elements of n contiguous elements of dtype (NaN counts as non-zero).
int64_t count_nonzero_forward(const void* x, DType dtype, int64_t n);

// out[o, j] = log sum_r exp(x[o, r, j]), stable (the column max is subtracted first;
// -inf when R == 0 or every element is -inf, +inf when some element is +inf).
void logsumexp_forward(float* out, const float* x, int64_t outer, int64_t R, int64_t inner);

// out[o, r, j] = exp(x[o, r, j] - m) / sum_r exp(x[o, r, j] - m), m the column max;
// with log = true: x - m - log(sum_r exp(x - m)). out may equal x.
void softmax_forward(float* out, const float* x, int64_t outer, int64_t R, int64_t inner,
                     bool log);

}  // namespace vq::cpu
