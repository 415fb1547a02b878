// Building blocks shared by every quantizer (SPEC.md section 1): l2 normalization,
// the straight-through estimator, the rotation trick (fused kernels), directional
// reparameterization, gradient scaling, the reference's clamped entropy, its
// Euclidean similarity ("negated cdist") and cross-entropy with ignored targets.
// All take and return Variables and are differentiable unless stated.
#pragma once
#include <cstdint>

#include "autograd/functions.h"

namespace vq::qf {

// F.normalize(x, dim=-1, eps): x / max(|x|, eps) over the last axis. The gradient is
// (g - y (y.g)) / |x| where |x| > eps, and g / eps elsewhere (zero vectors included).
Variable l2norm(const Variable& x, double eps = 1e-6);
Tensor l2norm(const Tensor& x, double eps = 1e-6);

// Straight-through: value x + (q - x) computed literally in f32 (as the reference
// does), gradient identity to x and none to q.
Variable straight_through(const Variable& x, const Tensor& q);

// Rotation trick (SPEC 1.10, https://arxiv.org/abs/2410.06424): value ~= q, gradient
// to x is s R^T g; q gets none. One fused pass forward and one backward.
Variable rotate_to(const Variable& x, const Tensor& q);

// q + v * (q - sg(q)): same value, gradient through q scaled by (1 + v) (vqtorch eq. 21).
Variable scale_gradient(const Variable& q, double v);

// DiVeQ (SPEC 1.11): x + sg(dir) * |q - x| with dir = normalize(q - x + sqrt(var) n).
Variable directional_reparam(const Variable& x, const Variable& q, double variance, Generator& gen);

// Similarity logits of the reference: Euclidean -sqrt(max(|x|^2 + |c|^2 - 2 x.c, 1e-8)),
// cosine x.c. x [H, N, d], codes [H, K, d] (H broadcasts from 1) -> [H, N, K].
Variable similarity(const Variable& x, const Variable& codes, bool cosine);

// -sum p log(max(p, eps)) over the last axis.
Variable entropy(const Variable& p, double eps = 1e-5);

// Mean softmax cross-entropy of logits [M, K] against i64 targets [M]; targets equal
// to -1 are ignored (mean over the rest; 0 when none remain).
Variable cross_entropy(const Variable& logits, const Tensor& targets);

}  // namespace vq::qf
