// CUDA LFQ entropy terms (see lfq.h; math in kernels/cpu/lfq_entropy.h).
// Factorized mode: one block per token builds its A (2^c1) and B (2^c2) rows directly
// (entry j = product of its bits' probabilities, in the CPU's order), cuBLAS computes
// avg += A^T B / T per token tile, and the backward's dA = B G^T / T, dB = A G / T;
// one block per token then maps dA, dB back to the bit probabilities (prefix/suffix
// products, fixed-order block reductions). Exact mode: one block per (token,
// codebook) enumerates the 2^c logits for the max, the partition function and the
// clamped entropy; avg is then streamed over codes (one thread per code loops over
// the tokens), so tokens x codes is never stored. Every reduction has a fixed order:
// results do not depend on the GPU or on timing.
#include <cmath>

#include "core/cuda/context.h"
#include "kernels/cuda/blas.h"
#include "kernels/cuda/index_workspace.h"
#include "kernels/cuda/lfq.h"

namespace vq::cuda {
namespace {

using cpu::LfqEntropyParams;

constexpr int kBlock = 256;
constexpr double kEps = 1e-5;
constexpr int kMaxBits = cpu::kLfqEntropyMaxBits;

__device__ double block_sum(double v, double* sh) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = kBlock / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    __syncthreads();
  }
  const double r = sh[0];
  __syncthreads();
  return r;
}

__device__ float block_max(float v, float* sh) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = kBlock / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] = fmaxf(sh[threadIdx.x], sh[threadIdx.x + s]);
    __syncthreads();
  }
  const float r = sh[0];
  __syncthreads();
  return r;
}

__device__ const float* token_ptr(const float* u, const int64_t* rows, int64_t t, int64_t h,
                                  const LfqEntropyParams& p) {
  const int64_t r = rows ? rows[t] : t;
  return u + r * p.H * p.c + h * p.c;
}

__device__ double binary_entropy(double a) {
  const double aa = fabs(a), e = exp(-aa);
  return log1p(e) + aa * e / (1.0 + e);
}

// Shared per-token bit quantities (as the CPU's bit_probs).
struct BitShared {
  double a[kMaxBits];
  double pd[kMaxBits];
  float p1[kMaxBits];
  float p0[kMaxBits];
};

__device__ void load_bits(BitShared& b, const float* ut, const LfqEntropyParams& p) {
  const double f = 4.0 * static_cast<double>(p.inv_temperature) * static_cast<double>(p.code_mag);
  if (threadIdx.x < p.c) {
    const int i = threadIdx.x;
    b.a[i] = f * static_cast<double>(ut[i]);
    b.pd[i] = 1.0 / (1.0 + exp(-b.a[i]));
    b.p1[i] = static_cast<float>(b.pd[i]);
    b.p0[i] = static_cast<float>(1.0 / (1.0 + exp(b.a[i])));
  }
  __syncthreads();
}

// Per-sample entropy of one token (mode as the CPU's token_entropy); adds dH/da to grad.
__device__ double token_entropy(const BitShared& b, int c, cpu::LfqEntropyMode mode, double* grad) {
  if (mode == cpu::LfqEntropyMode::unclamped) {
    double e = 0.0;
    for (int i = 0; i < c; ++i) {
      e += binary_entropy(b.a[i]);
      if (grad) grad[i] += -b.a[i] * b.pd[i] * (1.0 - b.pd[i]);
    }
    return e;
  }
  return cpu::lfq_heavy_entropy(b.pd, c, grad);
}

// A row entry j over bits [i0, i0 + n): product in bit order, most significant first.
__device__ float kron_entry(const BitShared& b, int i0, int n, int64_t j) {
  float v = 1.f;
  for (int i = 0; i < n; ++i) v = cpu::mul_rn(v, ((j >> (n - 1 - i)) & 1) ? b.p1[i0 + i] : b.p0[i0 + i]);
  return v;
}

// One block per token tt of the tile: A [n, K1], B [n, K2], ent[tt] (optional).
__global__ void build_ab_kernel(float* __restrict__ A, float* __restrict__ B,
                                double* __restrict__ ent, const float* __restrict__ u,
                                const int64_t* __restrict__ rows, int64_t t0, int64_t h,
                                LfqEntropyParams p, int c1) {
  __shared__ BitShared b;
  const int64_t tt = blockIdx.x;
  load_bits(b, token_ptr(u, rows, t0 + tt, h, p), p);
  const int c2 = p.c - c1;
  const int64_t K1 = int64_t{1} << c1, K2 = int64_t{1} << c2;
  for (int64_t j = threadIdx.x; j < K1; j += blockDim.x) A[tt * K1 + j] = kron_entry(b, 0, c1, j);
  for (int64_t j = threadIdx.x; j < K2; j += blockDim.x) B[tt * K2 + j] = kron_entry(b, c1, c2, j);
  if (ent && threadIdx.x == 0) ent[tt] = token_entropy(b, p.c, p.mode, nullptr);
}

// d loss / d p_i for bits [i0, i0 + n) from d loss / d (row entries) D [2^n]:
// sum_j D[j] s_i(j) prod_{l != i} q_l(j), with s = +1 for a set bit, -1 otherwise.
__device__ void kron_backward(double* dp, const float* D, const BitShared& b, int i0, int n,
                              double* sh) {
  double acc[kMaxBits];
  for (int i = 0; i < n; ++i) acc[i] = 0.0;
  const int64_t len = int64_t{1} << n;
  for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
    double pre[kMaxBits + 1], suf[kMaxBits + 1];
    pre[0] = 1.0;
    for (int i = 0; i < n; ++i)
      pre[i + 1] = pre[i] * (((j >> (n - 1 - i)) & 1) ? b.p1[i0 + i] : b.p0[i0 + i]);
    suf[n] = 1.0;
    for (int i = n - 1; i >= 0; --i)
      suf[i] = suf[i + 1] * (((j >> (n - 1 - i)) & 1) ? b.p1[i0 + i] : b.p0[i0 + i]);
    const double d = D[j];
    for (int i = 0; i < n; ++i) {
      const double other = pre[i] * suf[i + 1];
      acc[i] += (((j >> (n - 1 - i)) & 1) ? d : -d) * other;
    }
  }
  for (int i = 0; i < n; ++i) {
    const double s = block_sum(acc[i], sh);
    if (threadIdx.x == 0) dp[i0 + i] = s;
  }
}

// One block per token of the tile: du += chain * (dp * p (1 - p) + alpha dH/da).
__global__ void token_backward_kernel(float* __restrict__ du, const float* __restrict__ dA,
                                      const float* __restrict__ dB, const float* __restrict__ u,
                                      const int64_t* __restrict__ rows, int64_t t0, int64_t h,
                                      LfqEntropyParams p, int c1, const float* __restrict__ grad_ps,
                                      int64_t T) {
  __shared__ BitShared b;
  __shared__ double sh[kBlock];
  __shared__ double dp[kMaxBits];
  __shared__ double dh[kMaxBits];
  const int64_t tt = blockIdx.x;
  load_bits(b, token_ptr(u, rows, t0 + tt, h, p), p);
  if (threadIdx.x < p.c) dp[threadIdx.x] = dh[threadIdx.x] = 0.0;
  __syncthreads();
  if (grad_ps && threadIdx.x == 0) token_entropy(b, p.c, p.mode, dh);
  const int c2 = p.c - c1;
  if (dA) {
    kron_backward(dp, dA + tt * (int64_t{1} << c1), b, 0, c1, sh);
    kron_backward(dp, dB + tt * (int64_t{1} << c2), b, c1, c2, sh);
  }
  __syncthreads();
  if (threadIdx.x < p.c) {
    const int i = threadIdx.x;
    const double alpha = grad_ps ? static_cast<double>(*grad_ps) / static_cast<double>(T * p.H) : 0.0;
    const double chain = 4.0 * static_cast<double>(p.inv_temperature) * p.code_mag;
    const double pq = static_cast<double>(b.p1[i]) * static_cast<double>(b.p0[i]);
    const double da = dp[i] * pq + alpha * dh[i];
    const int64_t r = rows ? rows[t0 + tt] : t0 + tt;
    du[r * p.H * p.c + h * p.c + i] += static_cast<float>(chain * da);
  }
}

// Single block: *out = scale * sum(v[0..n)) (fixed order).
__global__ void sum_kernel(float* __restrict__ out, const double* __restrict__ v, int64_t n,
                           double scale) {
  __shared__ double sh[kBlock];
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += v[i];
  s = block_sum(s, sh);
  if (threadIdx.x == 0) *out = static_cast<float>(s * scale);
}

// Single block: mean over codebooks of -sum avg log max(avg, eps).
__global__ void batch_entropy_kernel(float* __restrict__ out, const float* __restrict__ avg,
                                     int64_t n, int64_t H) {
  __shared__ double sh[kBlock];
  double s = 0.0;
  for (int64_t k = threadIdx.x; k < n; k += blockDim.x) {
    const double v = avg[k];
    s -= v * log(fmax(v, kEps));
  }
  s = block_sum(s, sh);
  if (threadIdx.x == 0) *out = static_cast<float>(s / static_cast<double>(H));
}

__global__ void batch_grad_kernel(float* __restrict__ G, const float* __restrict__ avg, int64_t n,
                                  int64_t H, const float* __restrict__ grad_batch) {
  const double f = static_cast<double>(*grad_batch) / static_cast<double>(H);
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < n;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const double v = avg[k];
    G[k] = static_cast<float>(-f * (log(fmax(v, kEps)) + (v >= kEps ? 1.0 : 0.0)));
  }
}

// ---- exact mode ----
// l_k = (2 * dot_k) * beta, dot_k summed over the bits in order (as the CPU's doubling).
__device__ float exact_logit(const float* m, int c, int64_t k, float beta) {
  float dot = 0.f;
  for (int i = 0; i < c; ++i) dot = cpu::add_rn(dot, ((k >> (c - 1 - i)) & 1) ? m[i] : -m[i]);
  return cpu::mul_rn(cpu::mul_rn(2.f, dot), beta);
}

__device__ void load_m(float* m, const float* ut, const LfqEntropyParams& p) {
  if (threadIdx.x < p.c) m[threadIdx.x] = cpu::mul_rn(ut[threadIdx.x], p.code_mag);
  __syncthreads();
}

// One block per (token, codebook) = blockIdx.x (t * H + h): lmax, Z, clamped entropy.
__global__ void exact_stats_kernel(float* __restrict__ lmax_out, double* __restrict__ z_out,
                                   double* __restrict__ ent, const float* __restrict__ u,
                                   const int64_t* __restrict__ rows, LfqEntropyParams p) {
  __shared__ float m[kMaxBits];
  __shared__ float shf[kBlock];
  __shared__ double sh[kBlock];
  const int64_t t = blockIdx.x / p.H, h = blockIdx.x % p.H;
  load_m(m, token_ptr(u, rows, t, h, p), p);
  const int64_t K = int64_t{1} << p.c;
  float mx = -INFINITY;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x) mx = fmaxf(mx, exact_logit(m, p.c, k, p.inv_temperature));
  mx = block_max(mx, shf);
  double z = 0.0;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x)
    z += expf(cpu::sub_rn(exact_logit(m, p.c, k, p.inv_temperature), mx));
  z = block_sum(z, sh);
  double e = 0.0;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x) {
    const float P = static_cast<float>(expf(cpu::sub_rn(exact_logit(m, p.c, k, p.inv_temperature), mx)) / z);
    e -= static_cast<double>(P) * log(fmax(static_cast<double>(P), kEps));
  }
  e = block_sum(e, sh);
  if (threadIdx.x == 0) {
    lmax_out[blockIdx.x] = mx;
    z_out[blockIdx.x] = z;
    ent[blockIdx.x] = e;
  }
}

// One thread per (h, k): avg = mean over tokens of P_t(k), recomputed from u.
__global__ void exact_avg_kernel(float* __restrict__ avg, const float* __restrict__ lmax,
                                 const double* __restrict__ zs, const float* __restrict__ u,
                                 const int64_t* __restrict__ rows, int64_t T, LfqEntropyParams p) {
  const int64_t K = int64_t{1} << p.c, n = p.H * K;
  for (int64_t hk = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; hk < n;
       hk += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t h = hk / K, k = hk % K;
    double s = 0.0;
    for (int64_t t = 0; t < T; ++t) {
      const float* ut = token_ptr(u, rows, t, h, p);
      float m[kMaxBits];
      for (int i = 0; i < p.c; ++i) m[i] = cpu::mul_rn(ut[i], p.code_mag);
      const int64_t th = t * p.H + h;
      const float l = exact_logit(m, p.c, k, p.inv_temperature);
      s += static_cast<float>(expf(cpu::sub_rn(l, lmax[th])) / zs[th]);
    }
    avg[hk] = static_cast<float>(s / static_cast<double>(T));
  }
}

// One block per (token, codebook): du += 2 beta m sum_k P_k (w_k - wbar) s_i(k).
__global__ void exact_backward_kernel(float* __restrict__ du, const float* __restrict__ u,
                                      const int64_t* __restrict__ rows, int64_t T,
                                      const float* __restrict__ G, const float* __restrict__ grad_ps,
                                      LfqEntropyParams p) {
  __shared__ float m[kMaxBits];
  __shared__ float shf[kBlock];
  __shared__ double sh[kBlock];
  const int64_t t = blockIdx.x / p.H, h = blockIdx.x % p.H;
  load_m(m, token_ptr(u, rows, t, h, p), p);
  const int64_t K = int64_t{1} << p.c;
  const float* Gh = G ? G + h * K : nullptr;
  const double alpha = grad_ps ? static_cast<double>(*grad_ps) / static_cast<double>(T * p.H) : 0.0;
  const double invT = 1.0 / static_cast<double>(T);
  float mx = -INFINITY;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x) mx = fmaxf(mx, exact_logit(m, p.c, k, p.inv_temperature));
  mx = block_max(mx, shf);
  double z = 0.0;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x)
    z += expf(cpu::sub_rn(exact_logit(m, p.c, k, p.inv_temperature), mx));
  z = block_sum(z, sh);
  auto prob = [&](int64_t k) {
    return static_cast<double>(
        static_cast<float>(expf(cpu::sub_rn(exact_logit(m, p.c, k, p.inv_temperature), mx)) / z));
  };
  auto weight = [&](int64_t k, double pk) {
    const double g = -(log(fmax(pk, kEps)) + (pk >= kEps ? 1.0 : 0.0));
    return alpha * g + (Gh ? Gh[k] * invT : 0.0);
  };
  double wbar = 0.0;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x) {
    const double pk = prob(k);
    wbar += pk * weight(k, pk);
  }
  wbar = block_sum(wbar, sh);
  double acc[kMaxBits];
  for (int i = 0; i < p.c; ++i) acc[i] = 0.0;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x) {
    const double pk = prob(k);
    const double dl = pk * (weight(k, pk) - wbar);
    for (int i = 0; i < p.c; ++i) acc[i] += ((k >> (p.c - 1 - i)) & 1) ? dl : -dl;
  }
  const int64_t r = rows ? rows[t] : t;
  const double chain = 2.0 * static_cast<double>(p.inv_temperature) * p.code_mag;
  for (int i = 0; i < p.c; ++i) {
    const double s = block_sum(acc[i], sh);
    if (threadIdx.x == 0) du[r * p.H * p.c + h * p.c + i] += static_cast<float>(chain * s);
  }
}

struct Split {
  int c1, c2;
  int64_t K1, K2;
};
Split split_bits(int c) {
  Split s;
  s.c1 = (c + 1) / 2;
  s.c2 = c - s.c1;
  s.K1 = int64_t{1} << s.c1;
  s.K2 = int64_t{1} << s.c2;
  return s;
}

int64_t tile_tokens(const Split& s, int64_t T) {
  const int64_t budget = int64_t{1} << 24;  // floats per A or B tile (64 MiB)
  return std::min<int64_t>(T, std::max<int64_t>(16, budget / std::max(s.K1, s.K2)));
}

}  // namespace

void lfq_entropy_forward(float* avg, float* per_sample, const float* u, const int64_t* rows,
                         int64_t T, const LfqEntropyParams& p, int device) {
  cudaStream_t s = stream(device);
  const int64_t K = int64_t{1} << p.c;
  check(cudaMemsetAsync(avg, 0, static_cast<size_t>(p.H * K) * sizeof(float), s), "cudaMemsetAsync");
  if (T <= 0) {
    check(cudaMemsetAsync(per_sample, 0, sizeof(float), s), "cudaMemsetAsync");
    return;
  }
  Workspace ent(static_cast<size_t>(T * p.H) * sizeof(double), device);
  if (p.mode == cpu::LfqEntropyMode::exact) {
    Workspace lmax(static_cast<size_t>(T * p.H) * sizeof(float), device);
    Workspace zs(static_cast<size_t>(T * p.H) * sizeof(double), device);
    exact_stats_kernel<<<static_cast<unsigned>(T * p.H), kBlock, 0, s>>>(
        lmax.as<float>(), zs.as<double>(), ent.as<double>(), u, rows, p);
    check_launch("exact_stats_kernel");
    exact_avg_kernel<<<grid_for(p.H * K, kBlock), kBlock, 0, s>>>(avg, lmax.as<float>(),
                                                                   zs.as<double>(), u, rows, T, p);
    check_launch("exact_avg_kernel");
  } else {
    const Split sp = split_bits(p.c);
    const int64_t Tt = tile_tokens(sp, T);
    Workspace A(static_cast<size_t>(Tt * sp.K1) * sizeof(float), device);
    Workspace B(static_cast<size_t>(Tt * sp.K2) * sizeof(float), device);
    const float alpha = static_cast<float>(1.0 / static_cast<double>(T));
    for (int64_t h = 0; h < p.H; ++h)
      for (int64_t t0 = 0; t0 < T; t0 += Tt) {
        const int64_t n = std::min(Tt, T - t0);
        build_ab_kernel<<<static_cast<unsigned>(n), kBlock, 0, s>>>(
            A.as<float>(), B.as<float>(), ent.as<double>() + h * T + t0, u, rows, t0, h, p, sp.c1);
        check_launch("build_ab_kernel");
        sgemm(true, false, sp.K1, sp.K2, n, alpha, A.as<float>(), sp.K1, B.as<float>(), sp.K2, 1.f,
              avg + h * K, sp.K2, device);
      }
  }
  sum_kernel<<<1, kBlock, 0, s>>>(per_sample, ent.as<double>(), T * p.H,
                                  1.0 / static_cast<double>(T * p.H));
  check_launch("sum_kernel");
}

void lfq_batch_entropy(float* out, const float* avg, int64_t H, int32_t c, int device) {
  batch_entropy_kernel<<<1, kBlock, 0, stream(device)>>>(out, avg, H * (int64_t{1} << c), H);
  check_launch("batch_entropy_kernel");
}

void lfq_batch_entropy_grad(float* G, const float* avg, int64_t H, int32_t c,
                            const float* grad_batch, int device) {
  const int64_t n = H * (int64_t{1} << c);
  batch_grad_kernel<<<grid_for(n, kBlock), kBlock, 0, stream(device)>>>(G, avg, n, H, grad_batch);
  check_launch("batch_grad_kernel");
}

void lfq_entropy_backward(float* du, const float* u, const int64_t* rows, int64_t T,
                          const float* G, const float* grad_ps, const LfqEntropyParams& p,
                          int device) {
  if (T <= 0) return;
  cudaStream_t s = stream(device);
  const int64_t K = int64_t{1} << p.c;
  if (p.mode == cpu::LfqEntropyMode::exact) {
    exact_backward_kernel<<<static_cast<unsigned>(T * p.H), kBlock, 0, s>>>(du, u, rows, T, G,
                                                                             grad_ps, p);
    check_launch("exact_backward_kernel");
    return;
  }
  const Split sp = split_bits(p.c);
  const int64_t Tt = tile_tokens(sp, T);
  const size_t na = G ? static_cast<size_t>(Tt * sp.K1) : 0, nb = G ? static_cast<size_t>(Tt * sp.K2) : 0;
  Workspace A(na * sizeof(float), device), B(nb * sizeof(float), device);
  Workspace dA(na * sizeof(float), device), dB(nb * sizeof(float), device);
  const float invT = static_cast<float>(1.0 / static_cast<double>(T));
  for (int64_t h = 0; h < p.H; ++h)
    for (int64_t t0 = 0; t0 < T; t0 += Tt) {
      const int64_t n = std::min(Tt, T - t0);
      if (G) {
        build_ab_kernel<<<static_cast<unsigned>(n), kBlock, 0, s>>>(A.as<float>(), B.as<float>(),
                                                                    nullptr, u, rows, t0, h, p, sp.c1);
        check_launch("build_ab_kernel");
        const float* Gh = G + h * K;
        sgemm(false, true, n, sp.K1, sp.K2, invT, B.as<float>(), sp.K2, Gh, sp.K2, 0.f,
              dA.as<float>(), sp.K1, device);
        sgemm(false, false, n, sp.K2, sp.K1, invT, A.as<float>(), sp.K1, Gh, sp.K2, 0.f,
              dB.as<float>(), sp.K2, device);
      }
      token_backward_kernel<<<static_cast<unsigned>(n), kBlock, 0, s>>>(
          du, G ? dA.as<float>() : nullptr, G ? dB.as<float>() : nullptr, u, rows, t0, h, p,
          sp.c1, grad_ps, T);
      check_launch("token_backward_kernel");
    }
}

}  // namespace vq::cuda
