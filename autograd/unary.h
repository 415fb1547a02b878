// Differentiable unary elementwise functions and activations on Variables. Values
// come from kernels/ops.h (f32 in, f32 out, same shape and device; errors as there).
// sign, round and floor are piecewise constant: their gradient is zero everywhere
// (taken as zero at the jumps too), so the result requires grad but passes zeros.
#pragma once
#include <optional>

#include "autograd/variable.h"

namespace vq::ag {

Variable neg(const Variable& x);
Variable abs(const Variable& x);    // gradient sign(x), 0 at x == 0
Variable exp(const Variable& x);
Variable log(const Variable& x);
Variable sqrt(const Variable& x);
Variable rsqrt(const Variable& x);
Variable tanh(const Variable& x);
Variable sigmoid(const Variable& x);
Variable relu(const Variable& x);   // gradient [x > 0] (0 at x == 0)
Variable gelu(const Variable& x, bool tanh_approx = false);
Variable silu(const Variable& x);
// log(1 + exp(beta x)) / beta; identity where beta x > threshold (gradient 1 there).
Variable softplus(const Variable& x, double beta = 1.0, double threshold = 20.0);
// Gradient 1 where lo <= x <= hi (bounds included, like PyTorch), else 0.
Variable clamp(const Variable& x, std::optional<double> lo, std::optional<double> hi);
Variable sign(const Variable& x);   // zero gradient
Variable round(const Variable& x);  // zero gradient
Variable floor(const Variable& x);  // zero gradient

}  // namespace vq::ag
