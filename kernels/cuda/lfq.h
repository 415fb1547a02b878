// CUDA launchers of the LFQ kernels: the element-wise forward/backward, commitment,
// index -> code (twins of kernels/cpu/lfq.h, same group math from lfq_math.h), and the
// entropy terms (twins of kernels/cpu/lfq_entropy.h: the same split-bit GEMM through
// cuBLAS for the factorized mode, the same enumeration for the exact mode). Plain C++
// header; pointers are device pointers; scalar coefficients are device scalars so that
// nothing synchronizes with the host.
#pragma once
#include <cstdint>

#include "kernels/cpu/lfq_entropy.h"
#include "kernels/cpu/lfq_math.h"

namespace vq::cuda {

void lfq_forward(float* out, int64_t* indices, float* u_out, const float* x, const float* act,
                 int64_t N, int64_t H, const cpu::LfqParams& p, bool training, int device);

// *mean (device scalar) = mean over the selected rows' elements of (u - q)^2; 0 when no
// row is selected. row_mask [N] u8 or nullptr.
void lfq_commitment_mean(float* mean, const float* u, const uint8_t* row_mask, int64_t N,
                         int64_t H, const cpu::LfqParams& p, int device);

// As cpu::lfq_backward, with the commitment coefficient grad_commit[0] / (rows * W)
// (grad_commit a device scalar, nullptr = no commitment term; rows counted on device).
void lfq_backward(float* dx, const float* g_out, const float* g_u, const float* x,
                  const float* grad_commit, const uint8_t* row_mask, int64_t N, int64_t H,
                  const cpu::LfqParams& p, bool ste_to_u, int device);

void lfq_indices_to_codes(float* codes, const int64_t* indices, int64_t M,
                          const cpu::LfqParams& p, int device);

// avg [H, 2^c] and *per_sample (device scalar), as cpu::lfq_entropy_forward.
void lfq_entropy_forward(float* avg, float* per_sample, const float* u, const int64_t* rows,
                         int64_t T, const cpu::LfqEntropyParams& p, int device);
// *out (device scalar) = mean over codebooks of the clamped entropy of avg [H, 2^c].
void lfq_batch_entropy(float* out, const float* avg, int64_t H, int32_t c, int device);
// G [H, 2^c] = grad_batch[0] * d batch_entropy / d avg (device scalar), as
// cpu::lfq_batch_entropy_grad.
void lfq_batch_entropy_grad(float* G, const float* avg, int64_t H, int32_t c,
                            const float* grad_batch, int device);
// du [N, H*c] += d(sum G avg)/du + grad_ps[0] * d per_sample / du (G [H, 2^c] and
// grad_ps a device scalar; nullptr = term absent), as cpu::lfq_entropy_backward.
void lfq_entropy_backward(float* du, const float* u, const int64_t* rows, int64_t T,
                          const float* G, const float* grad_ps, const cpu::LfqEntropyParams& p,
                          int device);

}  // namespace vq::cuda
