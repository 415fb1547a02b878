// Raw CPU kernels for the rotation trick (Fifty et al. 2024, arXiv 2410.06424; SPEC.md
// 1.10): forward and backward, two sweeps over each row (one reduction, one write; the row
// stays in L1 between them). x, q, out, g, dx: [N, D] f32 contiguous.
#pragma once
#include <cstdint>

namespace vq::cpu {

// Per row (eps = 1e-6, every max() is the reference's clamp):
//   mx = max(|x|, eps), mq = max(|q|, eps), u = x / mx, qh = q / mq,
//   w = (u + qh) / max(|u + qh|, eps), s = |q| / mx,
//   out = s * (x - 2 (x.w) w + 2 (x.u) qh)
// which equals q when x != 0, and 0 when x == 0 (the reference's quirk).
void rotation_trick_forward(float* out, const float* x, const float* q, int64_t N, int64_t D);

// Gradient of the rotation trick's surrogate: u, qh, w and s are constants (detached in
// the reference), so out = s R x with R = I - 2 w w^T + 2 qh u^T and
//   dx = s R^T g = s * (g - 2 (w.g) w + 2 (qh.g) u).
// No gradient reaches q.
void rotation_trick_backward(float* dx, const float* g, const float* x, const float* q,
                             int64_t N, int64_t D);

}  // namespace vq::cpu
