// Tensor-level API of the fused vector-quantization kernels (no autograd): nearest-code
// search (top-1 and top-k) that never materializes the N x K distance matrix, the
// materialized similarity matrix for the losses that need it, code statistics as a
// deterministic scatter-add (no one-hot), and the rotation trick forward / backward.
// Every op validates its arguments (errors name the op, every shape, dtype and device),
// allocates its outputs on the inputs' device and dispatches to kernels/cpu or
// kernels/cuda. Inputs may be non-contiguous (they are made contiguous); outputs are
// contiguous. None of these ops records gradients.
//
// Heads: x [N, D] or [H, N, D] with codes [K, D] or [H, K, D]. A 2-D side (or a 3-D side
// with H = 1) is shared by every head of the other side; otherwise both H must match.
// Outputs carry the head axis whenever an input has one ([H, N], [H, N, k], [H, N, K]).
#pragma once
#include <cstdint>
#include <optional>

#include "core/tensor.h"

namespace vq::ops {

// Euclidean: smallest squared distance wins. inner_product: largest x.c wins (cosine
// similarity when the caller L2-normalized x and codes, as the reference does).
enum class VqMetric { euclidean, inner_product };

struct NearestCode {
  Tensor indices;  // i64 [N] / [H, N] (top-k: [N, k] / [H, N, k])
  Tensor scores;   // f32, same shape: squared distance max(|x|^2 + |c|^2 - 2 x.c, 0)
                   // (Euclidean) or x.c (inner product)
};

// Top-1 nearest code. x f32 [N, D] / [H, N, D], codes f32 [K, D] / [H, K, D], K >= 1,
// same device. Ties go to the lowest index (torch argmin / argmax). Memory: O(N) outputs
// plus a small per-thread (CPU) or per-CTA (CUDA) workspace; never N x K (the CUDA
// cuBLAS path for D >= 512 tiles N x K to <= 256 MiB).
// Throws ShapeError (ranks, D mismatch, head mismatch, K == 0), DTypeError (not f32),
// DeviceError (different devices, or CUDA tensors in a build without CUDA).
NearestCode nearest_code(const Tensor& x, const Tensor& codes,
                         VqMetric metric = VqMetric::euclidean);

// Top-k nearest codes, best first (ascending distance / descending similarity; equal
// scores in ascending index). 1 <= k <= min(K, 32). Shapes and errors as nearest_code;
// also ShapeError for a bad k.
NearestCode nearest_code_topk(const Tensor& x, const Tensor& codes, int64_t k,
                              VqMetric metric = VqMetric::euclidean);

// Materialized similarities f32 [N, K] / [H, N, K] (the reference's logits, SPEC.md 1.1):
//   Euclidean:     -sqrt(max((|x|^2 + |c|^2) - 2 x.c, 1e-8))  (negated cdist)
//   inner product: x.c
// Shapes and errors as nearest_code.
Tensor code_similarity(const Tensor& x, const Tensor& codes,
                       VqMetric metric = VqMetric::euclidean);

struct CodeStats {
  Tensor counts;  // f32 [K] / [H, K]
  Tensor sums;    // f32 [K, D] / [H, K, D]
};

// Per-code counts and sums of the rows assigned to each code (EMA and k-means updates):
//   counts[h, k] = sum of w[h, n] over rows n with indices[h, n] == k and mask[h, n]
//   sums[h, k]   = sum of w[h, n] * x[h, n, :] over the same rows
// indices i64 [N] / [H, N]; x f32 [N, D] / [H, N, D] (a 2-D x is shared by all heads);
// weights f32 [N] / [H, N] (default 1); mask bool/u8 [N] / [H, N] (default all kept;
// [N] is shared by all heads). Deterministic on every device (fixed accumulation order).
// Indices of kept rows must lie in [0, num_codes): checked on CPU (throws vq::Error
// naming the first bad index); on CUDA such rows are skipped (no host synchronization).
// Throws ShapeError, DTypeError, DeviceError as above.
CodeStats code_stats(const Tensor& indices, const Tensor& x, int64_t num_codes,
                     const std::optional<Tensor>& weights = std::nullopt,
                     const std::optional<Tensor>& mask = std::nullopt);

// Rotation trick value (SPEC.md 1.10): x, q f32 [..., D] of the same shape; returns
// f32 [..., D] equal to q wherever x != 0 (0 where x == 0, the reference's quirk).
// Throws ShapeError (shapes differ, rank 0), DTypeError, DeviceError.
Tensor rotation_trick(const Tensor& x, const Tensor& q);

// Gradient of rotation_trick with respect to x (q gets none): grad_out, x, q f32 [..., D]
// of one shape; returns dx = s * (g - 2 (w.g) w + 2 (qh.g) u) per row (see
// kernels/cpu/rotation.h). Throws as rotation_trick.
Tensor rotation_trick_backward(const Tensor& grad_out, const Tensor& x, const Tensor& q);

}  // namespace vq::ops
