// The cuBLAS-based CUDA nearest-code pieces: the unfused top-1 path for large D (SGEMM
// into a row tile of <= 256 MiB, then a warp-per-row argmin), top-k search (same tile,
// warp-per-row selection) and the materialized similarity matrix (SGEMM straight into
// the output, then an elementwise epilogue). SGEMM goes through kernels/cuda/blas.h
// (row-major, one handle per device, no TF32 unless opted in).
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>

#include "core/error.h"
#include "kernels/cuda/blas.h"
#include "kernels/cuda/nearest_code.h"
#include "kernels/cuda/nearest_code_common.cuh"

namespace vq::cuda {
namespace nc {
namespace {

constexpr float kInf = INFINITY;
constexpr int kWarpsPerBlock = 8;
constexpr int kMaxTopK = 32;

// One warp per row of s [rows, K]: min over k of bias[k] + alpha * s[row, k].
__global__ void argmin_rows_kernel(float* pv, int* pi, const float* __restrict__ s, int64_t rows,
                                   int64_t K, const float* __restrict__ bias, float alpha) {
  const int lane = threadIdx.x & 31;
  const int64_t row = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= rows) return;  // whole warp exits together
  const float* r = s + row * K;
  float bv = kInf;
  int bi = 0;
  for (int64_t k = lane; k < K; k += 32) {
    const float v = fmaf(alpha, r[k], bias[k]);
    if (v < bv) {
      bv = v;
      bi = int(k);
    }
  }
  warp_min(bv, bi, 32);
  if (lane == 0) {
    pv[row] = bv;
    pi[row] = bi;
  }
}

// One warp per row: each lane keeps its k best (value, index) pairs of codes lane,
// lane + 32, ... sorted; then k rounds of a warp minimum over the lanes' heads.
__global__ void topk_rows_kernel(int64_t* idx, float* score, const float* __restrict__ s,
                                 int64_t rows, int64_t K, const float* __restrict__ bias,
                                 float alpha, int k, const float* __restrict__ xn, bool ip) {
  const int lane = threadIdx.x & 31;
  const int64_t row = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= rows) return;
  const float* r = s + row * K;
  float lv[kMaxTopK];
  int li[kMaxTopK];
  int cnt = 0;
  for (int64_t j = lane; j < K; j += 32) {
    const float v = fmaf(alpha, r[j], bias[j]);
    if (cnt == k && !(v < lv[k - 1])) continue;
    int pos = cnt < k ? cnt : k - 1;
    while (pos > 0 && lv[pos - 1] > v) {  // after equal values: index order is kept
      lv[pos] = lv[pos - 1];
      li[pos] = li[pos - 1];
      --pos;
    }
    lv[pos] = v;
    li[pos] = int(j);
    if (cnt < k) ++cnt;
  }
  const float x2 = ip ? 0.f : xn[row];
  int p = 0;
  for (int o = 0; o < k; ++o) {
    const float hv = p < cnt ? lv[p] : kInf;
    const int hi = p < cnt ? li[p] : INT_MAX;
    float wv = hv;
    int wi = hi;
    warp_min(wv, wi, 32);
    if (p < cnt && hi == wi) ++p;  // indices are unique: exactly one lane advances
    if (lane == 0) {
      idx[row * k + o] = wi;
      score[row * k + o] = ip ? -wv : fmaxf(x2 + wv, 0.f);
    }
  }
}

// out = -sqrt(max((xn[row] + cn[k]) + out, 1e-8)) where out holds -2 x.c.
__global__ void similarity_epilogue_kernel(float* out, int64_t N, int64_t K,
                                           const float* __restrict__ xn,
                                           const float* __restrict__ cn) {
  const int64_t total = N * K;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = t / K, k = t % K;
    out[t] = -sqrtf(fmaxf((xn[n] + cn[k]) + out[t], 1e-8f));
  }
}

unsigned warp_blocks(int64_t rows) { return unsigned((rows + kWarpsPerBlock - 1) / kWarpsPerBlock); }

}  // namespace

void gemm_argmin_partial(float* pv, int* pi, const float* x, const float* codes,
                         const float* bias, int64_t bias_hs, int64_t H, int64_t N, int64_t K,
                         int64_t D, int64_t x_hs, int64_t c_hs, bool ip, int device) {
  cudaStream_t st = stream(device);
  const int64_t T = gemm_tile_rows(N, K);
  DeviceBuf tile(sizeof(float) * size_t(T * K), device);
  const float alpha = ip ? -1.f : -2.f;
  for (int64_t h = 0; h < H; ++h)
    for (int64_t r0 = 0; r0 < N; r0 += T) {
      const int64_t rows = std::min(T, N - r0);
      sgemm(false, true, rows, K, D, 1.f, x + h * x_hs + r0 * D, D, codes + h * c_hs, D, 0.f,
            tile.as<float>(), K, device);
      argmin_rows_kernel<<<warp_blocks(rows), 32 * kWarpsPerBlock, 0, st>>>(
          pv + h * N + r0, pi + h * N + r0, tile.as<float>(), rows, K, bias + h * bias_hs, alpha);
      check_launch("nearest_code_argmin_rows_kernel");
    }
}

}  // namespace nc

void nearest_code_topk(int64_t* idx, float* score, const float* x, const float* codes,
                       int64_t H, int64_t N, int64_t K, int64_t D, int64_t x_hs, int64_t c_hs,
                       int64_t k, bool ip, int device) {
  if (H <= 0 || N <= 0) return;
  vq::check<ShapeError>(k >= 1 && k <= nc::kMaxTopK && k <= K && K < INT_MAX,
                    "cuda nearest_code_topk: need 1 <= k <= min(K, 32), got k=", k, " K=", K);
  cudaStream_t st = stream(device);
  const int64_t hx = x_hs ? H : 1, hc = c_hs ? H : 1;
  nc::DeviceBuf norms(sizeof(float) * size_t(hx * N + hc * K), device);
  float* xn = norms.as<float>();
  float* bias = xn + hx * N;
  if (ip) {
    check(cudaMemsetAsync(bias, 0, sizeof(float) * size_t(hc * K), st), "cudaMemsetAsync");
  } else {
    nc::row_sq_norms(xn, x, hx * N, D, st);
    nc::row_sq_norms(bias, codes, hc * K, D, st);
  }
  const int64_t T = nc::gemm_tile_rows(N, K);
  nc::DeviceBuf tile(sizeof(float) * size_t(T * K), device);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t r0 = 0; r0 < N; r0 += T) {
      const int64_t rows = std::min(T, N - r0);
      sgemm(false, true, rows, K, D, 1.f, x + h * x_hs + r0 * D, D, codes + h * c_hs, D, 0.f,
            tile.as<float>(), K, device);
      nc::topk_rows_kernel<<<nc::warp_blocks(rows), 32 * nc::kWarpsPerBlock, 0, st>>>(
          idx + (h * N + r0) * k, score + (h * N + r0) * k, tile.as<float>(), rows, K,
          bias + (c_hs ? h * K : 0), ip ? -1.f : -2.f, int(k), xn + (x_hs ? h * N : 0) + r0, ip);
      check_launch("nearest_code_topk_rows_kernel");
    }
}

void code_similarity(float* out, const float* x, const float* codes, int64_t H, int64_t N,
                     int64_t K, int64_t D, int64_t x_hs, int64_t c_hs, bool ip, int device) {
  if (H <= 0 || N <= 0) return;
  cudaStream_t st = stream(device);
  const int64_t hx = x_hs ? H : 1, hc = c_hs ? H : 1;
  nc::DeviceBuf norms(sizeof(float) * size_t(hx * N + hc * K), device);
  float* xn = norms.as<float>();
  float* cn = xn + hx * N;
  if (!ip) {
    nc::row_sq_norms(xn, x, hx * N, D, st);
    nc::row_sq_norms(cn, codes, hc * K, D, st);
  }
  for (int64_t h = 0; h < H; ++h) {
    float* oh = out + h * N * K;
    // sgemm with D == 0 writes zeros (kernels/cuda/blas.h)
    sgemm(false, true, N, K, D, ip ? 1.f : -2.f, x + h * x_hs, D, codes + h * c_hs, D, 0.f, oh,
          K, device);
    if (!ip) {
      nc::similarity_epilogue_kernel<<<grid_for(N * K), 256, 0, st>>>(
          oh, N, K, xn + (x_hs ? h * N : 0), cn + (c_hs ? h * K : 0));
      check_launch("code_similarity_epilogue_kernel");
    }
  }
}

}  // namespace vq::cuda
