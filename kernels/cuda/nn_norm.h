// Launchers of the CUDA LayerNorm and GroupNorm kernels (plain C++ header). Same
// arguments and formulas as kernels/cpu/nn_norm.h (statistics and sums in f64, fixed
// reduction trees, no atomics). Device pointers on `device`.
#pragma once
#include <cstdint>

namespace vq::cuda {

void layer_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* gamma,
                        const float* beta, int64_t N, int64_t D, float eps, int device);
void layer_norm_backward(float* dx, float* dgamma, float* dbeta, const float* dy,
                         const float* x, const float* mean, const float* rstd,
                         const float* gamma, int64_t N, int64_t D, int device);
void group_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* gamma,
                        const float* beta, int64_t B, int64_t C, int64_t S, int64_t G,
                        float eps, int device);
void group_norm_backward(float* dx, float* dgamma, float* dbeta, const float* dy,
                         const float* x, const float* mean, const float* rstd,
                         const float* gamma, int64_t B, int64_t C, int64_t S, int64_t G,
                         int device);

}  // namespace vq::cuda
