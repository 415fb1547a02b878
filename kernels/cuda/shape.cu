// CUDA row copies for cat / stack (declared in kernels/cuda/shape.h): one 2-D memcpy
// per input instead of an element-wise strided kernel.
#include <cuda_runtime.h>

#include "core/cuda/context.h"
#include "kernels/cuda/shape.h"

namespace vq::cuda {

void copy_rows(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
               size_t height, int device) {
  if (width == 0 || height == 0) return;
  cudaStream_t s = stream(device);
  if (height == 1 || (dpitch == width && spitch == width)) {
    check(cudaMemcpyAsync(dst, src, width * height, cudaMemcpyDeviceToDevice, s),
          "copy_rows: cudaMemcpyAsync");
    return;
  }
  constexpr size_t kMaxPitch = (size_t(1) << 31) - 1;  // cudaMemcpy2D's pitch limit
  if (dpitch <= kMaxPitch && spitch <= kMaxPitch) {
    check(cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, height, cudaMemcpyDeviceToDevice, s),
          "copy_rows: cudaMemcpy2DAsync");
    return;
  }
  for (size_t r = 0; r < height; ++r)
    check(cudaMemcpyAsync(static_cast<char*>(dst) + r * dpitch,
                          static_cast<const char*>(src) + r * spitch, width,
                          cudaMemcpyDeviceToDevice, s),
          "copy_rows: cudaMemcpyAsync");
}

}  // namespace vq::cuda
