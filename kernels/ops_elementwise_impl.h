// Internal to kernels/ops_elementwise*.cpp: the validation and device dispatch that
// every elementwise op shares. An op is: check arguments, compute the broadcast
// shape, allocate the output, build the layout (kernels/cpu/elementwise_layout.h)
// and call one of the ew_* runners below with its op code.
#pragma once
#include <initializer_list>

#include "core/tensor.h"
#include "kernels/cpu/elementwise_defs.h"

namespace vq::ops::detail {

// Which dtypes an op accepts.
enum class EwDTypes {
  f32,      // float ops
  f32_i64,  // arithmetic that also serves index math
  numeric,  // comparisons and logical ops: f32, f64, i64, i32, u8, bool
};

// Defined on one device, one shared dtype, and that dtype in `allowed`; throws
// DeviceError / DTypeError naming op and every tensor.
void ew_check(const char* op, std::initializer_list<std::pair<const char*, const Tensor*>> ts,
              EwDTypes allowed);
// Broadcast shape of all tensors; ShapeError names op and every shape.
Shape ew_broadcast(const char* op, std::initializer_list<std::pair<const char*, const Tensor*>> ts);
// In-place destination checks: src broadcasts to dst's shape, dst has no stride-0
// (expanded) dim. ShapeError otherwise.
void ew_check_inplace(const char* op, const Tensor& dst, const Tensor* src);
// Scalar parameter of an integer op must be integral; DTypeError otherwise.
void ew_check_int_scalar(const char* op, const Tensor& t, double s);

// Runners: out is allocated (or the in-place destination) with the broadcast shape;
// inputs broadcast to it. Dispatch on out's device. No-ops when out is empty.
void ew_unary(const char* op, const Tensor& out, const Tensor& x, cpu::UnaryOp code,
              const cpu::EwParams& p = {});
void ew_binary(const char* op, const Tensor& out, const Tensor& a, const Tensor& b,
               cpu::BinaryOp code, const cpu::EwParams& p = {});
void ew_lerp(const char* op, const Tensor& out, const Tensor& a, const Tensor& b,
             const Tensor& w);
void ew_compare(const char* op, const Tensor& out, const Tensor& a, const Tensor& b,
                cpu::CmpOp code);
void ew_compare_scalar(const char* op, const Tensor& out, const Tensor& a, double s,
                       cpu::CmpOp code);
void ew_logical(const char* op, const Tensor& out, const Tensor& a, const Tensor& b,
                cpu::LogicOp code);
void ew_logical_not(const char* op, const Tensor& out, const Tensor& x);
void ew_where(const char* op, const Tensor& out, const Tensor& cond, const Tensor& a,
              const Tensor& b);

}  // namespace vq::ops::detail
