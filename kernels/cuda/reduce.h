// CUDA twins of the CPU reduction kernels (kernels/cpu/reduce.h): same [outer, R, inner]
// layout, same ReduceSpec, same tie rules (first index; the first NaN wins). Plain C++
// header (no CUDA types): the launchers queue work on vq::cuda::stream(device) and check
// every launch; pointers are device pointers.
//
// Scheme (reduce.cu, reduce_softmax.cu): a block of TX x TY threads owns TX adjacent
// columns j of one slab o (TX = 1, TY = 256 when inner == 1: one block per row; TX = 32,
// TY = 8 otherwise, so a warp reads 32 consecutive floats). Thread (tx, ty) folds rows
// r = ty, ty + TY, ... in order, then the TY partials meet in a fixed shared-memory tree.
// Sums accumulate in double. When few blocks would hold a long reduced dim (a full sum
// of a large tensor, a bias gradient), R is cut into chunks whose size depends only on
// the shape: a first kernel writes per-chunk double partials to a workspace, a second
// folds them in chunk order. No atomics on floats: results are bit-identical run to run.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "kernels/cpu/reduce_spec.h"

namespace vq::cuda {

void reduce_forward(float* out, const float* x, int64_t outer, int64_t R, int64_t inner,
                    const ReduceSpec& spec, int device);
// values or indices may be null; requires R >= 1.
void max_forward(float* values, int64_t* indices, const float* x, int64_t outer, int64_t R,
                 int64_t inner, bool is_max, int device);
// Number of non-zero elements (integer atomics: exact). Synchronizes (returns to host).
int64_t count_nonzero_forward(const void* x, DType dtype, int64_t n, int device);
void logsumexp_forward(float* out, const float* x, int64_t outer, int64_t R, int64_t inner,
                       int device);
void softmax_forward(float* out, const float* x, int64_t outer, int64_t R, int64_t inner,
                     bool log, int device);

}  // namespace vq::cuda
