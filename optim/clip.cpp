// clip_grad_norm_ (see clip.h): per-tensor sums of squares (kernels/cpu/optim.h or
// kernels/cuda/optim.h) accumulated in f64, one scaling pass per gradient.
#include "optim/clip.h"

#include <cmath>

#include "kernels/cpu/optim.h"

#ifdef VQ_WITH_CUDA
#include "kernels/cuda/optim.h"
#endif

namespace vq::optim {

Tensor clip_grad_norm_(const std::vector<Variable>& params, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  const char* op = "clip_grad_norm_";
  VQ_CHECK(ConfigError, norm_type == 2.0, op, ": only norm_type 2 is supported, got ", norm_type);
  VQ_CHECK(ConfigError, max_norm >= 0.0, op, ": max_norm must be >= 0, got ", max_norm);
  std::vector<Variable> with_grad;
  for (const Variable& p : params)
    if (p.defined() && p.has_grad()) with_grad.push_back(p);
  if (with_grad.empty()) return Tensor::zeros({});
  const Device dev = with_grad[0].grad().device();
  for (const Variable& p : with_grad) {
    VQ_CHECK(DeviceError, p.grad().device() == dev, op, ": gradients on different devices: ",
                       with_grad[0].grad().str(), " and ", p.grad().str());
    VQ_CHECK(DTypeError, p.grad().dtype() == DType::f32, op, ": gradients must be f32, got ",
                      p.grad().str());
  }
  // Gradients are scaled in place; a non-contiguous one is replaced by a contiguous copy.
  std::vector<Tensor> grads;
  for (Variable& p : with_grad) {
    if (!p.grad().is_contiguous()) p.set_grad(p.grad().contiguous());
    grads.push_back(p.grad());
  }
  Tensor total = Tensor::empty({}, DType::f32, dev);
  if (dev.is_cuda()) {
#ifdef VQ_WITH_CUDA
    std::vector<float*> ptrs;
    std::vector<int64_t> sizes;
    for (Tensor& g : grads) {
      ptrs.push_back(g.data<float>());
      sizes.push_back(g.numel());
    }
    cuda::clip_grad_norm(total.data<float>(), ptrs.data(), sizes.data(),
                         static_cast<int64_t>(ptrs.size()), max_norm, dev.index);
    for (Tensor& g : grads) g.bump_version();
    if (error_if_nonfinite) {
      const float t = total.item<float>();
      check(std::isfinite(t), op, ": the total norm of the gradients is non-finite (", t, ")");
    }
#else
    throw DeviceError(str_cat(op, ": CUDA tensors in a build without CUDA"));
#endif
    return total;
  }
  double acc = 0;
  for (const Tensor& g : grads) acc += cpu::sum_squares(g.data<float>(), g.numel());
  const float t = static_cast<float>(std::sqrt(acc));
  total.data<float>()[0] = t;
  check(!error_if_nonfinite || std::isfinite(t), op,
        ": the total norm of the gradients is non-finite (", t, ")");
  float c = static_cast<float>(max_norm) / (t + 1e-6f);
  if (c > 1.f) c = 1.f;
  if (c != 1.f) {
    for (Tensor& g : grads) {
      cpu::scale_inplace(g.data<float>(), g.numel(), c);
      g.bump_version();
    }
  }
  return total;
}

}  // namespace vq::optim
