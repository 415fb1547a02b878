// CUDA max pooling and nearest upsampling (see nn_pool.h): one thread per output
// element forward, one thread per input element backward (gather, no atomics).
#include <cuda_runtime.h>

#include <cmath>

#include "core/cuda/context.h"
#include "kernels/cuda/nn_pool.h"

namespace vq::cuda {

namespace {

constexpr int kBlock = 256;

__global__ void max_pool_fwd_kernel(float* __restrict__ y, int64_t* __restrict__ idx,
                                    const float* __restrict__ x, int64_t total, int64_t H,
                                    int64_t W, int64_t Ho, int64_t Wo, int64_t KH, int64_t KW,
                                    int64_t SH, int64_t SW, int64_t PH, int64_t PW) {
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = t % Wo, i = (t / Wo) % Ho, pl = t / (Wo * Ho);
    const float* xp = x + pl * H * W;
    const int64_t h0 = i * SH - PH, w0 = j * SW - PW;
    const int64_t hs = h0 > 0 ? h0 : 0, he = h0 + KH < H ? h0 + KH : H;
    const int64_t ws = w0 > 0 ? w0 : 0, we = w0 + KW < W ? w0 + KW : W;
    float best = -INFINITY;
    int64_t arg = hs * W + ws;
    bool nan = false;
    for (int64_t h = hs; h < he && !nan; ++h)
      for (int64_t w = ws; w < we; ++w) {
        const float v = xp[h * W + w];
        if (v > best || isnan(v)) {
          best = v;
          arg = h * W + w;
          if (isnan(v)) {
            nan = true;
            break;
          }
        }
      }
    y[t] = best;
    idx[t] = arg;
  }
}

// dx[pl, h, w] = sum over windows (i, j) containing (h, w), in output order, of dy
// where the window's argmax is (h, w).
__global__ void max_pool_bwd_kernel(float* __restrict__ dx, const float* __restrict__ dy,
                                    const int64_t* __restrict__ idx, int64_t total, int64_t H,
                                    int64_t W, int64_t Ho, int64_t Wo, int64_t KH, int64_t KW,
                                    int64_t SH, int64_t SW, int64_t PH, int64_t PW) {
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t w = t % W, h = (t / W) % H, pl = t / (W * H);
    // windows i with i*SH - PH <= h < i*SH - PH + KH
    const int64_t hp = h + PH, wp = w + PW;
    int64_t ilo = hp - KH + 1 > 0 ? (hp - KH + 1 + SH - 1) / SH : 0;
    int64_t ihi = hp / SH;
    if (ihi > Ho - 1) ihi = Ho - 1;
    int64_t jlo = wp - KW + 1 > 0 ? (wp - KW + 1 + SW - 1) / SW : 0;
    int64_t jhi = wp / SW;
    if (jhi > Wo - 1) jhi = Wo - 1;
    const int64_t me = h * W + w;
    const float* dyp = dy + pl * Ho * Wo;
    const int64_t* ip = idx + pl * Ho * Wo;
    float s = 0.f;
    for (int64_t i = ilo; i <= ihi; ++i)
      for (int64_t j = jlo; j <= jhi; ++j)
        if (ip[i * Wo + j] == me) s += dyp[i * Wo + j];
    dx[t] = s;
  }
}

__global__ void upsample_fwd_kernel(float* __restrict__ y, const float* __restrict__ x,
                                    int64_t total, int64_t H, int64_t W, int64_t sh,
                                    int64_t sw) {
  const int64_t Ho = H * sh, Wo = W * sw;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = t % Wo, i = (t / Wo) % Ho, pl = t / (Wo * Ho);
    y[t] = x[(pl * H + i / sh) * W + j / sw];
  }
}

__global__ void upsample_bwd_kernel(float* __restrict__ dx, const float* __restrict__ dy,
                                    int64_t total, int64_t H, int64_t W, int64_t sh,
                                    int64_t sw) {
  const int64_t Ho = H * sh, Wo = W * sw;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = t % W, i = (t / W) % H, pl = t / (W * H);
    const float* base = dy + pl * Ho * Wo;
    float s = 0.f;
    for (int64_t a = 0; a < sh; ++a) {
      const float* r = base + (i * sh + a) * Wo + j * sw;
      for (int64_t b = 0; b < sw; ++b) s += r[b];
    }
    dx[t] = s;
  }
}

}  // namespace

void max_pool2d_forward(float* y, int64_t* idx, const float* x, int64_t planes, int64_t H,
                        int64_t W, int64_t Ho, int64_t Wo, int64_t KH, int64_t KW, int64_t SH,
                        int64_t SW, int64_t PH, int64_t PW, int device) {
  const int64_t total = planes * Ho * Wo;
  if (total == 0) return;
  max_pool_fwd_kernel<<<grid_for(total, kBlock), kBlock, 0, stream(device)>>>(
      y, idx, x, total, H, W, Ho, Wo, KH, KW, SH, SW, PH, PW);
  check_launch("max_pool_fwd_kernel");
}

void max_pool2d_backward(float* dx, const float* dy, const int64_t* idx, int64_t planes,
                         int64_t H, int64_t W, int64_t Ho, int64_t Wo, int64_t KH, int64_t KW,
                         int64_t SH, int64_t SW, int64_t PH, int64_t PW, int device) {
  const int64_t total = planes * H * W;
  if (total == 0) return;
  max_pool_bwd_kernel<<<grid_for(total, kBlock), kBlock, 0, stream(device)>>>(
      dx, dy, idx, total, H, W, Ho, Wo, KH, KW, SH, SW, PH, PW);
  check_launch("max_pool_bwd_kernel");
}

void upsample_nearest2d_forward(float* y, const float* x, int64_t planes, int64_t H, int64_t W,
                                int64_t sh, int64_t sw, int device) {
  const int64_t total = planes * H * sh * W * sw;
  if (total == 0) return;
  upsample_fwd_kernel<<<grid_for(total, kBlock), kBlock, 0, stream(device)>>>(y, x, total, H, W,
                                                                              sh, sw);
  check_launch("upsample_fwd_kernel");
}

void upsample_nearest2d_backward(float* dx, const float* dy, int64_t planes, int64_t H,
                                 int64_t W, int64_t sh, int64_t sw, int device) {
  const int64_t total = planes * H * W;
  if (total == 0) return;
  upsample_bwd_kernel<<<grid_for(total, kBlock), kBlock, 0, stream(device)>>>(dx, dy, total, H,
                                                                              W, sh, sw);
  check_launch("upsample_bwd_kernel");
}

}  // namespace vq::cuda
