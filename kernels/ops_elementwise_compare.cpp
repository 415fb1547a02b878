// Comparisons, logical ops and where of kernels/ops.h: broadcasting, any numeric
// dtype (the same for both sides), bool results.
#include "kernels/ops.h"
#include "kernels/ops_check.h"
#include "kernels/ops_elementwise_impl.h"

namespace vq::ops {

namespace {

using cpu::CmpOp;
using cpu::LogicOp;
using detail::EwDTypes;

Tensor compare(const char* op, const Tensor& a, const Tensor& b, CmpOp code) {
  detail::ew_check(op, {{"a", &a}, {"b", &b}}, EwDTypes::numeric);
  Shape s = detail::ew_broadcast(op, {{"a", &a}, {"b", &b}});
  Tensor out = Tensor::empty(s, DType::boolean, a.device());
  detail::ew_compare(op, out, a, b, code);
  return out;
}

Tensor compare(const char* op, const Tensor& a, double s, CmpOp code) {
  detail::ew_check(op, {{"a", &a}}, EwDTypes::numeric);
  Tensor out = Tensor::empty(a.shape(), DType::boolean, a.device());
  detail::ew_compare_scalar(op, out, a, s, code);
  return out;
}

Tensor logical(const char* op, const Tensor& a, const Tensor& b, LogicOp code) {
  detail::ew_check(op, {{"a", &a}, {"b", &b}}, EwDTypes::numeric);
  Shape s = detail::ew_broadcast(op, {{"a", &a}, {"b", &b}});
  Tensor out = Tensor::empty(s, DType::boolean, a.device());
  detail::ew_logical(op, out, a, b, code);
  return out;
}

}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare("eq", a, b, CmpOp::eq); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare("ne", a, b, CmpOp::ne); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare("lt", a, b, CmpOp::lt); }
Tensor le(const Tensor& a, const Tensor& b) { return compare("le", a, b, CmpOp::le); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare("gt", a, b, CmpOp::gt); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare("ge", a, b, CmpOp::ge); }
Tensor eq(const Tensor& a, double s) { return compare("eq", a, s, CmpOp::eq); }
Tensor ne(const Tensor& a, double s) { return compare("ne", a, s, CmpOp::ne); }
Tensor lt(const Tensor& a, double s) { return compare("lt", a, s, CmpOp::lt); }
Tensor le(const Tensor& a, double s) { return compare("le", a, s, CmpOp::le); }
Tensor gt(const Tensor& a, double s) { return compare("gt", a, s, CmpOp::gt); }
Tensor ge(const Tensor& a, double s) { return compare("ge", a, s, CmpOp::ge); }

Tensor logical_not(const Tensor& x) {
  const char* op = "logical_not";
  detail::ew_check(op, {{"x", &x}}, EwDTypes::numeric);
  Tensor out = Tensor::empty(x.shape(), DType::boolean, x.device());
  detail::ew_logical_not(op, out, x);
  return out;
}
Tensor logical_and(const Tensor& a, const Tensor& b) {
  return logical("logical_and", a, b, LogicOp::logical_and);
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return logical("logical_or", a, b, LogicOp::logical_or);
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  const char* op = "where";
  check(cond.defined(), op, ": cond is an undefined tensor");
  detail::ew_check(op, {{"a", &a}, {"b", &b}}, EwDTypes::numeric);
  VQ_CHECK(DeviceError, cond.device() == a.device(), op, ": tensors on different devices: ",
                     detail::describe({{"cond", &cond}, {"a", &a}, {"b", &b}}));
  VQ_CHECK(DTypeError, cond.dtype() == DType::boolean || cond.dtype() == DType::u8, op,
                    ": cond must be bool or u8, got ", cond.str());
  Shape s = detail::ew_broadcast(op, {{"cond", &cond}, {"a", &a}, {"b", &b}});
  Tensor out = Tensor::empty(s, a.dtype(), a.device());
  detail::ew_where(op, out, cond, a, b);
  return out;
}

}  // namespace vq::ops
