// Op code + dtype -> functor dispatch shared by the CPU and CUDA elementwise kernels:
// each dispatch_* calls run(fn) with the functor of elementwise_defs.h for the given
// op and dtype (its in_type / out_type name the element types), so the table of which
// dtypes each op supports exists once. Unsupported pairs throw DTypeError naming `what`.
// Host code only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "core/dtype.h"
#include "core/error.h"
#include "kernels/cpu/elementwise_defs.h"

namespace vq::cpu {

// Saturating double -> int64 for integer op parameters (NaN -> 0), free of the UB of a
// plain cast of an out-of-range value.
inline int64_t ew_param_i64(double v) {
  if (!(v == v)) return 0;
  if (v >= 9.2233720368547758e18) return INT64_MAX;
  if (v <= -9.2233720368547758e18) return INT64_MIN;
  return static_cast<int64_t>(v);
}

[[noreturn]] inline void ew_unsupported(const char* what, DType dtype, int op) {
  throw DTypeError(str_cat(what, ": op code ", op, " does not support dtype ", dtype_name(dtype)));
}

// f32: every op; i64: neg, abs, add_scalar, rsub_scalar, mul_scalar.
template <typename Run>
void dispatch_unary(const char* what, DType dtype, UnaryOp op, const EwParams& p, Run&& run) {
  using U = UnaryOp;
  if (dtype == DType::f32) {
    const float a = static_cast<float>(p.a), b = static_cast<float>(p.b);
    switch (op) {
      case U::neg: return run(UnaryFn<U::neg, float>{a, b});
      case U::abs: return run(UnaryFn<U::abs, float>{a, b});
      case U::sign: return run(UnaryFn<U::sign, float>{a, b});
      case U::exp: return run(UnaryFn<U::exp, float>{a, b});
      case U::log: return run(UnaryFn<U::log, float>{a, b});
      case U::sqrt: return run(UnaryFn<U::sqrt, float>{a, b});
      case U::rsqrt: return run(UnaryFn<U::rsqrt, float>{a, b});
      case U::tanh: return run(UnaryFn<U::tanh, float>{a, b});
      case U::sigmoid: return run(UnaryFn<U::sigmoid, float>{a, b});
      case U::relu: return run(UnaryFn<U::relu, float>{a, b});
      case U::gelu: return run(UnaryFn<U::gelu, float>{a, b});
      case U::gelu_tanh: return run(UnaryFn<U::gelu_tanh, float>{a, b});
      case U::silu: return run(UnaryFn<U::silu, float>{a, b});
      case U::softplus: return run(UnaryFn<U::softplus, float>{a, b});
      case U::round: return run(UnaryFn<U::round, float>{a, b});
      case U::floor: return run(UnaryFn<U::floor, float>{a, b});
      case U::clamp: return run(UnaryFn<U::clamp, float>{a, b});
      case U::add_scalar: return run(UnaryFn<U::add_scalar, float>{a, b});
      case U::rsub_scalar: return run(UnaryFn<U::rsub_scalar, float>{a, b});
      case U::mul_scalar: return run(UnaryFn<U::mul_scalar, float>{a, b});
      case U::div_scalar: return run(UnaryFn<U::div_scalar, float>{a, b});
      case U::pow_scalar: return run(UnaryFn<U::pow_scalar, float>{a, b});
      case U::square: return run(UnaryFn<U::square, float>{a, b});
      case U::cube: return run(UnaryFn<U::cube, float>{a, b});
      case U::reciprocal: return run(UnaryFn<U::reciprocal, float>{a, b});
      case U::inv_square: return run(UnaryFn<U::inv_square, float>{a, b});
    }
  } else if (dtype == DType::i64) {
    const int64_t a = ew_param_i64(p.a), b = ew_param_i64(p.b);
    switch (op) {
      case U::neg: return run(UnaryFn<U::neg, int64_t>{a, b});
      case U::abs: return run(UnaryFn<U::abs, int64_t>{a, b});
      case U::add_scalar: return run(UnaryFn<U::add_scalar, int64_t>{a, b});
      case U::rsub_scalar: return run(UnaryFn<U::rsub_scalar, int64_t>{a, b});
      case U::mul_scalar: return run(UnaryFn<U::mul_scalar, int64_t>{a, b});
      default: break;
    }
  }
  ew_unsupported(what, dtype, static_cast<int>(op));
}

// f32: every op; i64: add, sub, mul, maximum, minimum, add_scaled.
template <typename Run>
void dispatch_binary(const char* what, DType dtype, BinaryOp op, const EwParams& p, Run&& run) {
  using B = BinaryOp;
  if (dtype == DType::f32) {
    const float a = static_cast<float>(p.a);
    switch (op) {
      case B::add: return run(BinaryFn<B::add, float>{a});
      case B::sub: return run(BinaryFn<B::sub, float>{a});
      case B::mul: return run(BinaryFn<B::mul, float>{a});
      case B::div: return run(BinaryFn<B::div, float>{a});
      case B::pow: return run(BinaryFn<B::pow, float>{a});
      case B::maximum: return run(BinaryFn<B::maximum, float>{a});
      case B::minimum: return run(BinaryFn<B::minimum, float>{a});
      case B::add_scaled: return run(BinaryFn<B::add_scaled, float>{a});
      case B::lerp: return run(BinaryFn<B::lerp, float>{a});
      case B::gelu_backward: return run(BinaryFn<B::gelu_backward, float>{a});
    }
  } else if (dtype == DType::i64) {
    const int64_t a = ew_param_i64(p.a);
    switch (op) {
      case B::add: return run(BinaryFn<B::add, int64_t>{a});
      case B::sub: return run(BinaryFn<B::sub, int64_t>{a});
      case B::mul: return run(BinaryFn<B::mul, int64_t>{a});
      case B::maximum: return run(BinaryFn<B::maximum, int64_t>{a});
      case B::minimum: return run(BinaryFn<B::minimum, int64_t>{a});
      case B::add_scaled: return run(BinaryFn<B::add_scaled, int64_t>{a});
      default: break;
    }
  }
  ew_unsupported(what, dtype, static_cast<int>(op));
}

// Calls run(T{}) with a value of the element type of a numeric dtype (f32, f64, i64,
// i32, u8, bool); used by the comparison and logical dispatchers.
template <typename Run>
void dispatch_numeric(const char* what, DType dtype, int op, Run&& run) {
  switch (dtype) {
    case DType::f32: return run(float{});
    case DType::f64: return run(double{});
    case DType::i64: return run(int64_t{});
    case DType::i32: return run(int32_t{});
    case DType::u8:
    case DType::boolean: return run(uint8_t{});
    default: ew_unsupported(what, dtype, op);
  }
}

template <typename Run>
void dispatch_compare(const char* what, DType dtype, CmpOp op, Run&& run) {
  dispatch_numeric(what, dtype, static_cast<int>(op), [&](auto tag) {
    using T = decltype(tag);
    switch (op) {
      case CmpOp::eq: return run(CmpFn<CmpOp::eq, T>{});
      case CmpOp::ne: return run(CmpFn<CmpOp::ne, T>{});
      case CmpOp::lt: return run(CmpFn<CmpOp::lt, T>{});
      case CmpOp::le: return run(CmpFn<CmpOp::le, T>{});
      case CmpOp::gt: return run(CmpFn<CmpOp::gt, T>{});
      case CmpOp::ge: return run(CmpFn<CmpOp::ge, T>{});
    }
  });
}

// The scalar is compared in float for f32 tensors (PyTorch rounds it to the tensor's
// type) and in double for the others (a non-integral scalar against integers).
template <typename Run>
void dispatch_compare_scalar(const char* what, DType dtype, CmpOp op, double s, Run&& run) {
  dispatch_numeric(what, dtype, static_cast<int>(op), [&](auto tag) {
    using T = decltype(tag);
    using C = std::conditional_t<std::is_same_v<T, float>, float, double>;
    const C c = static_cast<C>(s);
    switch (op) {
      case CmpOp::eq: return run(CmpScalarFn<CmpOp::eq, T, C>{c});
      case CmpOp::ne: return run(CmpScalarFn<CmpOp::ne, T, C>{c});
      case CmpOp::lt: return run(CmpScalarFn<CmpOp::lt, T, C>{c});
      case CmpOp::le: return run(CmpScalarFn<CmpOp::le, T, C>{c});
      case CmpOp::gt: return run(CmpScalarFn<CmpOp::gt, T, C>{c});
      case CmpOp::ge: return run(CmpScalarFn<CmpOp::ge, T, C>{c});
    }
  });
}

template <typename Run>
void dispatch_logical(const char* what, DType dtype, LogicOp op, Run&& run) {
  dispatch_numeric(what, dtype, static_cast<int>(op), [&](auto tag) {
    using T = decltype(tag);
    if (op == LogicOp::logical_and) return run(LogicFn<LogicOp::logical_and, T>{});
    return run(LogicFn<LogicOp::logical_or, T>{});
  });
}

template <typename Run>
void dispatch_logical_not(const char* what, DType dtype, Run&& run) {
  dispatch_numeric(what, dtype, 0, [&](auto tag) { return run(LogicalNotFn<decltype(tag)>{}); });
}

// where moves raw elements: dispatch on the element size only.
template <typename Run>
void dispatch_where(const char* what, size_t elem_size, Run&& run) {
  switch (elem_size) {
    case 1: return run(WhereFn<uint8_t>{});
    case 2: return run(WhereFn<uint16_t>{});
    case 4: return run(WhereFn<uint32_t>{});
    case 8: return run(WhereFn<uint64_t>{});
    default: throw DTypeError(str_cat(what, ": unsupported element size ", elem_size));
  }
}

}  // namespace vq::cpu
