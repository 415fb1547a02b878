// CUDA binary elementwise kernels (twins of kernels/cpu/elementwise.cpp).
#include "kernels/cpu/elementwise_dispatch.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/elementwise_kernels.cuh"

namespace vq::cuda {

void binary_forward(void* out, const void* a, const void* b, const EwLayout& l, DType dtype,
                    BinaryOp op, const EwParams& p, int device) {
  cpu::dispatch_binary("cuda::binary_forward", dtype, op, p,
                       [&](auto f) { ew_detail::launch_binary(l, out, a, b, f, device); });
}

}  // namespace vq::cuda
