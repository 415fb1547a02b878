// Raw CPU kernels of 2-D max pooling and nearest-neighbour upsampling by integer
// factors (NCHW planes, f32, contiguous). Pointers + sizes only; the Tensor API is in
// nn/functional.h. The CUDA twins (kernels/cuda/nn_pool.h) sum gradients in the same
// order, so both devices give identical results.
#pragma once
#include <cstdint>

namespace vq::cpu {

// Max pooling over planes = B*C planes of [H, W] (torch.nn.MaxPool2d, dilation 1,
// floor mode): window (KH, KW), stride (SH, SW), implicit -inf padding (PH, PW) with
// PH <= KH/2, PW <= KW/2 (so every window holds at least one real pixel). Output
// y [planes, Ho, Wo] with Ho = (H + 2PH - KH)/SH + 1 (likewise Wo); idx [planes, Ho, Wo]
// is the flat index h*W + w of the max inside its plane (the first one on ties; a NaN
// wins and propagates, like PyTorch).
void max_pool2d_forward(float* y, int64_t* idx, const float* x, int64_t planes, int64_t H,
                        int64_t W, int64_t Ho, int64_t Wo, int64_t KH, int64_t KW, int64_t SH,
                        int64_t SW, int64_t PH, int64_t PW);

// dx [planes, H, W] = sum of dy over the outputs whose max was at that pixel, added in
// output order (overwrites dx).
void max_pool2d_backward(float* dx, const float* dy, const int64_t* idx, int64_t planes,
                         int64_t H, int64_t W, int64_t Ho, int64_t Wo);

// Nearest upsampling by integer factors: y [planes, H*sh, W*sw],
// y[p, i, j] = x[p, i / sh, j / sw].
void upsample_nearest2d_forward(float* y, const float* x, int64_t planes, int64_t H, int64_t W,
                                int64_t sh, int64_t sw);

// dx [planes, H, W]: dx[p, i, j] = sum over the sh x sw block of dy [planes, H*sh, W*sw]
// (row by row, left to right).
void upsample_nearest2d_backward(float* dx, const float* dy, int64_t planes, int64_t H,
                                 int64_t W, int64_t sh, int64_t sw);

}  // namespace vq::cpu
