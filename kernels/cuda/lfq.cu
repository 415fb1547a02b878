// CUDA LFQ element-wise kernels (see lfq.h): one thread per (row, codebook) group,
// running the CPU's group math (kernels/cpu/lfq_math.h); the commitment mean as a
// deterministic two-pass reduction (fixed grid, fixed-order tree, double partials).
#include "kernels/cuda/lfq.h"

#include "core/cuda/context.h"
#include "kernels/cuda/index_workspace.h"

namespace vq::cuda {
namespace {

using cpu::LfqParams;

constexpr int kBlock = 256;
constexpr int kReduceBlocks = 256;  // fixed: the reduction order never depends on the GPU

__global__ void lfq_forward_kernel(float* __restrict__ out, int64_t* __restrict__ indices,
                                   float* __restrict__ u_out, const float* __restrict__ x,
                                   const float* __restrict__ act, int64_t groups, LfqParams p,
                                   float qmag, bool training) {
  const int c = p.c;
  for (int64_t g = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; g < groups;
       g += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t idx = cpu::lfq_group_forward(out + g * c, u_out ? u_out + g * c : nullptr,
                                               x + g * c, act ? act + g * c : nullptr, p,
                                               qmag, training);
    if (indices) indices[g] = idx;
  }
}

// Sum of v over the block (blockDim.x == kBlock), fixed tree order; result in thread 0.
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

// Pass 1: block b sums rows b, b + kReduceBlocks, ... (threads stride over elements).
__global__ void commit_partial_kernel(double* __restrict__ part_sum, double* __restrict__ part_cnt,
                                      const float* __restrict__ u,
                                      const uint8_t* __restrict__ row_mask, int64_t N, int64_t W,
                                      float qmag) {
  __shared__ double sh[kBlock];
  double acc = 0.0, cnt = 0.0;
  for (int64_t r = blockIdx.x; r < N; r += gridDim.x) {
    if (row_mask && !row_mask[r]) continue;
    if (threadIdx.x == 0) cnt += 1.0;
    for (int64_t e = threadIdx.x; e < W; e += blockDim.x) {
      const float ue = u[r * W + e];
      const float d = cpu::sub_rn(ue, ue > 0.f ? qmag : -qmag);
      acc += static_cast<double>(cpu::mul_rn(d, d));
    }
  }
  const double s = block_sum(acc, sh);
  const double n = block_sum(cnt, sh);
  if (threadIdx.x == 0) {
    part_sum[blockIdx.x] = s;
    part_cnt[blockIdx.x] = n;
  }
}

// Pass 2 (one block): mean = sum / (rows * W), 0 without rows.
__global__ void commit_final_kernel(float* __restrict__ mean, const double* __restrict__ part_sum,
                                    const double* __restrict__ part_cnt, int nparts, int64_t W) {
  __shared__ double sh[kBlock];
  double s = 0.0, n = 0.0;
  for (int i = threadIdx.x; i < nparts; i += blockDim.x) {
    s += part_sum[i];
    n += part_cnt[i];
  }
  s = block_sum(s, sh);
  n = block_sum(n, sh);
  if (threadIdx.x == 0) *mean = n > 0.0 ? static_cast<float>(s / (n * static_cast<double>(W))) : 0.f;
}

// Selected-row count (one block) -> *coef = grad_commit[0] / (rows * W) (0 without rows).
__global__ void commit_coef_kernel(float* __restrict__ coef, const float* __restrict__ grad_commit,
                                   const uint8_t* __restrict__ row_mask, int64_t N, int64_t W) {
  __shared__ double sh[kBlock];
  double n = 0.0;
  for (int64_t r = threadIdx.x; r < N; r += blockDim.x) n += (!row_mask || row_mask[r]) ? 1.0 : 0.0;
  n = block_sum(n, sh);
  if (threadIdx.x == 0)
    *coef = n > 0.0 ? static_cast<float>(static_cast<double>(*grad_commit) / (n * static_cast<double>(W)))
                    : 0.f;
}

__global__ void lfq_backward_kernel(float* __restrict__ dx, const float* __restrict__ g_out,
                                    const float* __restrict__ g_u, const float* __restrict__ x,
                                    const float* __restrict__ coef_ptr,
                                    const uint8_t* __restrict__ row_mask, int64_t groups, int64_t H,
                                    LfqParams p, float qmag, bool ste_to_u) {
  const int c = p.c;
  const bool plain = !p.spherical && p.soft_clamp <= 0.f;
  for (int64_t g = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; g < groups;
       g += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t o = g * c;
    const int64_t r = g / H;
    float du[cpu::kLfqMaxBits];
    for (int i = 0; i < c; ++i) {
      float v = 0.f;
      if (ste_to_u && g_out) v = g_out[o + i];
      if (g_u) v = cpu::add_rn(v, g_u[o + i]);
      du[i] = v;
    }
    const float coef = coef_ptr ? *coef_ptr : 0.f;
    if (coef != 0.f && (!row_mask || row_mask[r])) {
      float u[cpu::kLfqMaxBits], q[cpu::kLfqMaxBits];
      cpu::lfq_group_forward(q, u, x + o, nullptr, p, qmag, false);
      for (int i = 0; i < c; ++i)
        du[i] = cpu::add_rn(du[i], cpu::mul_rn(coef, cpu::mul_rn(2.f, cpu::sub_rn(u[i], q[i]))));
    }
    if (plain) {
      for (int i = 0; i < c; ++i) dx[o + i] = du[i];
    } else {
      cpu::lfq_group_backward(dx + o, du, x + o, p);
    }
  }
}

__global__ void lfq_indices_to_codes_kernel(float* __restrict__ codes,
                                            const int64_t* __restrict__ indices, int64_t n,
                                            int c, float qmag) {
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int i = static_cast<int>(e % c);
    const int64_t idx = indices[e / c];
    const bool bit = ((idx >> (c - 1 - i)) & 1) != 0;
    codes[e] = idx < 0 ? 0.f : (bit ? qmag : -qmag);
  }
}

}  // namespace

void lfq_forward(float* out, int64_t* indices, float* u_out, const float* x, const float* act,
                 int64_t N, int64_t H, const LfqParams& p, bool training, int device) {
  const int64_t groups = N * H;
  if (groups <= 0) return;
  lfq_forward_kernel<<<grid_for(groups, kBlock), kBlock, 0, stream(device)>>>(
      out, indices, u_out, x, act, groups, p, cpu::lfq_code_mag(p), training);
  check_launch("lfq_forward_kernel");
}

void lfq_commitment_mean(float* mean, const float* u, const uint8_t* row_mask, int64_t N,
                         int64_t H, const LfqParams& p, int device) {
  cudaStream_t s = stream(device);
  const float qmag = cpu::lfq_code_mag(p);
  Workspace ws(2 * kReduceBlocks * sizeof(double), device);
  double* part_sum = ws.as<double>();
  double* part_cnt = part_sum + kReduceBlocks;
  commit_partial_kernel<<<kReduceBlocks, kBlock, 0, s>>>(part_sum, part_cnt, u, row_mask, N,
                                                        H * p.c, qmag);
  check_launch("commit_partial_kernel");
  commit_final_kernel<<<1, kBlock, 0, s>>>(mean, part_sum, part_cnt, kReduceBlocks, H * p.c);
  check_launch("commit_final_kernel");
}

void lfq_backward(float* dx, const float* g_out, const float* g_u, const float* x,
                  const float* grad_commit, const uint8_t* row_mask, int64_t N, int64_t H,
                  const LfqParams& p, bool ste_to_u, int device) {
  const int64_t groups = N * H;
  if (groups <= 0) return;
  cudaStream_t s = stream(device);
  Workspace ws(sizeof(float), device);
  float* coef = nullptr;
  if (grad_commit) {
    coef = ws.as<float>();
    commit_coef_kernel<<<1, kBlock, 0, s>>>(coef, grad_commit, row_mask, N, H * p.c);
    check_launch("commit_coef_kernel");
  }
  lfq_backward_kernel<<<grid_for(groups, kBlock), kBlock, 0, s>>>(
      dx, g_out, g_u, x, coef, row_mask, groups, H, p, cpu::lfq_code_mag(p), ste_to_u);
  check_launch("lfq_backward_kernel");
}

void lfq_indices_to_codes(float* codes, const int64_t* indices, int64_t M, const LfqParams& p,
                          int device) {
  const int64_t n = M * p.c;
  if (n <= 0) return;
  const float qmag = cpu::lfq_code_mag(p);
  lfq_indices_to_codes_kernel<<<grid_for(n, kBlock), kBlock, 0, stream(device)>>>(codes, indices,
                                                                                 n, p.c, qmag);
  check_launch("lfq_indices_to_codes_kernel");
}

}  // namespace vq::cuda
