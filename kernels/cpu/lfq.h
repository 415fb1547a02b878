// LFQ CPU kernels (lookup-free quantization, arXiv 2310.05737; BSQ spherical mode,
// arXiv 2406.07548): the fused element-wise forward (soft clamp, spherical
// normalization, sign, straight-through value, int64 index with the first dimension
// most significant), the commitment sum, the fused backward, and index -> code.
// The entropy terms are in lfq_entropy.h. Layout: rows of W = H * c floats (H
// codebooks of c bits); indices [N, H]. The math of one group is in lfq_math.h.
#pragma once
#include <cstdint>

#include "kernels/cpu/lfq_math.h"

namespace vq::cpu {

// Forward.
//  out     [N, W]: quantized value (training: a + (q - a), eval: q)
//  indices [N, H]: int64, or nullptr to skip
//  u_out   [N, W]: the transformed input u (after soft clamp and spherical
//                  normalization), or nullptr to skip (u = x when neither is on)
//  x       [N, W]: input
//  act     [N, W]: the straight-through activation act(u), or nullptr for the identity
void lfq_forward(float* out, int64_t* indices, float* u_out, const float* x, const float* act,
                 int64_t N, int64_t H, const LfqParams& p, bool training);

// Commitment: *sum = sum over the selected rows of sum_i (u_i - q_i)^2 (q with the
// spherical normalization), accumulated in double in fixed row blocks (deterministic).
// u [N, W]; row_mask [N] (nonzero = selected) or nullptr for all rows.
void lfq_commitment_sum(double* sum, const float* u, const uint8_t* row_mask, int64_t N,
                        int64_t H, const LfqParams& p);

// Backward: dx [N, W] from
//  g_out   [N, W]: gradient of `out`, added to du when ste_to_u (identity activation;
//                  otherwise it belongs to act's input and is not used here) or nullptr
//  g_u     [N, W]: extra gradient w.r.t. u (entropy terms), or nullptr
//  commit_coef:    d loss / d commitment_sum; adds commit_coef * 2 (u - q) on selected rows
//  row_mask [N]:   rows the commitment covers (nullptr = all)
// then through the spherical normalization and the soft clamp, recomputed from x.
void lfq_backward(float* dx, const float* g_out, const float* g_u, const float* x,
                  float commit_coef, const uint8_t* row_mask, int64_t N, int64_t H,
                  const LfqParams& p, bool ste_to_u);

// codes [M, c] from indices [M]: bit i of the index (most significant first) gives
// +scale or -scale (spherical: normalized, times scale). Negative indices decode to
// zero codes.
void lfq_indices_to_codes(float* codes, const int64_t* indices, int64_t M, const LfqParams& p);

}  // namespace vq::cpu
