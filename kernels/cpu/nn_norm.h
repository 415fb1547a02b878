// Raw CPU kernels of LayerNorm and GroupNorm (f32 data, statistics and sums in f64,
// biased variance like PyTorch). Pointers + sizes only; the Tensor API is in
// nn/functional.h, the CUDA twins in kernels/cuda/nn_norm.h. All sums run in a fixed
// order independent of the thread count.
#pragma once
#include <cstdint>

namespace vq::cpu {

// LayerNorm over the last D elements of N rows:
//   mean[n], rstd[n] = 1 / sqrt(var[n] + eps), xhat = (x - mean) rstd,
//   y = xhat * gamma + beta  (gamma/beta [D]; null means 1 / 0).
// x, y [N, D]; mean, rstd [N] are written (saved for the backward).
void layer_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* gamma,
                        const float* beta, int64_t N, int64_t D, float eps);

// With g = dy * gamma:
//   dx = rstd (g - mean_D(g) - xhat mean_D(g xhat)),
//   dgamma[d] = sum_n dy xhat, dbeta[d] = sum_n dy.
// dx [N, D], dgamma, dbeta [D] are overwritten; each may be null to skip it.
void layer_norm_backward(float* dx, float* dgamma, float* dbeta, const float* dy,
                         const float* x, const float* mean, const float* rstd,
                         const float* gamma, int64_t N, int64_t D);

// GroupNorm: x [B, C, S] (S = product of the spatial dims), G groups of C/G channels;
// group (b, g) normalizes its (C/G) S contiguous elements; gamma/beta [C] per channel
// (null = 1 / 0). mean, rstd [B, G] are written.
void group_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* gamma,
                        const float* beta, int64_t B, int64_t C, int64_t S, int64_t G,
                        float eps);

// With M = (C/G) S, per group: ds[b, c] = sum_s dy xhat, db[b, c] = sum_s dy,
//   dx = rstd (dy gamma_c - sum_{c' in g} gamma_c' db[b, c'] / M
//              - xhat sum_{c' in g} gamma_c' ds[b, c'] / M),
//   dgamma[c] = sum_b ds[b, c], dbeta[c] = sum_b db[b, c].
// Outputs overwritten; each may be null.
void group_norm_backward(float* dx, float* dgamma, float* dbeta, const float* dy,
                         const float* x, const float* mean, const float* rstd,
                         const float* gamma, int64_t B, int64_t C, int64_t S, int64_t G);

}  // namespace vq::cpu
