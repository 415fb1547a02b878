// Differentiable layer functions on Variables (the torch.nn.functional of vqcpp):
// linear, conv2d, max_pool2d, upsample_nearest2d, layer_norm, group_norm, dropout.
// Each validates its arguments, computes the value with the fused raw kernels
// (kernels/cpu/{conv,nn_pool,nn_norm}.h and their CUDA twins; linear through
// ops::gemm) on the inputs' device, and records ONE autograd node whose backward
// calls the matching raw backward kernel (no chains of small ops).
//
// Common rules: every tensor is f32 and all are on one device (DTypeError /
// DeviceError otherwise, naming the function, every argument and its shape); an
// undefined Variable for an optional parameter (bias, weight) means "absent"; the
// input may be non-contiguous (it is made contiguous); the result is contiguous.
// Gradients flow to every argument that requires grad.
#pragma once
#include <array>
#include <cstdint>

#include "autograd/variable.h"
#include "core/generator.h"

namespace vq::nn {

// y = x W^T + b.  x [..., in] (rank >= 1), weight [out, in], bias [out] or undefined
// -> y [..., out]. Throws ShapeError when x's last dim != in or bias is not [out].
Variable linear(const Variable& x, const Variable& weight, const Variable& bias = Variable());

// 2-D cross-correlation (torch.nn.functional.conv2d, dilation 1, groups 1).
// x [B, C, H, W], weight [O, C, KH, KW], bias [O] or undefined; stride >= 1,
// padding >= 0 (zeros) as {height, width} -> y [B, O, Ho, Wo],
// Ho = (H + 2 padding[0] - KH) / stride[0] + 1 (likewise Wo).
// Throws ShapeError for wrong ranks, a channel mismatch, a bad bias, stride < 1,
// padding < 0, or a kernel larger than the padded input.
Variable conv2d(const Variable& x, const Variable& weight, const Variable& bias,
                std::array<int64_t, 2> stride = {1, 1}, std::array<int64_t, 2> padding = {0, 0});

// Max pooling (torch.nn.functional.max_pool2d, dilation 1, floor mode): x [B, C, H, W]
// or [C, H, W]; kernel >= 1, stride >= 1, 0 <= padding <= kernel / 2 (padding is
// -inf). -> [.., C, Ho, Wo], Ho = (H + 2 padding[0] - kernel[0]) / stride[0] + 1.
// The gradient goes to the first maximum of each window (summed where windows overlap).
// Throws ShapeError for a bad rank, bad window parameters or an empty output.
Variable max_pool2d(const Variable& x, std::array<int64_t, 2> kernel,
                    std::array<int64_t, 2> stride, std::array<int64_t, 2> padding = {0, 0});

// Nearest-neighbour upsampling by integer factors (torch.nn.Upsample(mode='nearest')):
// x [B, C, H, W] or [C, H, W] -> [.., C, H scale[0], W scale[1]]. Throws ShapeError for
// a bad rank and ConfigError for a scale < 1.
Variable upsample_nearest2d(const Variable& x, std::array<int64_t, 2> scale);

// LayerNorm over the trailing dims `normalized_shape` (torch.nn.functional.layer_norm):
// x [..., *normalized_shape]; weight / bias of shape normalized_shape or undefined;
// biased variance, eps added inside the sqrt. -> same shape as x.
// Throws ShapeError when x's trailing dims differ from normalized_shape or a parameter
// has another shape.
Variable layer_norm(const Variable& x, const Shape& normalized_shape,
                    const Variable& weight = Variable(), const Variable& bias = Variable(),
                    double eps = 1e-5);

// GroupNorm (torch.nn.functional.group_norm): x [B, C, *] (rank >= 2), C divisible
// by num_groups; weight / bias [C] or undefined. -> same shape as x.
// Throws ShapeError (rank, divisibility, parameter shapes) or ConfigError
// (num_groups < 1).
Variable group_norm(const Variable& x, int64_t num_groups, const Variable& weight = Variable(),
                    const Variable& bias = Variable(), double eps = 1e-5);

// Inverted dropout: in training, each element is zeroed with probability p and the
// rest scaled by 1 / (1 - p); the keep mask comes from `gen` (Philox: the same mask on
// CPU and CUDA for the same generator state). Not training, or p == 0: returns x
// itself. p == 1 gives zeros. Throws ConfigError unless 0 <= p <= 1.
Variable dropout(const Variable& x, double p, bool training, Generator& gen);

}  // namespace vq::nn
