// Launchers of the CUDA fused optimizer updates and gradient-clipping helpers (plain
// C++ header). Same parameters and formulas as kernels/cpu/optim.h (one kernel per
// parameter tensor and step). Clipping never synchronizes with the host: the squared
// norms are accumulated into a device f64 scalar, and the clip coefficient is
// computed and applied on the device. Device pointers on `device`.
#pragma once
#include <cstdint>

#include "kernels/cpu/optim.h"

namespace vq::cuda {

void sgd_step(float* param, const float* grad, float* buf, int64_t n, const cpu::SgdParams& h,
              int device);
void adam_step(float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, int64_t n, const cpu::AdamParams& h, int device);

// Global-L2-norm clipping of `count` gradient tensors (device pointers grads[i] with
// sizes[i] elements; host arrays): total = sqrt(sum of all squares) (f64, fixed-order
// reduction per tensor, tensors in order), written to total_norm[0] (f32, device);
// then every gradient is multiplied by min(1, max_norm / (total + 1e-6)), computed and
// read on the device (no host synchronization).
void clip_grad_norm(float* total_norm, float* const* grads, const int64_t* sizes, int64_t count,
                    double max_norm, int device);

}  // namespace vq::cuda
