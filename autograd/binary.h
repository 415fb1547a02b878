// Differentiable binary elementwise functions on Variables (broadcasting, numpy
// rules), their scalar forms, and the operators + - * / for Variables and doubles.
// Values come from kernels/ops.h (same shapes, dtype f32, device rules and errors:
// ShapeError when shapes do not broadcast, DeviceError/DTypeError on mismatches).
// Gradients of broadcast inputs are summed back to the input's shape.
#pragma once
#include "autograd/variable.h"

namespace vq::ag {

Variable add(const Variable& a, const Variable& b);
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);
Variable div(const Variable& a, const Variable& b);
// a ** b elementwise. d/db = a**b * log(a), taken as 0 where a == 0 (like PyTorch).
Variable pow(const Variable& a, const Variable& b);
// Elementwise max/min; on ties the gradient is split evenly between a and b.
Variable maximum(const Variable& a, const Variable& b);
Variable minimum(const Variable& a, const Variable& b);

Variable add(const Variable& a, double s);
Variable sub(const Variable& a, double s);   // a - s
Variable rsub(const Variable& a, double s);  // s - a
Variable mul(const Variable& a, double s);
Variable div(const Variable& a, double s);   // a / s
Variable rdiv(const Variable& a, double s);  // s / a
Variable pow(const Variable& a, double exponent);

// a + w * (b - a); w scalar or a broadcasting Variable (gradient w.r.t. w too).
Variable lerp(const Variable& a, const Variable& b, double w);
Variable lerp(const Variable& a, const Variable& b, const Variable& w);
// cond ? a : b with cond a bool/u8 Tensor (no gradient); all three broadcast.
Variable where(const Tensor& cond, const Variable& a, const Variable& b);

}  // namespace vq::ag

namespace vq {

Variable operator+(const Variable& a, const Variable& b);
Variable operator-(const Variable& a, const Variable& b);
Variable operator*(const Variable& a, const Variable& b);
Variable operator/(const Variable& a, const Variable& b);
Variable operator-(const Variable& a);
Variable operator+(const Variable& a, double s);
Variable operator+(double s, const Variable& a);
Variable operator-(const Variable& a, double s);
Variable operator-(double s, const Variable& a);
Variable operator*(const Variable& a, double s);
Variable operator*(double s, const Variable& a);
Variable operator/(const Variable& a, double s);
Variable operator/(double s, const Variable& a);

}  // namespace vq
