// Launchers of the CUDA rotation-trick kernels (plain C++ header). Same formulas as
// kernels/cpu/rotation.h; one warp per row, three register/L1-resident sweeps per row.
// Device pointers on `device`, queued on vq::cuda::stream(device).
#pragma once
#include <cstdint>

namespace vq::cuda {

void rotation_trick_forward(float* out, const float* x, const float* q, int64_t N, int64_t D,
                            int device);
void rotation_trick_backward(float* dx, const float* g, const float* x, const float* q,
                             int64_t N, int64_t D, int device);

}  // namespace vq::cuda
