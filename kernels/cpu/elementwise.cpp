// CPU elementwise kernels: the op code + dtype picks a functor (elementwise_dispatch.h),
// the loops of elementwise_loop.h run it over the broadcast layout. Exception: gelu
// (erf form) and its backward on contiguous f32 run the vectorized kernels of
// gelu_simd.h (within 0.6 ulp of the exact values); other layouts use the formulas.
#include "kernels/cpu/elementwise.h"

#include "kernels/cpu/elementwise_dispatch.h"
#include "kernels/cpu/elementwise_loop.h"
#include "kernels/cpu/gelu_simd.h"

namespace vq::cpu {

using ew_loop::run_binary;
using ew_loop::run_ternary;
using ew_loop::run_unary;

void unary_forward(void* out, const void* x, const EwLayout& l, DType dtype, UnaryOp op,
                   const EwParams& p) {
  if (op == UnaryOp::gelu && dtype == DType::f32 && l.contiguous())  // vectorized erf
    return gelu_forward_f32(static_cast<float*>(out), static_cast<const float*>(x), l.numel);
  dispatch_unary("cpu::unary_forward", dtype, op, p, [&](auto f) {
    using F = decltype(f);
    run_unary(l, static_cast<typename F::out_type*>(out),
              static_cast<const typename F::in_type*>(x), f);
  });
}

void binary_forward(void* out, const void* a, const void* b, const EwLayout& l, DType dtype,
                    BinaryOp op, const EwParams& p) {
  if (op == BinaryOp::gelu_backward && dtype == DType::f32 && l.contiguous())
    return gelu_backward_f32(static_cast<float*>(out), static_cast<const float*>(a),
                             static_cast<const float*>(b), l.numel);
  dispatch_binary("cpu::binary_forward", dtype, op, p, [&](auto f) {
    using F = decltype(f);
    using T = typename F::in_type;
    run_binary(l, static_cast<typename F::out_type*>(out), static_cast<const T*>(a),
               static_cast<const T*>(b), f);
  });
}

void lerp_forward(float* out, const float* a, const float* b, const float* w, const EwLayout& l) {
  run_ternary(l, out, a, b, w, LerpFn{});
}

}  // namespace vq::cpu
