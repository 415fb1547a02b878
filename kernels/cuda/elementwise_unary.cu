// CUDA unary elementwise kernels and lerp (twins of kernels/cpu/elementwise.cpp): the
// shared dispatcher picks the functor, ew_detail launches it.
#include "kernels/cpu/elementwise_dispatch.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/elementwise_kernels.cuh"

namespace vq::cuda {

void unary_forward(void* out, const void* x, const EwLayout& l, DType dtype, UnaryOp op,
                   const EwParams& p, int device) {
  cpu::dispatch_unary("cuda::unary_forward", dtype, op, p,
                      [&](auto f) { ew_detail::launch_unary(l, out, x, f, device); });
}

void lerp_forward(float* out, const float* a, const float* b, const float* w, const EwLayout& l,
                  int device) {
  ew_detail::launch_ternary(l, out, a, b, w, cpu::LerpFn{}, device);
}

}  // namespace vq::cuda
