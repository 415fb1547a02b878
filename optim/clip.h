// Gradient clipping by the global L2 norm (torch.nn.utils.clip_grad_norm_).
#pragma once
#include <vector>

#include "autograd/variable.h"
#include "core/tensor.h"

namespace vq::optim {

// Computes the L2 norm of all gradients of `params` taken together (parameters
// without a gradient are ignored), then scales every gradient in place by
// min(1, max_norm / (total_norm + 1e-6)). Returns total_norm (before clipping) as an
// f32 rank-0 tensor on the gradients' device; on CUDA nothing synchronizes with the
// host (the coefficient is computed and applied on the device). With no gradients
// at all it returns 0 on the CPU. Sums run in f64 in a fixed order.
// Throws ConfigError for norm_type != 2 or max_norm < 0, DeviceError when the
// gradients are on different devices, and Error when error_if_nonfinite and the
// norm is NaN or infinite (this check reads the norm back from the device).
Tensor clip_grad_norm_(const std::vector<Variable>& params, double max_norm,
                       double norm_type = 2.0, bool error_if_nonfinite = false);

}  // namespace vq::optim
