// CUDA 2-D convolution (see conv.h): im2col / col2im / bias kernels here, GEMMs through
// vq::cuda::sgemm_batched (one strided-batched cuBLAS call per chunk of images, the
// weight shared by offset 0). Chunks bound the scratch to kMaxWorkFloats.
#include <cuda_runtime.h>

#include <algorithm>
#include <vector>

#include "core/cuda/context.h"
#include "kernels/cuda/blas.h"
#include "kernels/cuda/conv.h"
#include "kernels/cuda/index_workspace.h"
#include "kernels/cuda/nn_common.cuh"

namespace vq::cuda {

namespace {

constexpr int64_t kMaxWorkFloats = int64_t(1) << 26;  // 256 MiB of scratch at most
constexpr int kBlock = 256;

// Geometry as plain fields for device code.
struct Geo {
  int64_t B, C, H, W, O, KH, KW, SH, SW, PH, PW, Ho, Wo, CKK, P;
};

Geo to_geo(const Conv2dGeometry& g) {
  return Geo{g.B,  g.C,  g.H,  g.W,  g.O,  g.KH, g.KW,    g.SH,
             g.SW, g.PH, g.PW, g.Ho, g.Wo, g.ckk(), g.p()};
}

// col [nb, CKK, P] from images b0 .. b0 + nb - 1.
__global__ void im2col_kernel(float* __restrict__ col, const float* __restrict__ x, Geo g,
                              int64_t b0, int64_t total) {
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = t % g.P;
    const int64_t r = (t / g.P) % g.CKK;
    const int64_t b = b0 + t / (g.P * g.CKK);
    const int64_t v = r % g.KW, u = (r / g.KW) % g.KH, c = r / (g.KW * g.KH);
    const int64_t i = p / g.Wo, j = p % g.Wo;
    const int64_t h = i * g.SH - g.PH + u, w = j * g.SW - g.PW + v;
    float val = 0.f;
    if (h >= 0 && h < g.H && w >= 0 && w < g.W) val = x[((b * g.C + c) * g.H + h) * g.W + w];
    col[t] = val;
  }
}

// dx for images b0 .. b0 + nb - 1 from dcol [nb, CKK, P]: each pixel gathers its taps
// in (u, v) order (the CPU's scatter order), so no atomics are needed.
__global__ void col2im_kernel(float* __restrict__ dx, const float* __restrict__ dcol, Geo g,
                              int64_t b0, int64_t total) {
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t w = t % g.W, h = (t / g.W) % g.H, c = (t / (g.W * g.H)) % g.C;
    const int64_t bl = t / (g.W * g.H * g.C);
    const float* cb = dcol + bl * g.CKK * g.P;
    float s = 0.f;
    for (int64_t u = 0; u < g.KH; ++u) {
      const int64_t hh = h + g.PH - u;
      if (hh < 0 || hh % g.SH != 0) continue;
      const int64_t i = hh / g.SH;
      if (i >= g.Ho) continue;
      for (int64_t v = 0; v < g.KW; ++v) {
        const int64_t ww = w + g.PW - v;
        if (ww < 0 || ww % g.SW != 0) continue;
        const int64_t j = ww / g.SW;
        if (j >= g.Wo) continue;
        s += cb[((c * g.KH + u) * g.KW + v) * g.P + i * g.Wo + j];
      }
    }
    dx[(b0 * g.C) * g.H * g.W + t] = s;
  }
}

// y [nb, O, P] += bias[o]
__global__ void bias_add_kernel(float* __restrict__ y, const float* __restrict__ bias, int64_t O,
                                int64_t P, int64_t total) {
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x)
    y[t] += bias[(t / P) % O];
}

// dbias[o] = sum over (b, p) of dy[b, o, p]: one block per channel, fixed tree.
__global__ void dbias_kernel(float* __restrict__ dbias, const float* __restrict__ dy, int64_t B,
                             int64_t O, int64_t P) {
  __shared__ double sh[32];
  const int64_t o = blockIdx.x;
  double s = 0;
  for (int64_t k = threadIdx.x; k < B * P; k += blockDim.x) {
    const int64_t b = k / P, p = k % P;
    s += dy[(b * O + o) * P + p];
  }
  s = nn_detail::block_sum(s, sh);
  if (threadIdx.x == 0) dbias[o] = static_cast<float>(s);
}

// dw[e] (= or +=) sum over i < nb of part[i, e], in order.
__global__ void sum_partials_kernel(float* __restrict__ dw, const float* __restrict__ part,
                                    int64_t nb, int64_t n, bool accumulate) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    float s = accumulate ? dw[e] : 0.f;
    for (int64_t i = 0; i < nb; ++i) s += part[i * n + e];
    dw[e] = s;
  }
}

int64_t chunk_images(int64_t B, int64_t per_image, int64_t max_work) {
  if (max_work <= 0) max_work = kMaxWorkFloats;
  return std::max<int64_t>(1, std::min<int64_t>(B, max_work / std::max<int64_t>(1, per_image)));
}

}  // namespace

void conv2d_forward(float* y, const float* x, const float* w, const float* bias,
                    const Conv2dGeometry& g0, int device, int64_t max_work_floats) {
  const Geo g = to_geo(g0);
  if (g.B == 0 || g.O == 0 || g.P == 0) return;
  cudaStream_t st = stream(device);
  const int64_t nb_max = chunk_images(g.B, g.CKK * g.P, max_work_floats);
  Workspace col(static_cast<size_t>(nb_max * g.CKK * g.P) * sizeof(float), device);
  std::vector<int64_t> off_w(nb_max, 0), off_col(nb_max);
  for (int64_t i = 0; i < nb_max; ++i) off_col[i] = i * g.CKK * g.P;
  for (int64_t b0 = 0; b0 < g.B; b0 += nb_max) {
    const int64_t nb = std::min(nb_max, g.B - b0);
    const int64_t total = nb * g.CKK * g.P;
    im2col_kernel<<<grid_for(total, kBlock), kBlock, 0, st>>>(col.as<float>(), x, g, b0, total);
    check_launch("conv2d im2col_kernel");
    // y_b [O, P] = W [O, CKK] col_b [CKK, P]
    sgemm_batched(false, false, g.O, g.P, g.CKK, 1.f, w, g.CKK, off_w.data(), col.as<float>(),
                  g.P, off_col.data(), 0.f, y + b0 * g.O * g.P, g.P, g.O * g.P, nb, device);
    if (bias) {
      const int64_t ny = nb * g.O * g.P;
      bias_add_kernel<<<grid_for(ny, kBlock), kBlock, 0, st>>>(y + b0 * g.O * g.P, bias, g.O,
                                                                g.P, ny);
      check_launch("conv2d bias_add_kernel");
    }
  }
}

void conv2d_backward(float* dx, float* dw, float* dbias, const float* dy, const float* x,
                     const float* w, const Conv2dGeometry& g0, int device,
                     int64_t max_work_floats) {
  const Geo g = to_geo(g0);
  cudaStream_t st = stream(device);
  if (dbias) {
    if (g.B * g.P == 0) {
      check(cudaMemsetAsync(dbias, 0, g.O * sizeof(float), st), "conv2d: cudaMemsetAsync");
    } else if (g.O > 0) {
      dbias_kernel<<<static_cast<unsigned>(g.O), kBlock, 0, st>>>(dbias, dy, g.B, g.O, g.P);
      check_launch("conv2d dbias_kernel");
    }
  }
  if (!dx && !dw) return;
  const int64_t wsize = g.O * g.CKK;
  if (g.B == 0 || g.P == 0 || g.O == 0) {
    if (dx) check(cudaMemsetAsync(dx, 0, g.B * g.C * g.H * g.W * sizeof(float), st), "conv2d: cudaMemsetAsync");
    if (dw) check(cudaMemsetAsync(dw, 0, wsize * sizeof(float), st), "conv2d: cudaMemsetAsync");
    return;
  }
  const int64_t per_image = g.CKK * g.P + (dw ? wsize : 0);
  const int64_t nb_max = chunk_images(g.B, per_image, max_work_floats);
  Workspace col(static_cast<size_t>(nb_max * g.CKK * g.P) * sizeof(float), device);
  Workspace part(static_cast<size_t>(dw ? nb_max * wsize : 1) * sizeof(float), device);
  std::vector<int64_t> off_zero(nb_max, 0), off_col(nb_max), off_dy(nb_max);
  for (int64_t i = 0; i < nb_max; ++i) {
    off_col[i] = i * g.CKK * g.P;
    off_dy[i] = i * g.O * g.P;
  }
  for (int64_t b0 = 0; b0 < g.B; b0 += nb_max) {
    const int64_t nb = std::min(nb_max, g.B - b0);
    const float* dyc = dy + b0 * g.O * g.P;
    if (dw) {
      const int64_t total = nb * g.CKK * g.P;
      im2col_kernel<<<grid_for(total, kBlock), kBlock, 0, st>>>(col.as<float>(), x, g, b0, total);
      check_launch("conv2d im2col_kernel");
      // part_b [O, CKK] = dy_b [O, P] col_b^T [P, CKK]
      sgemm_batched(false, true, g.O, g.CKK, g.P, 1.f, dyc, g.P, off_dy.data(), col.as<float>(),
                    g.P, off_col.data(), 0.f, part.as<float>(), g.CKK, wsize, nb, device);
      sum_partials_kernel<<<grid_for(wsize, kBlock), kBlock, 0, st>>>(dw, part.as<float>(), nb,
                                                                      wsize, b0 > 0);
      check_launch("conv2d sum_partials_kernel");
    }
    if (dx) {
      // dcol_b [CKK, P] = W^T [CKK, O] dy_b [O, P]
      sgemm_batched(true, false, g.CKK, g.P, g.O, 1.f, w, g.CKK, off_zero.data(), dyc, g.P,
                    off_dy.data(), 0.f, col.as<float>(), g.P, g.CKK * g.P, nb, device);
      const int64_t total = nb * g.C * g.H * g.W;
      col2im_kernel<<<grid_for(total, kBlock), kBlock, 0, st>>>(dx, col.as<float>(), g, b0, total);
      check_launch("conv2d col2im_kernel");
    }
  }
}

}  // namespace vq::cuda
