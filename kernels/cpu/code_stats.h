// Raw CPU kernel for codebook statistics: per-code counts and sums of the rows assigned
// to each code (the EMA / k-means update), as an index scatter-add that never builds a
// one-hot matrix. Deterministic: each code accumulates its rows in increasing row order,
// so the result is bit-identical for every thread count (threads own code ranges, the
// FAISS compute_centroids scheme; see PERF.md 2.4).
#pragma once
#include <cstdint>

namespace vq::cpu {

// Sizes and head strides (elements) of a code-statistics problem. A stride of 0 shares
// one array between all heads.
struct CsShape {
  int64_t H = 1, N = 0, K = 0, D = 0;
  int64_t idx_head_stride = 0;     // usually N
  int64_t x_head_stride = 0;       // usually N * D
  int64_t weight_head_stride = 0;  // usually N, or 0 for weights shared by all heads
  int64_t mask_head_stride = 0;    // usually N, or 0 for a mask shared by all heads
};

// counts [H, K] f32 and sums [H, K, D] f32 are overwritten:
//   counts[h, k] = sum over rows n with idx[h, n] == k (and mask[h, n] != 0) of w[h, n]
//   sums[h, k, :] = sum over the same rows of w[h, n] * x[h, n, :]
// idx [H, N] i64; x [H, N, D] f32; weights [H, N] f32 or nullptr (all 1); mask [H, N]
// u8/bool or nullptr (all kept). Rows whose index lies outside [0, K) are skipped (the
// Tensor-level op rejects them before calling).
void code_stats(float* counts, float* sums, const int64_t* idx, const float* x,
                const float* weights, const uint8_t* mask, const CsShape& s);

}  // namespace vq::cpu
