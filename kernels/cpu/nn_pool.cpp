// CPU max pooling and nearest upsampling (see nn_pool.h): OpenMP over planes, each
// plane handled by one thread, so every sum has a fixed order. The 2x2 / stride-2 paths
// are in nn_pool_2x2.cpp.
#include "kernels/cpu/nn_pool.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace vq::cpu {

void max_pool2d_forward(float* y, int64_t* idx, const float* x, int64_t planes, int64_t H,
                        int64_t W, int64_t Ho, int64_t Wo, int64_t KH, int64_t KW, int64_t SH,
                        int64_t SW, int64_t PH, int64_t PW) {
  if (KH == 2 && KW == 2 && SH == 2 && SW == 2 && PH == 0 && PW == 0)
    return max_pool2d_2x2_forward(y, idx, x, planes, H, W);
  max_pool2d_forward_generic(y, idx, x, planes, H, W, Ho, Wo, KH, KW, SH, SW, PH, PW);
}

void max_pool2d_forward_generic(float* y, int64_t* idx, const float* x, int64_t planes,
                                int64_t H, int64_t W, int64_t Ho, int64_t Wo, int64_t KH,
                                int64_t KW, int64_t SH, int64_t SW, int64_t PH, int64_t PW) {
#pragma omp parallel for schedule(static) if (planes * Ho * Wo * KH * KW > 32768)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x + pl * H * W;
    float* yp = y + pl * Ho * Wo;
    int64_t* ip = idx + pl * Ho * Wo;
    for (int64_t i = 0; i < Ho; ++i) {
      const int64_t h0 = i * SH - PH;
      const int64_t hs = std::max<int64_t>(h0, 0), he = std::min(h0 + KH, H);
      for (int64_t j = 0; j < Wo; ++j) {
        const int64_t w0 = j * SW - PW;
        const int64_t ws = std::max<int64_t>(w0, 0), we = std::min(w0 + KW, W);
        float best = -std::numeric_limits<float>::infinity();
        int64_t arg = hs * W + ws;
        bool nan = false;  // the first NaN wins and ends the scan
        for (int64_t h = hs; h < he && !nan; ++h)
          for (int64_t w = ws; w < we; ++w) {
            const float v = xp[h * W + w];
            if (v > best || std::isnan(v)) {
              best = v;
              arg = h * W + w;
              if (std::isnan(v)) {
                nan = true;
                break;
              }
            }
          }
        yp[i * Wo + j] = best;
        ip[i * Wo + j] = arg;
      }
    }
  }
}

void max_pool2d_backward(float* dx, const float* dy, const int64_t* idx, int64_t planes,
                         int64_t H, int64_t W, int64_t Ho, int64_t Wo) {
  const bool blocks = Ho == H / 2 && Wo == W / 2;  // try the 2x2 path first
#pragma omp parallel for schedule(static) if (planes * H * W > 32768)
  for (int64_t pl = 0; pl < planes; ++pl) {
    float* dxp = dx + pl * H * W;
    const float* dyp = dy + pl * Ho * Wo;
    const int64_t* ip = idx + pl * Ho * Wo;
    if (blocks && max_pool2d_2x2_backward_plane(dxp, dyp, ip, H, W)) continue;
    std::fill(dxp, dxp + H * W, 0.f);
    for (int64_t o = 0; o < Ho * Wo; ++o) dxp[ip[o]] += dyp[o];
  }
}

void upsample_nearest2d_forward(float* y, const float* x, int64_t planes, int64_t H, int64_t W,
                                int64_t sh, int64_t sw) {
  const int64_t Ho = H * sh, Wo = W * sw;
#pragma omp parallel for schedule(static) if (planes * Ho * Wo > 65536)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x + pl * H * W;
    float* yp = y + pl * Ho * Wo;
    for (int64_t i = 0; i < Ho; ++i) {
      const float* xr = xp + (i / sh) * W;
      float* yr = yp + i * Wo;
      for (int64_t j = 0; j < Wo; ++j) yr[j] = xr[j / sw];
    }
  }
}

void upsample_nearest2d_backward(float* dx, const float* dy, int64_t planes, int64_t H,
                                 int64_t W, int64_t sh, int64_t sw) {
  const int64_t Ho = H * sh, Wo = W * sw;
#pragma omp parallel for schedule(static) if (planes * Ho * Wo > 65536)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* dyp = dy + pl * Ho * Wo;
    float* dxp = dx + pl * H * W;
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j) {
        float s = 0.f;
        for (int64_t a = 0; a < sh; ++a) {
          const float* r = dyp + (i * sh + a) * Wo + j * sw;
          for (int64_t b = 0; b < sw; ++b) s += r[b];
        }
        dxp[i * W + j] = s;
      }
  }
}

}  // namespace vq::cpu
