// CUDA LayerNorm (one warp per row) and GroupNorm (one block per group for the
// statistics, per-channel sums for the backward), see nn_norm.h. Parameter gradients
// are reduced over fixed row chunks (64 rows, as on the CPU) and then over the chunks
// in order, so every result is deterministic.
#include <cuda_runtime.h>

#include <algorithm>

#include "core/cuda/context.h"
#include "kernels/cuda/index_workspace.h"
#include "kernels/cuda/nn_common.cuh"
#include "kernels/cuda/nn_norm.h"

namespace vq::cuda {

namespace {

constexpr int kBlock = 256;
constexpr int kWarps = kBlock / 32;
constexpr int64_t kRowChunk = 64;

using nn_detail::block_sum;
using nn_detail::warp_sum;

__device__ __forceinline__ double warp_all_sum(double v) {
  v = warp_sum(v);
  return __shfl_sync(0xffffffffu, v, 0);
}

unsigned row_blocks(int64_t N) {
  const int64_t b = (N + kWarps - 1) / kWarps;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(b, 65535LL * 16)));
}

__global__ void ln_fwd_kernel(float* __restrict__ y, float* __restrict__ mean,
                              float* __restrict__ rstd, const float* __restrict__ x,
                              const float* __restrict__ gamma, const float* __restrict__ beta,
                              int64_t N, int64_t D, float eps) {
  const int lane = threadIdx.x & 31;
  for (int64_t n = blockIdx.x * int64_t(kWarps) + (threadIdx.x >> 5); n < N;
       n += int64_t(gridDim.x) * kWarps) {
    const float* xr = x + n * D;
    double s = 0;
    for (int64_t d = lane; d < D; d += 32) s += xr[d];
    const double m = warp_all_sum(s) / static_cast<double>(D);
    double q = 0;
    for (int64_t d = lane; d < D; d += 32) {
      const double t = xr[d] - m;
      q += t * t;
    }
    const double var = warp_all_sum(q) / static_cast<double>(D);
    const float mf = static_cast<float>(m);
    const float rf = static_cast<float>(1.0 / sqrt(var + static_cast<double>(eps)));
    if (lane == 0) {
      mean[n] = mf;
      rstd[n] = rf;
    }
    float* yr = y + n * D;
    for (int64_t d = lane; d < D; d += 32) {
      float v = __fmul_rn(xr[d] - mf, rf);
      if (gamma) v = __fmul_rn(v, gamma[d]);
      if (beta) v = __fadd_rn(v, beta[d]);
      yr[d] = v;
    }
  }
}

__global__ void ln_bwd_dx_kernel(float* __restrict__ dx, const float* __restrict__ dy,
                                 const float* __restrict__ x, const float* __restrict__ mean,
                                 const float* __restrict__ rstd, const float* __restrict__ gamma,
                                 int64_t N, int64_t D) {
  const int lane = threadIdx.x & 31;
  for (int64_t n = blockIdx.x * int64_t(kWarps) + (threadIdx.x >> 5); n < N;
       n += int64_t(gridDim.x) * kWarps) {
    const float* xr = x + n * D;
    const float* gr = dy + n * D;
    const float m = mean[n], r = rstd[n];
    double a = 0, b = 0;
    for (int64_t d = lane; d < D; d += 32) {
      const double g = gamma ? static_cast<double>(gr[d]) * gamma[d] : gr[d];
      a += g;
      b += g * __fmul_rn(xr[d] - m, r);
    }
    const double ma = warp_all_sum(a) / static_cast<double>(D);
    const double mb = warp_all_sum(b) / static_cast<double>(D);
    for (int64_t d = lane; d < D; d += 32) {
      const double g = gamma ? static_cast<double>(gr[d]) * gamma[d] : gr[d];
      const double xh = __fmul_rn(xr[d] - m, r);
      dx[n * D + d] = static_cast<float>(r * (g - ma - xh * mb));
    }
  }
}

// Partial sums over row chunk blockIdx.y for columns d: pg/pb [chunks, D] (f64).
__global__ void ln_bwd_param_partial_kernel(double* __restrict__ pg, double* __restrict__ pb,
                                            const float* __restrict__ dy,
                                            const float* __restrict__ x,
                                            const float* __restrict__ mean,
                                            const float* __restrict__ rstd, int64_t N,
                                            int64_t D) {
  const int64_t d = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (d >= D) return;
  const int64_t chunks = (N + kRowChunk - 1) / kRowChunk;
  for (int64_t c = blockIdx.y; c < chunks; c += gridDim.y) {
    double sg = 0, sb = 0;
    const int64_t end = min(N, (c + 1) * kRowChunk);
    for (int64_t n = c * kRowChunk; n < end; ++n) {
      const float g = dy[n * D + d];
      sg += static_cast<double>(g) * __fmul_rn(x[n * D + d] - mean[n], rstd[n]);
      sb += g;
    }
    if (pg) pg[c * D + d] = sg;
    if (pb) pb[c * D + d] = sb;
  }
}

__global__ void sum_chunks_kernel(float* __restrict__ out, const double* __restrict__ part,
                                  int64_t chunks, int64_t D) {
  for (int64_t d = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; d < D;
       d += int64_t(gridDim.x) * blockDim.x) {
    double s = 0;
    for (int64_t c = 0; c < chunks; ++c) s += part[c * D + d];
    out[d] = static_cast<float>(s);
  }
}

// One block per group (b, g): statistics, then the normalized output.
__global__ void gn_fwd_kernel(float* __restrict__ y, float* __restrict__ mean,
                              float* __restrict__ rstd, const float* __restrict__ x,
                              const float* __restrict__ gamma, const float* __restrict__ beta,
                              int64_t C, int64_t S, int64_t G, float eps) {
  __shared__ double sh[32];
  const int64_t bg = blockIdx.x, cg = C / G, M = cg * S;
  const float* xg = x + bg * M;
  double s = 0;
  for (int64_t k = threadIdx.x; k < M; k += blockDim.x) s += xg[k];
  const double m = block_sum(s, sh) / static_cast<double>(M);
  double q = 0;
  for (int64_t k = threadIdx.x; k < M; k += blockDim.x) {
    const double t = xg[k] - m;
    q += t * t;
  }
  const double var = block_sum(q, sh) / static_cast<double>(M);
  const float mf = static_cast<float>(m);
  const float rf = static_cast<float>(1.0 / sqrt(var + static_cast<double>(eps)));
  if (threadIdx.x == 0) {
    mean[bg] = mf;
    rstd[bg] = rf;
  }
  const int64_t c0 = (bg % G) * cg;
  float* yg = y + bg * M;
  for (int64_t k = threadIdx.x; k < M; k += blockDim.x) {
    const int64_t c = c0 + k / S;
    float v = __fmul_rn(xg[k] - mf, rf);
    if (gamma) v = __fmul_rn(v, gamma[c]);
    if (beta) v = __fadd_rn(v, beta[c]);
    yg[k] = v;
  }
}

// One block per (b, c): ds = sum_s dy xhat, db = sum_s dy (f64).
__global__ void gn_bwd_channel_kernel(double* __restrict__ ds, double* __restrict__ db,
                                      const float* __restrict__ dy, const float* __restrict__ x,
                                      const float* __restrict__ mean,
                                      const float* __restrict__ rstd, int64_t C, int64_t S,
                                      int64_t G) {
  __shared__ double sh[32];
  const int64_t bc = blockIdx.x, cg = C / G;
  const int64_t bg = (bc / C) * G + (bc % C) / cg;
  const float m = mean[bg], r = rstd[bg];
  double a = 0, b = 0;
  for (int64_t s = threadIdx.x; s < S; s += blockDim.x) {
    const float g = dy[bc * S + s];
    a += static_cast<double>(g) * __fmul_rn(x[bc * S + s] - m, r);
    b += g;
  }
  a = block_sum(a, sh);
  b = block_sum(b, sh);
  if (threadIdx.x == 0) {
    ds[bc] = a;
    db[bc] = b;
  }
}

// Per group: mA = sum_c gamma_c db / M, mB = sum_c gamma_c ds / M (in channel order).
__global__ void gn_bwd_group_kernel(double* __restrict__ ma, double* __restrict__ mb,
                                    const double* __restrict__ ds, const double* __restrict__ db,
                                    const float* __restrict__ gamma, int64_t B, int64_t C,
                                    int64_t S, int64_t G) {
  const int64_t cg = C / G, M = cg * S;
  for (int64_t bg = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; bg < B * G;
       bg += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = bg / G, c0 = (bg % G) * cg;
    double A = 0, Bv = 0;
    for (int64_t k = 0; k < cg; ++k) {
      const double ga = gamma ? gamma[c0 + k] : 1.0;
      A += ga * db[b * C + c0 + k];
      Bv += ga * ds[b * C + c0 + k];
    }
    ma[bg] = A / static_cast<double>(M);
    mb[bg] = Bv / static_cast<double>(M);
  }
}

__global__ void gn_bwd_dx_kernel(float* __restrict__ dx, const float* __restrict__ dy,
                                 const float* __restrict__ x, const float* __restrict__ mean,
                                 const float* __restrict__ rstd, const float* __restrict__ gamma,
                                 const double* __restrict__ ma, const double* __restrict__ mb,
                                 int64_t total, int64_t C, int64_t S, int64_t G) {
  const int64_t cg = C / G;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t bc = t / S, c = bc % C;
    const int64_t bg = (bc / C) * G + c / cg;
    const float m = mean[bg], r = rstd[bg];
    const double ga = gamma ? gamma[c] : 1.0;
    const double xh = __fmul_rn(x[t] - m, r);
    dx[t] = static_cast<float>(r * (dy[t] * ga - ma[bg] - xh * mb[bg]));
  }
}

__global__ void gn_bwd_param_kernel(float* __restrict__ dgamma, float* __restrict__ dbeta,
                                    const double* __restrict__ ds,
                                    const double* __restrict__ db, int64_t B, int64_t C) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < C;
       c += int64_t(gridDim.x) * blockDim.x) {
    double sg = 0, sb = 0;
    for (int64_t b = 0; b < B; ++b) {
      sg += ds[b * C + c];
      sb += db[b * C + c];
    }
    if (dgamma) dgamma[c] = static_cast<float>(sg);
    if (dbeta) dbeta[c] = static_cast<float>(sb);
  }
}

}  // namespace

void layer_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* gamma,
                        const float* beta, int64_t N, int64_t D, float eps, int device) {
  if (N == 0) return;
  ln_fwd_kernel<<<row_blocks(N), kBlock, 0, stream(device)>>>(y, mean, rstd, x, gamma, beta, N,
                                                              D, eps);
  check_launch("ln_fwd_kernel");
}

void layer_norm_backward(float* dx, float* dgamma, float* dbeta, const float* dy,
                         const float* x, const float* mean, const float* rstd,
                         const float* gamma, int64_t N, int64_t D, int device) {
  cudaStream_t st = stream(device);
  if (dx && N > 0) {
    ln_bwd_dx_kernel<<<row_blocks(N), kBlock, 0, st>>>(dx, dy, x, mean, rstd, gamma, N, D);
    check_launch("ln_bwd_dx_kernel");
  }
  if (!dgamma && !dbeta) return;
  const int64_t chunks = std::max<int64_t>(1, (N + kRowChunk - 1) / kRowChunk);
  Workspace ws(static_cast<size_t>(2 * chunks * D) * sizeof(double), device);
  double* pg = dgamma ? ws.as<double>() : nullptr;
  double* pb = dbeta ? ws.as<double>() + chunks * D : nullptr;
  if (N == 0) {
    check(cudaMemsetAsync(ws.get(), 0, ws.size(), st), "layer_norm_backward: cudaMemsetAsync");
  } else {
    dim3 grid(static_cast<unsigned>((D + kBlock - 1) / kBlock),
              static_cast<unsigned>(std::min<int64_t>(chunks, 65535)));
    ln_bwd_param_partial_kernel<<<grid, kBlock, 0, st>>>(pg, pb, dy, x, mean, rstd, N, D);
    check_launch("ln_bwd_param_partial_kernel");
  }
  const int64_t used = N == 0 ? 1 : chunks;
  if (dgamma) {
    sum_chunks_kernel<<<grid_for(D, kBlock), kBlock, 0, st>>>(dgamma, pg, used, D);
    check_launch("ln sum_chunks_kernel");
  }
  if (dbeta) {
    sum_chunks_kernel<<<grid_for(D, kBlock), kBlock, 0, st>>>(dbeta, pb, used, D);
    check_launch("ln sum_chunks_kernel");
  }
}

void group_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* gamma,
                        const float* beta, int64_t B, int64_t C, int64_t S, int64_t G,
                        float eps, int device) {
  if (B * G == 0) return;
  gn_fwd_kernel<<<static_cast<unsigned>(B * G), kBlock, 0, stream(device)>>>(
      y, mean, rstd, x, gamma, beta, C, S, G, eps);
  check_launch("gn_fwd_kernel");
}

void group_norm_backward(float* dx, float* dgamma, float* dbeta, const float* dy,
                         const float* x, const float* mean, const float* rstd,
                         const float* gamma, int64_t B, int64_t C, int64_t S, int64_t G,
                         int device) {
  cudaStream_t st = stream(device);
  if (C == 0) return;
  Workspace ws(static_cast<size_t>(2 * B * C + 2 * B * G + 1) * sizeof(double), device);
  double* ds = ws.as<double>();
  double* db = ds + B * C;
  double* ma = db + B * C;
  double* mb = ma + B * G;
  if (B > 0) {
    gn_bwd_channel_kernel<<<static_cast<unsigned>(B * C), kBlock, 0, st>>>(ds, db, dy, x, mean,
                                                                          rstd, C, S, G);
    check_launch("gn_bwd_channel_kernel");
  }
  if (dx && B * C * S > 0) {
    gn_bwd_group_kernel<<<grid_for(B * G, kBlock), kBlock, 0, st>>>(ma, mb, ds, db, gamma, B, C,
                                                                    S, G);
    check_launch("gn_bwd_group_kernel");
    gn_bwd_dx_kernel<<<grid_for(B * C * S, kBlock), kBlock, 0, st>>>(
        dx, dy, x, mean, rstd, gamma, ma, mb, B * C * S, C, S, G);
    check_launch("gn_bwd_dx_kernel");
  }
  if (dgamma || dbeta) {
    gn_bwd_param_kernel<<<grid_for(C, kBlock), kBlock, 0, st>>>(dgamma, dbeta, ds, db, B, C);
    check_launch("gn_bwd_param_kernel");
  }
}

}  // namespace vq::cuda
