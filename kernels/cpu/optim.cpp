// CPU fused optimizer steps and gradient-clipping helpers (see optim.h). Elementwise
// loops parallelized with OpenMP; the float operations mirror ATen's kernels.
#include "kernels/cpu/optim.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace vq::cpu {

namespace {
constexpr int64_t kParallel = 1 << 15;  // elements below which loops stay serial
constexpr int64_t kChunk = 1 << 14;     // fixed chunk of sum_squares partial sums
}  // namespace

void sgd_step(float* param, const float* grad, float* buf, int64_t n, const SgdParams& h) {
  // Python computes the scalars in double; ATen rounds them to f32.
  const float wd = static_cast<float>(h.weight_decay), mom = static_cast<float>(h.momentum);
  const float neg_lr = static_cast<float>(-h.lr);
  const float one_minus_damp = static_cast<float>(1.0 - h.dampening);
#pragma omp parallel for schedule(static) if (n > kParallel)
  for (int64_t i = 0; i < n; ++i) {
    float g = h.maximize ? -grad[i] : grad[i];
    if (wd != 0.f) g = g + wd * param[i];
    if (mom != 0.f) {
      float b = h.first ? g : buf[i] * mom + one_minus_damp * g;
      buf[i] = b;
      g = h.nesterov ? g + mom * b : b;
    }
    param[i] = param[i] + neg_lr * g;
  }
}

AdamScalars adam_scalars(const AdamParams& h) {
  AdamScalars s;
  s.decay = static_cast<float>(h.decoupled ? 1.0 - h.lr * h.weight_decay : h.weight_decay);
  s.lerp_w = static_cast<float>(1.0 - h.beta1);
  s.beta2 = static_cast<float>(h.beta2);
  s.one_minus_beta2 = static_cast<float>(1.0 - h.beta2);
  const double t = static_cast<double>(h.step);
  const double bc1 = 1.0 - std::pow(h.beta1, t);
  const double bc2 = 1.0 - std::pow(h.beta2, t);
  s.neg_step_size = static_cast<float>(-(h.lr / bc1));
  s.bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  s.eps = static_cast<float>(h.eps);
  return s;
}

void adam_step(float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, int64_t n, const AdamParams& h) {
  const AdamScalars s = adam_scalars(h);
  const bool coupled_wd = !h.decoupled && h.weight_decay != 0.0;
  const bool decoupled_wd = h.decoupled && h.weight_decay != 0.0;
#pragma omp parallel for schedule(static) if (n > kParallel)
  for (int64_t i = 0; i < n; ++i) {
    float p = param[i];
    float g = h.maximize ? -grad[i] : grad[i];
    if (decoupled_wd) p = p * s.decay;
    if (coupled_wd) g = g + s.decay * p;
    const float m = lerp_f32(exp_avg[i], g, s.lerp_w);
    const float v = exp_avg_sq[i] * s.beta2 + s.one_minus_beta2 * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    float vv = v;
    if (h.amsgrad) {
      vv = std::max(max_exp_avg_sq[i], v);
      max_exp_avg_sq[i] = vv;
    }
    const float denom = std::sqrt(vv) / s.bc2_sqrt + s.eps;
    param[i] = p + s.neg_step_size * m / denom;
  }
}

double sum_squares(const float* x, int64_t n) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> part(chunks);
#pragma omp parallel for schedule(static) if (n > kParallel)
  for (int64_t c = 0; c < chunks; ++c) {
    double s = 0;
    const int64_t end = std::min(n, (c + 1) * kChunk);
    for (int64_t i = c * kChunk; i < end; ++i) s += static_cast<double>(x[i]) * x[i];
    part[c] = s;
  }
  double s = 0;
  for (double p : part) s += p;
  return s;
}

void scale_inplace(float* x, int64_t n, float s) {
#pragma omp parallel for schedule(static) if (n > kParallel)
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

}  // namespace vq::cpu
