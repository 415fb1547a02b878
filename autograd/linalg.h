// Differentiable matrix products on Variables. Shapes, dtype (f32), devices and
// errors follow kernels/ops.h; gradients of broadcast batch dims are summed back.
#pragma once
#include "autograd/variable.h"

namespace vq::ag {

// a: [M, K] or [B, M, K]; b: [K, N] or [B, K, N] (batch dims broadcast) -> [.., M, N].
Variable matmul(const Variable& a, const Variable& b);
// a [B, M, K], b [B, K, N] -> [B, M, N], with op(a) = a^T when trans_a (likewise b).
Variable bmm(const Variable& a, const Variable& b, bool trans_a = false, bool trans_b = false);

}  // namespace vq::ag
