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
// is the flat index h*W + w of the max inside its plane (the first one in row-major
// window order on ties; the first NaN wins and propagates, like PyTorch).
// Kernel 2, stride 2, padding 0 runs max_pool2d_2x2_forward; other geometries the
// generic window loop. Both give the same results.
void max_pool2d_forward(float* y, int64_t* idx, const float* x, int64_t planes, int64_t H,
                        int64_t W, int64_t Ho, int64_t Wo, int64_t KH, int64_t KW, int64_t SH,
                        int64_t SW, int64_t PH, int64_t PW);

// dx [planes, H, W] = sum of dy over the outputs whose max was at that pixel, added in
// output order (overwrites dx). When Ho = H/2 and Wo = W/2 a plane first takes the
// 2x2 path (max_pool2d_2x2_backward_plane) and falls back to the scatter when an index
// lies outside its output's 2x2 block; same results either way.
void max_pool2d_backward(float* dx, const float* dy, const int64_t* idx, int64_t planes,
                         int64_t H, int64_t W, int64_t Ho, int64_t Wo);

// ---- The paths behind the two functions above, public for tests.
// The window loop of max_pool2d_forward for any geometry (same arguments).
void max_pool2d_forward_generic(float* y, int64_t* idx, const float* x, int64_t planes,
                                int64_t H, int64_t W, int64_t Ho, int64_t Wo, int64_t KH,
                                int64_t KW, int64_t SH, int64_t SW, int64_t PH, int64_t PW);
// The 2x2 / stride 2 paths (nn_pool_2x2.cpp). Branch-free: each window's four values are
// compared in scan order with selects; AVX-512 / AVX2 / baseline row kernels picked at run
// time (fsq_simd.h's levels, same results at each).
// Forward for kernel (2, 2), stride (2, 2), padding 0: Ho = H/2, Wo = W/2 (an odd last row
// or column is dropped); same y and idx as the generic loop. OpenMP over planes.
void max_pool2d_2x2_forward(float* y, int64_t* idx, const float* x, int64_t planes, int64_t H,
                            int64_t W);
// One plane of the backward when every idx[i, j] lies in its block {2i, 2i+1} x {2j, 2j+1}
// (then each pixel takes at most one gradient): dx [H, W] = 0 + dy at the argmaxes, 0
// elsewhere. Returns false, leaving dx partly written, if some index lies outside its
// block or H * W >= 2^31 (the caller then runs the scatter). Needs Ho = H/2, Wo = W/2.
bool max_pool2d_2x2_backward_plane(float* dx, const float* dy, const int64_t* idx, int64_t H,
                                   int64_t W);

// Nearest upsampling by integer factors: y [planes, H*sh, W*sw],
// y[p, i, j] = x[p, i / sh, j / sw].
void upsample_nearest2d_forward(float* y, const float* x, int64_t planes, int64_t H, int64_t W,
                                int64_t sh, int64_t sw);

// dx [planes, H, W]: dx[p, i, j] = sum over the sh x sw block of dy [planes, H*sh, W*sw]
// (row by row, left to right).
void upsample_nearest2d_backward(float* dx, const float* dy, int64_t planes, int64_t H,
                                 int64_t W, int64_t sh, int64_t sw);

}  // namespace vq::cpu
