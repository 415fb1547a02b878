// Elementwise arithmetic and activations of kernels/ops.h: binary ops with
// broadcasting, tensor-scalar ops and unary ops. Each op validates, allocates and
// hands an op code to the shared runners of kernels/ops_elementwise_impl.h.
#include <limits>

#include "kernels/ops.h"
#include "kernels/ops_elementwise_impl.h"

namespace vq::ops {

namespace {

using cpu::BinaryOp;
using cpu::EwParams;
using cpu::UnaryOp;
using detail::EwDTypes;

Tensor binary(const char* op, const Tensor& a, const Tensor& b, BinaryOp code, EwDTypes dt,
              EwParams p = {}) {
  detail::ew_check(op, {{"a", &a}, {"b", &b}}, dt);
  Shape s = detail::ew_broadcast(op, {{"a", &a}, {"b", &b}});
  Tensor out = Tensor::empty(s, a.dtype(), a.device());
  detail::ew_binary(op, out, a, b, code, p);
  return out;
}

Tensor unary(const char* op, const Tensor& x, UnaryOp code, EwDTypes dt, EwParams p = {}) {
  detail::ew_check(op, {{"x", &x}}, dt);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  detail::ew_unary(op, out, x, code, p);
  return out;
}

// Tensor-scalar op; integer tensors need an integral scalar.
Tensor scalar_op(const char* op, const Tensor& a, double s, UnaryOp code, EwDTypes dt) {
  detail::ew_check(op, {{"a", &a}}, dt);
  detail::ew_check_int_scalar(op, a, s);
  return unary(op, a, code, dt, {s, 0.0});
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return binary("add", a, b, BinaryOp::add, EwDTypes::f32_i64);
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary("sub", a, b, BinaryOp::sub, EwDTypes::f32_i64);
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary("mul", a, b, BinaryOp::mul, EwDTypes::f32_i64);
}
Tensor div(const Tensor& a, const Tensor& b) {
  return binary("div", a, b, BinaryOp::div, EwDTypes::f32);
}
Tensor pow(const Tensor& a, const Tensor& b) {
  return binary("pow", a, b, BinaryOp::pow, EwDTypes::f32);
}
Tensor maximum(const Tensor& a, const Tensor& b) {
  return binary("maximum", a, b, BinaryOp::maximum, EwDTypes::f32_i64);
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return binary("minimum", a, b, BinaryOp::minimum, EwDTypes::f32_i64);
}

Tensor add(const Tensor& a, double s) {
  return scalar_op("add", a, s, UnaryOp::add_scalar, EwDTypes::f32_i64);
}
// a - s == a + (-s) exactly in IEEE arithmetic (and in two's complement).
Tensor sub(const Tensor& a, double s) {
  return scalar_op("sub", a, -s, UnaryOp::add_scalar, EwDTypes::f32_i64);
}
Tensor rsub(const Tensor& a, double s) {
  return scalar_op("rsub", a, s, UnaryOp::rsub_scalar, EwDTypes::f32_i64);
}
Tensor mul(const Tensor& a, double s) {
  return scalar_op("mul", a, s, UnaryOp::mul_scalar, EwDTypes::f32_i64);
}
Tensor div(const Tensor& a, double s) {
  return scalar_op("div", a, s, UnaryOp::div_scalar, EwDTypes::f32);
}
// Exponents 2, 3, -1, -2, 0.5, -0.5 use exact products / sqrt, like PyTorch.
Tensor pow(const Tensor& a, double e) {
  const char* op = "pow";
  if (e == 2.0) return unary(op, a, UnaryOp::square, EwDTypes::f32);
  if (e == 3.0) return unary(op, a, UnaryOp::cube, EwDTypes::f32);
  if (e == -1.0) return unary(op, a, UnaryOp::reciprocal, EwDTypes::f32);
  if (e == -2.0) return unary(op, a, UnaryOp::inv_square, EwDTypes::f32);
  if (e == 0.5) return unary(op, a, UnaryOp::sqrt, EwDTypes::f32);
  if (e == -0.5) return unary(op, a, UnaryOp::rsqrt, EwDTypes::f32);
  return unary(op, a, UnaryOp::pow_scalar, EwDTypes::f32, {e, 0.0});
}

Tensor neg(const Tensor& x) { return unary("neg", x, UnaryOp::neg, EwDTypes::f32_i64); }
Tensor abs(const Tensor& x) { return unary("abs", x, UnaryOp::abs, EwDTypes::f32_i64); }
Tensor sign(const Tensor& x) { return unary("sign", x, UnaryOp::sign, EwDTypes::f32); }
Tensor exp(const Tensor& x) { return unary("exp", x, UnaryOp::exp, EwDTypes::f32); }
Tensor log(const Tensor& x) { return unary("log", x, UnaryOp::log, EwDTypes::f32); }
Tensor sqrt(const Tensor& x) { return unary("sqrt", x, UnaryOp::sqrt, EwDTypes::f32); }
Tensor rsqrt(const Tensor& x) { return unary("rsqrt", x, UnaryOp::rsqrt, EwDTypes::f32); }
Tensor tanh(const Tensor& x) { return unary("tanh", x, UnaryOp::tanh, EwDTypes::f32); }
Tensor sigmoid(const Tensor& x) { return unary("sigmoid", x, UnaryOp::sigmoid, EwDTypes::f32); }
Tensor relu(const Tensor& x) { return unary("relu", x, UnaryOp::relu, EwDTypes::f32); }
Tensor gelu(const Tensor& x, bool tanh_approx) {
  return unary("gelu", x, tanh_approx ? UnaryOp::gelu_tanh : UnaryOp::gelu, EwDTypes::f32);
}
Tensor gelu_backward(const Tensor& grad, const Tensor& x) {
  return binary("gelu_backward", grad, x, BinaryOp::gelu_backward, EwDTypes::f32);
}
Tensor silu(const Tensor& x) { return unary("silu", x, UnaryOp::silu, EwDTypes::f32); }
Tensor softplus(const Tensor& x, double beta, double threshold) {
  VQ_CHECK(ConfigError, beta != 0.0, "softplus: beta must be nonzero, got ", beta);
  return unary("softplus", x, UnaryOp::softplus, EwDTypes::f32, {beta, threshold});
}
Tensor round(const Tensor& x) { return unary("round", x, UnaryOp::round, EwDTypes::f32); }
Tensor floor(const Tensor& x) { return unary("floor", x, UnaryOp::floor, EwDTypes::f32); }

Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  VQ_CHECK(ConfigError, lo.has_value() || hi.has_value(),
                     "clamp: at least one of lo or hi must be given");
  constexpr double inf = std::numeric_limits<double>::infinity();
  return unary("clamp", x, UnaryOp::clamp, EwDTypes::f32, {lo.value_or(-inf), hi.value_or(inf)});
}

Tensor lerp(const Tensor& a, const Tensor& b, double w) {
  return binary("lerp", a, b, BinaryOp::lerp, EwDTypes::f32, {w, 0.0});
}

Tensor lerp(const Tensor& a, const Tensor& b, const Tensor& w) {
  const char* op = "lerp";
  detail::ew_check(op, {{"a", &a}, {"b", &b}, {"w", &w}}, EwDTypes::f32);
  Shape s = detail::ew_broadcast(op, {{"a", &a}, {"b", &b}, {"w", &w}});
  Tensor out = Tensor::empty(s, DType::f32, a.device());
  detail::ew_lerp(op, out, a, b, w);
  return out;
}

}  // namespace vq::ops
