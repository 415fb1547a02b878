// CUDA comparisons, logical ops and where (twins of kernels/cpu/elementwise_compare.cpp).
#include "kernels/cpu/elementwise_dispatch.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/elementwise_kernels.cuh"

namespace vq::cuda {

void compare_forward(uint8_t* out, const void* a, const void* b, const EwLayout& l, DType dtype,
                     CmpOp op, int device) {
  cpu::dispatch_compare("cuda::compare_forward", dtype, op,
                        [&](auto f) { ew_detail::launch_binary(l, out, a, b, f, device); });
}

void compare_scalar_forward(uint8_t* out, const void* a, double s, const EwLayout& l,
                            DType dtype, CmpOp op, int device) {
  cpu::dispatch_compare_scalar("cuda::compare_scalar_forward", dtype, op, s,
                               [&](auto f) { ew_detail::launch_unary(l, out, a, f, device); });
}

void logical_forward(uint8_t* out, const void* a, const void* b, const EwLayout& l, DType dtype,
                     LogicOp op, int device) {
  cpu::dispatch_logical("cuda::logical_forward", dtype, op,
                        [&](auto f) { ew_detail::launch_binary(l, out, a, b, f, device); });
}

void logical_not_forward(uint8_t* out, const void* x, const EwLayout& l, DType dtype,
                         int device) {
  cpu::dispatch_logical_not("cuda::logical_not_forward", dtype,
                            [&](auto f) { ew_detail::launch_unary(l, out, x, f, device); });
}

void where_forward(void* out, const uint8_t* cond, const void* a, const void* b,
                   const EwLayout& l, size_t elem_size, int device) {
  cpu::dispatch_where("cuda::where_forward", elem_size, [&](auto f) {
    using T = typename decltype(f)::in_type;
    ew_detail::launch_ternary(l, static_cast<T*>(out), cond, static_cast<const T*>(a),
                              static_cast<const T*>(b), f, device);
  });
}

}  // namespace vq::cuda
