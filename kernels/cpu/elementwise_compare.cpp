// CPU elementwise kernels with bool/u8 sides: comparisons (tensor and scalar), logical
// and/or/not, where. Same scheme as elementwise.cpp: dispatch to a functor, run the loops.
#include "kernels/cpu/elementwise.h"

#include "kernels/cpu/elementwise_dispatch.h"
#include "kernels/cpu/elementwise_loop.h"

namespace vq::cpu {

using ew_loop::run_binary;
using ew_loop::run_ternary;
using ew_loop::run_unary;

void compare_forward(uint8_t* out, const void* a, const void* b, const EwLayout& l, DType dtype,
                     CmpOp op) {
  dispatch_compare("cpu::compare_forward", dtype, op, [&](auto f) {
    using T = typename decltype(f)::in_type;
    run_binary(l, out, static_cast<const T*>(a), static_cast<const T*>(b), f);
  });
}

void compare_scalar_forward(uint8_t* out, const void* a, double s, const EwLayout& l,
                            DType dtype, CmpOp op) {
  dispatch_compare_scalar("cpu::compare_scalar_forward", dtype, op, s, [&](auto f) {
    using T = typename decltype(f)::in_type;
    run_unary(l, out, static_cast<const T*>(a), f);
  });
}

void logical_forward(uint8_t* out, const void* a, const void* b, const EwLayout& l, DType dtype,
                     LogicOp op) {
  dispatch_logical("cpu::logical_forward", dtype, op, [&](auto f) {
    using T = typename decltype(f)::in_type;
    run_binary(l, out, static_cast<const T*>(a), static_cast<const T*>(b), f);
  });
}

void logical_not_forward(uint8_t* out, const void* x, const EwLayout& l, DType dtype) {
  dispatch_logical_not("cpu::logical_not_forward", dtype, [&](auto f) {
    using T = typename decltype(f)::in_type;
    run_unary(l, out, static_cast<const T*>(x), f);
  });
}

void where_forward(void* out, const uint8_t* cond, const void* a, const void* b,
                   const EwLayout& l, size_t elem_size) {
  dispatch_where("cpu::where_forward", elem_size, [&](auto f) {
    using T = typename decltype(f)::in_type;
    run_ternary(l, static_cast<T*>(out), cond, static_cast<const T*>(a), static_cast<const T*>(b),
                f);
  });
}

}  // namespace vq::cpu
