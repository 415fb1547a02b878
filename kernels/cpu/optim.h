// Raw CPU fused optimizer updates (one pass over a parameter tensor per step) and the
// sum of squares used by gradient clipping. f32 pointers + sizes; n elements each.
// The float arithmetic follows torch.optim's single-tensor implementations operation
// by operation (scalars rounded to f32 the way ATen does), so trajectories agree with
// PyTorch to a few ulps. optim/ holds the Tensor-level optimizers; the CUDA twins are
// in kernels/cuda/optim.h.
#pragma once
#include <cstdint>

namespace vq::cpu {

// SGD (torch.optim.SGD). With g = grad (negated when maximize):
//   g += weight_decay * p                          (when weight_decay != 0)
//   momentum != 0: buf = first ? g : momentum * buf + (1 - dampening) * g
//                  g = nesterov ? g + momentum * buf : buf
//   p -= lr * g
// buf may be null only when momentum == 0; first marks the step that creates buf.
struct SgdParams {
  double lr = 0, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false, maximize = false, first = false;
};
void sgd_step(float* param, const float* grad, float* buf, int64_t n, const SgdParams& h);

// Adam / AdamW (torch.optim.Adam, torch.optim.AdamW). With g = grad (negated when
// maximize) and step t >= 1:
//   decoupled (AdamW): p *= 1 - lr * weight_decay;  else g += weight_decay * p
//   m = lerp(m, g, 1 - beta1);  v = beta2 v + (1 - beta2) g^2
//   amsgrad: vmax = max(vmax, v) and v := vmax below
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// vmax may be null unless amsgrad.
struct AdamParams {
  double lr = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  int64_t step = 1;  // t, already incremented for this step
  bool decoupled = false, amsgrad = false, maximize = false;
};
void adam_step(float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, int64_t n, const AdamParams& h);

// Scalars of one Adam step exactly as torch computes them (double, then the f32 the
// kernels use). Shared by the CPU and CUDA kernels.
struct AdamScalars {
  float decay;        // 1 - lr * weight_decay (decoupled) or weight_decay (coupled)
  float lerp_w;       // 1 - beta1
  float beta2, one_minus_beta2;
  float neg_step_size;  // -lr / (1 - beta1^t)
  float bc2_sqrt;       // sqrt(1 - beta2^t)
  float eps;
};
AdamScalars adam_scalars(const AdamParams& h);

// torch.lerp for f32: a + w (b - a) when |w| < 0.5, else b - (b - a)(1 - w).
inline float lerp_f32(float a, float b, float w) {
  return (w < 0.5f && w > -0.5f) ? a + w * (b - a) : b - (b - a) * (1.f - w);
}

// sum of x^2 in double, over fixed chunks added in order (thread-count independent).
double sum_squares(const float* x, int64_t n);

// x *= s
void scale_inplace(float* x, int64_t n, float s);

}  // namespace vq::cpu
