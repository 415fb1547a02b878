// Launchers of the CUDA max pooling and nearest upsampling kernels (plain C++ header).
// Same arguments and results as kernels/cpu/nn_pool.h; the backward kernels gather
// (one thread per input pixel, windows visited in output order), so the sums are
// deterministic and bitwise equal to the CPU's. Device pointers on `device`.
#pragma once
#include <cstdint>

namespace vq::cuda {

void max_pool2d_forward(float* y, int64_t* idx, const float* x, int64_t planes, int64_t H,
                        int64_t W, int64_t Ho, int64_t Wo, int64_t KH, int64_t KW, int64_t SH,
                        int64_t SW, int64_t PH, int64_t PW, int device);
void max_pool2d_backward(float* dx, const float* dy, const int64_t* idx, int64_t planes,
                         int64_t H, int64_t W, int64_t Ho, int64_t Wo, int64_t KH, int64_t KW,
                         int64_t SH, int64_t SW, int64_t PH, int64_t PW, int device);
void upsample_nearest2d_forward(float* y, const float* x, int64_t planes, int64_t H, int64_t W,
                                int64_t sh, int64_t sw, int device);
void upsample_nearest2d_backward(float* dx, const float* dy, int64_t planes, int64_t H,
                                 int64_t W, int64_t sh, int64_t sw, int device);

}  // namespace vq::cuda
