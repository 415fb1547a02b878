// In-place elementwise ops of kernels/ops.h (add_, mul_, lerp_, clamp_). dst may be
// any non-expanded view (contiguous or strided); src broadcasts to dst's shape. A src
// that shares memory with dst is copied first, so overlapping views are safe. Each op
// bumps dst's version counter (autograd detects saved tensors changed in place).
#include <limits>

#include "kernels/ops.h"
#include "kernels/ops_elementwise_impl.h"

namespace vq::ops {

namespace {

using cpu::BinaryOp;
using cpu::EwParams;
using cpu::UnaryOp;
using detail::EwDTypes;

void binary_(const char* op, Tensor& dst, const Tensor& src, BinaryOp code, EwDTypes dt,
             EwParams p = {}) {
  detail::ew_check(op, {{"dst", &dst}, {"src", &src}}, dt);
  detail::ew_check_inplace(op, dst, &src);
  const Tensor s = src.same_storage(dst) ? src.clone() : src;
  detail::ew_binary(op, dst, dst, s, code, p);
  dst.bump_version();
}

void unary_(const char* op, Tensor& dst, UnaryOp code, EwDTypes dt, EwParams p) {
  detail::ew_check(op, {{"dst", &dst}}, dt);
  detail::ew_check_inplace(op, dst, nullptr);
  detail::ew_unary(op, dst, dst, code, p);
  dst.bump_version();
}

}  // namespace

void add_(Tensor& dst, const Tensor& src, double alpha) {
  const char* op = "add_";
  detail::ew_check(op, {{"dst", &dst}, {"src", &src}}, EwDTypes::f32_i64);
  detail::ew_check_int_scalar(op, dst, alpha);
  if (alpha == 1.0) return binary_(op, dst, src, BinaryOp::add, EwDTypes::f32_i64);
  binary_(op, dst, src, BinaryOp::add_scaled, EwDTypes::f32_i64, {alpha, 0.0});
}

void mul_(Tensor& dst, double s) {
  const char* op = "mul_";
  detail::ew_check(op, {{"dst", &dst}}, EwDTypes::f32_i64);
  detail::ew_check_int_scalar(op, dst, s);
  unary_(op, dst, UnaryOp::mul_scalar, EwDTypes::f32_i64, {s, 0.0});
}

void mul_(Tensor& dst, const Tensor& src) {
  binary_("mul_", dst, src, BinaryOp::mul, EwDTypes::f32_i64);
}

void lerp_(Tensor& dst, const Tensor& src, double w) {
  binary_("lerp_", dst, src, BinaryOp::lerp, EwDTypes::f32, {w, 0.0});
}

void clamp_(Tensor& dst, std::optional<double> lo, std::optional<double> hi) {
  VQ_CHECK(ConfigError, lo.has_value() || hi.has_value(),
                     "clamp_: at least one of lo or hi must be given");
  constexpr double inf = std::numeric_limits<double>::infinity();
  unary_("clamp_", dst, UnaryOp::clamp, EwDTypes::f32, {lo.value_or(-inf), hi.value_or(inf)});
}

}  // namespace vq::ops
