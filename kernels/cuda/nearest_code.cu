// CUDA nearest-code search (see kernels/cuda/nearest_code.h): the small-D register
// kernel, the fused SGEMM-style tiled kernel with a running-argmin epilogue, the
// norm / finalize helpers, the path heuristic and the top-1 dispatcher. The cuBLAS-based
// pieces (gemm path, top-k, similarities) are in nearest_code_gemm.cu.
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>

#include "core/error.h"
#include "kernels/cuda/nearest_code.h"
#include "kernels/cuda/nearest_code_common.cuh"

namespace vq::cuda {
namespace nc {
namespace {

constexpr float kInf = INFINITY;

__global__ void row_sq_norms_kernel(float* out, const float* __restrict__ a, int64_t rows,
                                    int64_t D) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t r = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32; r < rows;
       r += warps) {
    const float* p = a + r * D;
    float s = 0.f;
    for (int64_t d = lane; d < D; d += 32) s = fmaf(p[d], p[d], s);
    s = warp_sum(s);
    if (lane == 0) out[r] = s;
  }
}

__global__ void finalize_kernel(int64_t* idx, float* score, const float* __restrict__ pv,
                                const int* __restrict__ pi, int S, int64_t HN, int64_t N,
                                const float* __restrict__ xn, int64_t xn_hs, bool ip) {
  for (int64_t g = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; g < HN;
       g += int64_t(gridDim.x) * blockDim.x) {
    float bv = pv[g];
    int bi = pi[g];
    for (int s = 1; s < S; ++s) {
      const float v = pv[s * HN + g];
      const int i = pi[s * HN + g];
      if (better(v, i, bv, bi)) {
        bv = v;
        bi = i;
      }
    }
    idx[g] = bi;
    if (ip) {
      score[g] = -bv;
    } else {
      const int64_t h = g / N, n = g % N;
      score[g] = fmaxf(xn[h * xn_hs + n] + bv, 0.f);
    }
  }
}

// ---------------------------------------------------------------- small D

constexpr int kSmallThreads = 128;
constexpr int kSmallTile = 128;  // codes per shared-memory tile

// Each thread owns R rows (x pre-scaled by alpha, D padded to DP with zeros) and runs
// over codes [k_begin, k_end) of its split: acc = bias + sum_d (alpha x_d) c_d.
template <int DP, int R>
__global__ void __launch_bounds__(kSmallThreads)
    small_d_kernel(float* pv, int* pi, const float* __restrict__ x,
                   const float* __restrict__ codes, const float* __restrict__ bias,
                   int64_t bias_hs, int64_t N, int64_t K, int D, int64_t x_hs, int64_t c_hs,
                   int64_t HN, float alpha, int64_t codes_per_split) {
  __shared__ __align__(16) float cs[kSmallTile * DP];
  __shared__ float cb[kSmallTile];
  const int64_t h = blockIdx.z;
  const int split = blockIdx.y;
  const int64_t k_begin = split * codes_per_split;
  const int64_t k_end = min(K, k_begin + codes_per_split);
  const float* xh = x + h * x_hs;
  const float* ch = codes + h * c_hs;
  const float* bh = bias + h * bias_hs;
  const int64_t row0 = int64_t(blockIdx.x) * (kSmallThreads * R) + threadIdx.x;

  float xs[R][DP];
  float bv[R];
  int bi[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t n = row0 + int64_t(r) * kSmallThreads;
#pragma unroll
    for (int d = 0; d < DP; ++d) xs[r][d] = (n < N && d < D) ? alpha * xh[n * D + d] : 0.f;
    bv[r] = kInf;
    bi[r] = 0;
  }
  for (int64_t t0 = k_begin; t0 < k_end; t0 += kSmallTile) {
    const int tc = int(min(int64_t(kSmallTile), k_end - t0));
    __syncthreads();  // the previous tile is no longer read
    for (int e = threadIdx.x; e < kSmallTile * DP; e += kSmallThreads) {
      const int c = e / DP, d = e % DP;
      cs[e] = (c < tc && d < D) ? ch[(t0 + c) * D + d] : 0.f;
    }
    for (int c = threadIdx.x; c < kSmallTile; c += kSmallThreads) cb[c] = c < tc ? bh[t0 + c] : kInf;
    __syncthreads();
    for (int c = 0; c < tc; ++c) {
      const float4* cp = reinterpret_cast<const float4*>(cs + c * DP);
      float acc[R];
#pragma unroll
      for (int r = 0; r < R; ++r) acc[r] = cb[c];
#pragma unroll
      for (int d4 = 0; d4 < DP / 4; ++d4) {
        const float4 v = cp[d4];
#pragma unroll
        for (int r = 0; r < R; ++r) {
          acc[r] = fmaf(xs[r][4 * d4 + 0], v.x, acc[r]);
          acc[r] = fmaf(xs[r][4 * d4 + 1], v.y, acc[r]);
          acc[r] = fmaf(xs[r][4 * d4 + 2], v.z, acc[r]);
          acc[r] = fmaf(xs[r][4 * d4 + 3], v.w, acc[r]);
        }
      }
#pragma unroll
      for (int r = 0; r < R; ++r)
        if (acc[r] < bv[r]) {
          bv[r] = acc[r];
          bi[r] = int(t0 + c);
        }
    }
  }
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t n = row0 + int64_t(r) * kSmallThreads;
    if (n < N) {
      pv[split * HN + h * N + n] = bv[r];
      pi[split * HN + h * N + n] = bi[r];
    }
  }
}

// ---------------------------------------------------------------- tiled (fused GEMM)

constexpr int BM = 128, BN = 128, BK = 8, TM = 8, TN = 8, kTiledThreads = 256;

// Loads elements [k, k + 4) of row p (valid rows only; zero-padded past D).
__device__ __forceinline__ void load4(float (&v)[4], const float* p, bool valid, int64_t k,
                                      int64_t D, bool vec4) {
  if (valid && vec4 && k < D) {
    const float4 t = *reinterpret_cast<const float4*>(p + k);
    v[0] = t.x;
    v[1] = t.y;
    v[2] = t.z;
    v[3] = t.w;
    return;
  }
#pragma unroll
  for (int j = 0; j < 4; ++j) v[j] = (valid && k + j < D) ? p[k + j] : 0.f;
}

// CTA tile: BM rows x BN codes; thread (ty, tx) = (tid / 16, tid % 16) computes rows
// ty*TM.. and codes tx*TN.. of each code tile, then folds them into its per-row running
// minimum; the 16 threads sharing rows (half a warp) reduce with shuffles at the end.
__global__ void __launch_bounds__(kTiledThreads)
    tiled_kernel(float* pv, int* pi, const float* __restrict__ x, const float* __restrict__ codes,
                 const float* __restrict__ bias, int64_t bias_hs, int64_t N, int64_t K, int64_t D,
                 int64_t x_hs, int64_t c_hs, int64_t HN, float alpha, int64_t codes_per_split,
                 bool vec4) {
  __shared__ __align__(16) float As[BK][BM];
  __shared__ __align__(16) float Bs[BK][BN];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t h = blockIdx.z;
  const int split = blockIdx.y;
  const int64_t k_begin = split * codes_per_split;
  const int64_t k_end = min(K, k_begin + codes_per_split);
  const int64_t m0 = int64_t(blockIdx.x) * BM;
  const float* xh = x + h * x_hs;
  const float* ch = codes + h * c_hs;
  const float* bh = bias + h * bias_hs;
  // loader: thread -> row lr of the tile, elements [lk, lk + 4) of the BK slice
  const int lr = tid >> 1, lk = (tid & 1) * 4;
  const int64_t xrow = m0 + lr;
  const float* xp = xh + xrow * D;

  float bv[TM];
  int bi[TM];
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    bv[i] = kInf;
    bi[i] = 0;
  }
  for (int64_t n0 = k_begin; n0 < k_end; n0 += BN) {
    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;
    const int64_t crow = n0 + lr;
    const float* cp = ch + crow * D;
    for (int64_t k0 = 0; k0 < D; k0 += BK) {
      float a4[4], b4[4];
      load4(a4, xp, xrow < N, k0 + lk, D, vec4);
      load4(b4, cp, crow < k_end, k0 + lk, D, vec4);
      __syncthreads();  // everyone is done reading the previous slice
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        As[lk + j][lr] = a4[j];
        Bs[lk + j][lr] = b4[j];
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < BK; ++kk) {
        const float4 a0 = *reinterpret_cast<const float4*>(&As[kk][ty * TM]);
        const float4 a1 = *reinterpret_cast<const float4*>(&As[kk][ty * TM + 4]);
        const float4 b0 = *reinterpret_cast<const float4*>(&Bs[kk][tx * TN]);
        const float4 b1 = *reinterpret_cast<const float4*>(&Bs[kk][tx * TN + 4]);
        const float a[TM] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
        const float b[TN] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
          for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
      }
    }
    // epilogue: value = bias - 2 ip (or -ip); codes ascend per thread, so strict '<'
    // keeps the lowest index on ties
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int64_t col = n0 + tx * TN + j;
      if (col < k_end) {
        const float b = bh[col];
#pragma unroll
        for (int i = 0; i < TM; ++i) {
          const float v = fmaf(alpha, acc[i][j], b);
          if (v < bv[i]) {
            bv[i] = v;
            bi[i] = int(col);
          }
        }
      }
    }
  }
#pragma unroll
  for (int i = 0; i < TM; ++i) warp_min(bv[i], bi[i], 16);
  if (tx == 0) {
#pragma unroll
    for (int i = 0; i < TM; ++i) {
      const int64_t row = m0 + ty * TM + i;
      if (row < N) {
        pv[split * HN + h * N + row] = bv[i];
        pi[split * HN + h * N + row] = bi[i];
      }
    }
  }
}

int sm_count(int device) {
  static int cached[64] = {};
  if (device >= 0 && device < 64 && cached[device]) return cached[device];
  int n = 0;
  check(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device),
        "cudaDeviceGetAttribute(multiProcessorCount)");
  if (n < 1) n = 1;
  if (device >= 0 && device < 64) cached[device] = n;
  return n;
}

// Splits of the code range so that row tiles x heads x splits fill ~2 waves of CTAs.
// Returns the codes per split (a multiple of `tile`) and sets S.
int64_t choose_splits(int64_t row_tiles, int64_t H, int64_t K, int64_t tile, int device, int& S) {
  const int64_t code_tiles = (K + tile - 1) / tile;
  const int64_t want = 2 * int64_t(sm_count(device));
  int64_t s = (want + row_tiles * H - 1) / (row_tiles * H);
  s = std::max<int64_t>(1, std::min<int64_t>({s, code_tiles, 65535}));
  const int64_t per = (code_tiles + s - 1) / s * tile;
  S = int((K + per - 1) / per);
  return per;
}

inline int small_rows_per_cta(int DP) { return kSmallThreads * (DP <= 16 ? 4 : 2); }

template <int DP>
void launch_small(float* pv, int* pi, const float* x, const float* codes, const float* bias,
                  int64_t bias_hs, int64_t H, int64_t N, int64_t K, int64_t D, int64_t x_hs,
                  int64_t c_hs, float alpha, int64_t per, int S, cudaStream_t st) {
  constexpr int R = DP <= 16 ? 4 : 2;
  const int64_t rows_per_cta = int64_t(kSmallThreads) * R;
  dim3 grid(unsigned((N + rows_per_cta - 1) / rows_per_cta), unsigned(S), unsigned(H));
  small_d_kernel<DP, R><<<grid, kSmallThreads, 0, st>>>(pv, pi, x, codes, bias, bias_hs, N, K,
                                                        int(D), x_hs, c_hs, H * N, alpha, per);
  check_launch("nearest_code_small_d_kernel");
}

}  // namespace

void row_sq_norms(float* out, const float* a, int64_t rows, int64_t D, cudaStream_t st) {
  if (rows <= 0) return;
  const int threads = 256;
  const int64_t blocks = std::min<int64_t>((rows + 7) / 8, 65535LL * 8);
  row_sq_norms_kernel<<<unsigned(blocks), threads, 0, st>>>(out, a, rows, D);
  check_launch("nearest_code_row_sq_norms_kernel");
}

void finalize(int64_t* idx, float* score, const float* pv, const int* pi, int S, int64_t H,
              int64_t N, const float* xn, int64_t xn_hs, bool ip, cudaStream_t st) {
  finalize_kernel<<<grid_for(H * N), 256, 0, st>>>(idx, score, pv, pi, S, H * N, N, xn, xn_hs, ip);
  check_launch("nearest_code_finalize_kernel");
}

}  // namespace nc

NcCudaPath nearest_code_choose_path(int64_t N, int64_t K, int64_t D) {
  if (D <= 32) return NcCudaPath::small_d;
  if (D >= 512) return NcCudaPath::gemm;
  return NcCudaPath::tiled;
}

void nearest_code(int64_t* idx, float* score, const float* x, const float* codes, int64_t H,
                  int64_t N, int64_t K, int64_t D, int64_t x_hs, int64_t c_hs, bool ip,
                  int device, NcCudaPath path) {
  if (H <= 0 || N <= 0) return;
  vq::check<ShapeError>(K >= 1 && K < INT_MAX && H <= 65535, "cuda nearest_code: unsupported sizes H=",
                    H, " K=", K);
  cudaStream_t st = stream(device);
  if (path == NcCudaPath::automatic) path = nearest_code_choose_path(N, K, D);
  if (D == 0) path = NcCudaPath::small_d;
  if (path == NcCudaPath::small_d && D > 32) path = NcCudaPath::tiled;

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
  const int64_t bias_hs = c_hs ? K : 0;
  const float alpha = ip ? -1.f : -2.f;

  // Code splits (S) for the fused paths, then partial minima [S][H*N].
  int S = 1;
  int64_t per = K;
  const int DP = int((std::max<int64_t>(D, 1) + 3) / 4 * 4);
  if (path == NcCudaPath::small_d) {
    const int64_t rpc = nc::small_rows_per_cta(DP);
    per = nc::choose_splits((N + rpc - 1) / rpc, H, K, nc::kSmallTile, device, S);
  } else if (path == NcCudaPath::tiled) {
    per = nc::choose_splits((N + nc::BM - 1) / nc::BM, H, K, nc::BN, device, S);
  }
  nc::DeviceBuf part(size_t(S) * size_t(H * N) * (sizeof(float) + sizeof(int)), device);
  float* pv = part.as<float>();
  int* pi = reinterpret_cast<int*>(pv + int64_t(S) * H * N);

  switch (path) {
    case NcCudaPath::small_d: {
      using Launcher = decltype(&nc::launch_small<4>);
      static const Launcher table[8] = {nc::launch_small<4>,  nc::launch_small<8>,
                                        nc::launch_small<12>, nc::launch_small<16>,
                                        nc::launch_small<20>, nc::launch_small<24>,
                                        nc::launch_small<28>, nc::launch_small<32>};
      table[DP / 4 - 1](pv, pi, x, codes, bias, bias_hs, H, N, K, D, x_hs, c_hs, alpha, per, S, st);
      break;
    }
    case NcCudaPath::tiled: {
      const bool vec4 = D % 4 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 &&
                        reinterpret_cast<uintptr_t>(codes) % 16 == 0;
      dim3 grid(unsigned((N + nc::BM - 1) / nc::BM), unsigned(S), unsigned(H));
      nc::tiled_kernel<<<grid, nc::kTiledThreads, 0, st>>>(pv, pi, x, codes, bias, bias_hs, N, K,
                                                           D, x_hs, c_hs, H * N, alpha, per, vec4);
      check_launch("nearest_code_tiled_kernel");
      break;
    }
    default:
      nc::gemm_argmin_partial(pv, pi, x, codes, bias, bias_hs, H, N, K, D, x_hs, c_hs, ip, device);
      break;
  }
  nc::finalize(idx, score, pv, pi, S, H, N, xn, x_hs ? N : 0, ip, st);
}

}  // namespace vq::cuda
