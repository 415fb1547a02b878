// CUDA twins of the CPU reduction kernels (kernels/cpu/reduce.h): same [outer, R, inner]
// layout, same ReduceSpec, same tie rules (first index; the first NaN wins). Plain C++
// header (no CUDA types): the launchers queue work on vq::cuda::stream(device) and check
// every launch; pointers are device pointers.
//
// Scheme (reduce.cu, reduce_softmax.cu; geometry in reduce_common.cuh): a block of 256
// threads holds TX outputs ("columns") x TY lanes; lane ty folds r = ty, ty + TY, ... in
// order, then the TY partials meet in a fixed shared-memory tree. Rows (inner == 1) use
// TY = the power of two >= R in [32, 256] with lanes as the fast index (a warp reads a
// row segment; short rows share a block); columns (inner > 1) use TX = 32 x TY = 8 with
// columns as the fast index (a warp reads 32 consecutive j).
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
