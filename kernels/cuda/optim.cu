// CUDA fused optimizer steps and clipping helpers (see optim.h). Arithmetic uses the
// round-to-nearest intrinsics in the CPU's operation order (no FMA contraction), so
// CPU and CUDA trajectories agree to the last bit except for sqrt/division rounding,
// which are IEEE-exact on both.
#include <cuda_runtime.h>

#include "core/cuda/context.h"
#include "kernels/cuda/index_workspace.h"
#include "kernels/cuda/nn_common.cuh"
#include "kernels/cuda/optim.h"

namespace vq::cuda {

namespace {

constexpr int kBlock = 256;
constexpr int kReduceBlocks = 256;  // fixed, so the reduction tree never changes

struct SgdScalars {
  float wd, mom, one_minus_damp, neg_lr;
  bool nesterov, maximize, first, has_wd, has_mom;
};

__global__ void sgd_kernel(float* __restrict__ p, const float* __restrict__ grad,
                           float* __restrict__ buf, int64_t n, SgdScalars s) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    float g = s.maximize ? -grad[i] : grad[i];
    if (s.has_wd) g = __fadd_rn(g, __fmul_rn(s.wd, p[i]));
    if (s.has_mom) {
      const float b =
          s.first ? g : __fadd_rn(__fmul_rn(buf[i], s.mom), __fmul_rn(s.one_minus_damp, g));
      buf[i] = b;
      g = s.nesterov ? __fadd_rn(g, __fmul_rn(s.mom, b)) : b;
    }
    p[i] = __fadd_rn(p[i], __fmul_rn(s.neg_lr, g));
  }
}

__device__ __forceinline__ float lerp_rn(float a, float b, float w) {
  return (w < 0.5f && w > -0.5f) ? __fadd_rn(a, __fmul_rn(w, __fsub_rn(b, a)))
                                 : __fsub_rn(b, __fmul_rn(__fsub_rn(b, a), __fsub_rn(1.f, w)));
}

__global__ void adam_kernel(float* __restrict__ param, const float* __restrict__ grad,
                            float* __restrict__ m_, float* __restrict__ v_,
                            float* __restrict__ vmax_, int64_t n, cpu::AdamScalars s,
                            bool coupled_wd, bool decoupled_wd, bool amsgrad, bool maximize) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    float p = param[i];
    float g = maximize ? -grad[i] : grad[i];
    if (decoupled_wd) p = __fmul_rn(p, s.decay);
    if (coupled_wd) g = __fadd_rn(g, __fmul_rn(s.decay, p));
    const float m = lerp_rn(m_[i], g, s.lerp_w);
    const float v =
        __fadd_rn(__fmul_rn(v_[i], s.beta2), __fmul_rn(__fmul_rn(s.one_minus_beta2, g), g));
    m_[i] = m;
    v_[i] = v;
    float vv = v;
    if (amsgrad) {
      vv = fmaxf(vmax_[i], v);
      vmax_[i] = vv;
    }
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vv), s.bc2_sqrt), s.eps);
    param[i] = __fadd_rn(p, __fdiv_rn(__fmul_rn(s.neg_step_size, m), denom));
  }
}

// partial[block] = sum of x^2 over this block's grid-stride slice (f64, fixed tree).
__global__ void sum_squares_partial_kernel(double* __restrict__ partial,
                                           const float* __restrict__ x, int64_t n) {
  __shared__ double sh[32];
  double s = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const double t = x[i];
    s += t * t;
  }
  s = nn_detail::block_sum(s, sh);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// acc[0] += sum of partial[0 .. k) (one block).
__global__ void sum_partials_into_kernel(double* __restrict__ acc,
                                         const double* __restrict__ partial, int k) {
  __shared__ double sh[32];
  double s = 0;
  for (int i = threadIdx.x; i < k; i += blockDim.x) s += partial[i];
  s = nn_detail::block_sum(s, sh);
  if (threadIdx.x == 0) acc[0] += s;
}

__global__ void clip_coef_kernel(float* total_norm, float* coef, const double* acc,
                                 float max_norm) {
  const float t = static_cast<float>(sqrt(acc[0]));
  total_norm[0] = t;
  const float c = __fdiv_rn(max_norm, __fadd_rn(t, 1e-6f));
  coef[0] = c < 1.f ? c : 1.f;
}

__global__ void scale_kernel(float* __restrict__ x, int64_t n, const float* __restrict__ coef) {
  const float c = coef[0];
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    x[i] = __fmul_rn(x[i], c);
}

}  // namespace

void sgd_step(float* param, const float* grad, float* buf, int64_t n, const cpu::SgdParams& h,
              int device) {
  if (n == 0) return;
  SgdScalars s;
  s.wd = static_cast<float>(h.weight_decay);
  s.mom = static_cast<float>(h.momentum);
  s.one_minus_damp = static_cast<float>(1.0 - h.dampening);
  s.neg_lr = static_cast<float>(-h.lr);
  s.nesterov = h.nesterov;
  s.maximize = h.maximize;
  s.first = h.first;
  s.has_wd = s.wd != 0.f;
  s.has_mom = s.mom != 0.f;
  sgd_kernel<<<grid_for(n, kBlock), kBlock, 0, stream(device)>>>(param, grad, buf, n, s);
  check_launch("sgd_kernel");
}

void adam_step(float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, int64_t n, const cpu::AdamParams& h, int device) {
  if (n == 0) return;
  const cpu::AdamScalars s = cpu::adam_scalars(h);
  const bool coupled = !h.decoupled && h.weight_decay != 0.0;
  const bool decoupled = h.decoupled && h.weight_decay != 0.0;
  adam_kernel<<<grid_for(n, kBlock), kBlock, 0, stream(device)>>>(
      param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, n, s, coupled, decoupled, h.amsgrad,
      h.maximize);
  check_launch("adam_kernel");
}

void clip_grad_norm(float* total_norm, float* const* grads, const int64_t* sizes, int64_t count,
                    double max_norm, int device) {
  cudaStream_t st = stream(device);
  // [0]: the f64 accumulator, [1 .. kReduceBlocks]: per-block partials, then the f32 coef
  Workspace ws((1 + kReduceBlocks) * sizeof(double) + sizeof(float), device);
  double* acc = ws.as<double>();
  double* partial = acc + 1;
  float* coef = reinterpret_cast<float*>(partial + kReduceBlocks);
  check(cudaMemsetAsync(acc, 0, sizeof(double), st), "clip_grad_norm: cudaMemsetAsync");
  for (int64_t i = 0; i < count; ++i) {
    if (sizes[i] == 0) continue;
    sum_squares_partial_kernel<<<kReduceBlocks, kBlock, 0, st>>>(partial, grads[i], sizes[i]);
    check_launch("sum_squares_partial_kernel");
    sum_partials_into_kernel<<<1, kBlock, 0, st>>>(acc, partial, kReduceBlocks);
    check_launch("sum_partials_into_kernel");
  }
  clip_coef_kernel<<<1, 1, 0, st>>>(total_norm, coef, acc, static_cast<float>(max_norm));
  check_launch("clip_coef_kernel");
  for (int64_t i = 0; i < count; ++i) {
    if (sizes[i] == 0) continue;
    scale_kernel<<<grid_for(sizes[i], kBlock), kBlock, 0, st>>>(grads[i], sizes[i], coef);
    check_launch("scale_kernel");
  }
}

}  // namespace vq::cuda
