// Rotation trick forward / backward on CUDA (formulas and the backward derivation in
// kernels/cpu/rotation.{h,cpp}). One warp per row, grid-stride over rows; each row is
// swept three times (norms; |u + qh|^2 and dot products; the axpy write), the later
// sweeps hitting L1/L2. Warp sums use a fixed xor-shuffle order: deterministic.
#include <cuda_runtime.h>

#include <algorithm>

#include "core/cuda/context.h"
#include "kernels/cuda/rotation.h"

namespace vq::cuda {
namespace {

constexpr float kEps = 1e-6f;
constexpr int kWarps = 8;

__device__ __forceinline__ float warp_sum(float v) {
  for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

__global__ void rotation_forward_kernel(float* out, const float* __restrict__ x,
                                        const float* __restrict__ q, int64_t N, int64_t D) {
  const int lane = threadIdx.x & 31;
  for (int64_t n = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32; n < N;
       n += int64_t(gridDim.x) * kWarps) {
    const float* xr = x + n * D;
    const float* qr = q + n * D;
    float nx2 = 0.f, nq2 = 0.f;
    for (int64_t d = lane; d < D; d += 32) {
      nx2 = fmaf(xr[d], xr[d], nx2);
      nq2 = fmaf(qr[d], qr[d], nq2);
    }
    nx2 = warp_sum(nx2);
    nq2 = warp_sum(nq2);
    const float mx = fmaxf(sqrtf(nx2), kEps), nq = sqrtf(nq2), mq = fmaxf(nq, kEps);
    float nv2 = 0.f, xv = 0.f, xu = 0.f;
    for (int64_t d = lane; d < D; d += 32) {
      const float u = xr[d] / mx, v = u + qr[d] / mq;
      nv2 = fmaf(v, v, nv2);
      xv = fmaf(xr[d], v, xv);
      xu = fmaf(xr[d], u, xu);
    }
    nv2 = warp_sum(nv2);
    xv = warp_sum(xv);
    xu = warp_sum(xu);
    const float mv = fmaxf(sqrtf(nv2), kEps);
    const float s = nq / mx, cw = 2.f * (xv / mv) / mv, cq = 2.f * xu;
    for (int64_t d = lane; d < D; d += 32) {
      const float qh = qr[d] / mq, v = xr[d] / mx + qh;
      out[n * D + d] = s * (xr[d] - cw * v + cq * qh);
    }
  }
}

__global__ void rotation_backward_kernel(float* dx, const float* __restrict__ g,
                                         const float* __restrict__ x, const float* __restrict__ q,
                                         int64_t N, int64_t D) {
  const int lane = threadIdx.x & 31;
  for (int64_t n = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32; n < N;
       n += int64_t(gridDim.x) * kWarps) {
    const float* xr = x + n * D;
    const float* qr = q + n * D;
    const float* gr = g + n * D;
    float nx2 = 0.f, nq2 = 0.f;
    for (int64_t d = lane; d < D; d += 32) {
      nx2 = fmaf(xr[d], xr[d], nx2);
      nq2 = fmaf(qr[d], qr[d], nq2);
    }
    nx2 = warp_sum(nx2);
    nq2 = warp_sum(nq2);
    const float mx = fmaxf(sqrtf(nx2), kEps), nq = sqrtf(nq2), mq = fmaxf(nq, kEps);
    float nv2 = 0.f, gv = 0.f, gq = 0.f;
    for (int64_t d = lane; d < D; d += 32) {
      const float qh = qr[d] / mq, v = xr[d] / mx + qh;
      nv2 = fmaf(v, v, nv2);
      gv = fmaf(gr[d], v, gv);
      gq = fmaf(gr[d], qh, gq);
    }
    nv2 = warp_sum(nv2);
    gv = warp_sum(gv);
    gq = warp_sum(gq);
    const float mv = fmaxf(sqrtf(nv2), kEps);
    const float s = nq / mx, cw = 2.f * (gv / mv) / mv, cu = 2.f * gq;
    for (int64_t d = lane; d < D; d += 32) {
      const float u = xr[d] / mx, v = u + qr[d] / mq;
      dx[n * D + d] = s * (gr[d] - cw * v + cu * u);
    }
  }
}

unsigned blocks_for(int64_t N) {
  return unsigned(std::min<int64_t>((N + kWarps - 1) / kWarps, 65535LL * 8));
}

}  // namespace

void rotation_trick_forward(float* out, const float* x, const float* q, int64_t N, int64_t D,
                            int device) {
  if (N <= 0 || D <= 0) return;
  cudaStream_t st = stream(device);
  rotation_forward_kernel<<<blocks_for(N), 32 * kWarps, 0, st>>>(out, x, q, N, D);
  check_launch("rotation_trick_forward_kernel");
}

void rotation_trick_backward(float* dx, const float* g, const float* x, const float* q,
                             int64_t N, int64_t D, int device) {
  if (N <= 0 || D <= 0) return;
  cudaStream_t st = stream(device);
  rotation_backward_kernel<<<blocks_for(N), 32 * kWarps, 0, st>>>(dx, g, x, q, N, D);
  check_launch("rotation_trick_backward_kernel");
}

}  // namespace vq::cuda
