// Launchers of the CUDA 2-D convolution (plain C++ header, no CUDA types): im2col
// kernels + cuBLAS strided-batched GEMM per image (one call per chunk of images), and
// the backward with col2im as a gather (each input pixel sums its taps in a fixed
// order, no atomics) and dW summed over images in order. Same geometry and formulas
// as kernels/cpu/conv.h. Device pointers on `device`, queued on
// vq::cuda::stream(device); scratch comes from the caching allocator.
#pragma once
#include <cstdint>

#include "kernels/cpu/conv.h"

namespace vq::cuda {

using cpu::Conv2dGeometry;

// Images are processed in chunks whose scratch (im2col matrices, per-image dW) stays
// below max_work_floats floats (0 = the default, 2^26 = 256 MiB); tests pass a small
// value to exercise the chunked path.

// y [B, O, Ho, Wo] = conv2d(x, w) + bias (bias may be null).
void conv2d_forward(float* y, const float* x, const float* w, const float* bias,
                    const Conv2dGeometry& g, int device, int64_t max_work_floats = 0);

// dx, dw, dbias overwritten (each may be null); x only needed for dw, w for dx.
void conv2d_backward(float* dx, float* dw, float* dbias, const float* dy, const float* x,
                     const float* w, const Conv2dGeometry& g, int device,
                     int64_t max_work_floats = 0);

}  // namespace vq::cuda
