// The decoder's "Upsample(x2, nearest) then Conv3x3(padding 1)" in one step that never
// builds the upsampled image: each of the four output pixel parities (row 2i+a, column
// 2j+b) sees a 2x2 window of the low-resolution input, with the 3x3 kernel's taps
// summed where they land on the same input pixel (a = 0: rows {i-1: w0, i: w1+w2};
// a = 1: rows {i: w0+w1, i+1: w2}; columns likewise). The four 2x2 kernels run as one
// convolution with 4x the output channels on the small image, then the parities are
// interleaved: 16/36 of the multiply-adds and an im2col 7x smaller than the upsample +
// 3x3 convolution it replaces. On the CPU the direct convolution kernels store the
// parities interleaved straight away (kernels/cpu/conv_direct.h, ConvOut::parity2x);
// elsewhere a strided view interleaves them. Gradients reach x, weight and bias through
// the autograd ops it is built from.
#pragma once
#include "autograd/variable.h"

namespace vq::app {

// x [B, C, H, W], weight [O, C, 3, 3], bias [O] or undefined (f32, one device) ->
// [B, O, 2H, 2W], equal (up to float rounding) to
// nn::conv2d(nn::upsample_nearest2d(x, {2, 2}), weight, bias, {1, 1}, {1, 1}).
// Throws ShapeError for other ranks or a weight that is not [O, C, 3, 3].
Variable upsample2x_conv3x3(const Variable& x, const Variable& weight, const Variable& bias);

}  // namespace vq::app
