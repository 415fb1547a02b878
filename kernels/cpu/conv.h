// Raw CPU kernels of 2-D convolution (NCHW, cross-correlation like torch.nn.Conv2d,
// zero padding, no dilation, no groups) as im2col + GEMM through OpenBLAS, and its
// backward. Pointers + sizes only; nn/functional_conv.cpp has the Tensor API.
// Conv2dGeometry is shared with the CUDA twin (kernels/cuda/conv.h).
//
// Shapes (all f32, contiguous row-major):
//   x [B, C, H, W], w [O, C, KH, KW], bias [O], y [B, O, Ho, Wo]
//   Ho = (H + 2 PH - KH) / SH + 1, Wo = (W + 2 PW - KW) / SW + 1
//   y[b, o, i, j] = bias[o] + sum_{c, u, v} w[o, c, u, v] x[b, c, i SH - PH + u, j SW - PW + v]
// (x outside the image reads as 0). With col_b [C KH KW, Ho Wo] the im2col matrix of
// image b, y_b = W col_b (W as [O, C KH KW]) and the backward is
//   dW = sum_b dy_b col_b^T,  dbias[o] = sum_{b, p} dy[b, o, p],  dx_b = col2im(W^T dy_b).
//
// Determinism: dW and dbias are summed in a fixed order that does not depend on the
// number of threads (per-group partial sums over fixed groups of images, then the
// groups in order), so results are bitwise reproducible.
#pragma once
#include <cstdint>

namespace vq::cpu {

struct Conv2dGeometry {
  int64_t B = 0, C = 0, H = 0, W = 0;  // input
  int64_t O = 0, KH = 1, KW = 1;       // weight [O, C, KH, KW]
  int64_t SH = 1, SW = 1;              // stride
  int64_t PH = 0, PW = 0;              // zero padding on each side
  int64_t Ho = 0, Wo = 0;              // output spatial size

  int64_t ckk() const { return C * KH * KW; }  // rows of the im2col matrix
  int64_t p() const { return Ho * Wo; }        // columns (output pixels per image)
  // Fills Ho and Wo from the other fields (may come out <= 0 for invalid sizes; the
  // Tensor layer checks before calling any kernel).
  void infer_output() {
    Ho = (H + 2 * PH - KH) / SH + 1;
    Wo = (W + 2 * PW - KW) / SW + 1;
  }
};

// col [nb, C KH KW, Ho Wo] <- the im2col matrices of images b0 .. b0 + nb - 1 of x.
void conv2d_im2col(float* col, const float* x, const Conv2dGeometry& g, int64_t b0, int64_t nb);

// y = conv2d(x, w) + bias (bias may be null). Multithreaded over images (OpenMP, with
// OpenBLAS single-threaded meanwhile); must not be called inside a parallel region.
void conv2d_forward(float* y, const float* x, const float* w, const float* bias,
                    const Conv2dGeometry& g);

// Gradients of conv2d_forward. dx [B, C, H, W], dw [O, C, KH, KW], dbias [O] are
// overwritten; any of them may be null to skip it. dy [B, O, Ho, Wo]; x is needed
// only for dw, w only for dx.
void conv2d_backward(float* dx, float* dw, float* dbias, const float* dy, const float* x,
                     const float* w, const Conv2dGeometry& g);

}  // namespace vq::cpu
