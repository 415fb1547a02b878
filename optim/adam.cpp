// Adam and AdamW (see adam.h): validation, lazy state creation and dispatch of the
// fused update kernel.
#include "optim/adam.h"

#include "kernels/cpu/optim.h"

#ifdef VQ_WITH_CUDA
#include "kernels/cuda/optim.h"
#endif

namespace vq::optim {

Adam::Adam(std::vector<Variable> params, const AdamOptions& o)
    : Adam(std::move(params), o, false, "Adam") {}

AdamW::AdamW(std::vector<Variable> params, const AdamWOptions& o)
    : Adam(std::move(params), o, true, "AdamW") {}

Adam::Adam(std::vector<Variable> params, const AdamOptions& o, bool decoupled, const char* name)
    : Optimizer(std::move(params), o.lr, name), opt_(o), decoupled_(decoupled),
      state_(params_.size()) {
  VQ_CHECK(ConfigError, o.eps >= 0.0, name_, ": invalid epsilon value ", o.eps, " (must be >= 0)");
  VQ_CHECK(ConfigError, o.beta1 >= 0.0 && o.beta1 < 1.0, name_, ": invalid beta parameter at index 0: ",
                     o.beta1, " (must be in [0, 1))");
  VQ_CHECK(ConfigError, o.beta2 >= 0.0 && o.beta2 < 1.0, name_, ": invalid beta parameter at index 1: ",
                     o.beta2, " (must be in [0, 1))");
  VQ_CHECK(ConfigError, o.weight_decay >= 0.0, name_, ": invalid weight_decay value ",
                     o.weight_decay, " (must be >= 0)");
}

void Adam::update(size_t i, Tensor& value, const Tensor& grad) {
  State& s = state_[i];
  const Device dev = value.device();
  if (!s.step.defined()) s.step = Tensor::zeros({}, DType::i64);
  if (!s.exp_avg.defined()) s.exp_avg = Tensor::zeros(value.shape(), DType::f32, dev);
  if (!s.exp_avg_sq.defined()) s.exp_avg_sq = Tensor::zeros(value.shape(), DType::f32, dev);
  if (opt_.amsgrad && !s.max_exp_avg_sq.defined())
    s.max_exp_avg_sq = Tensor::zeros(value.shape(), DType::f32, dev);
  int64_t& step = s.step.data<int64_t>()[0];
  ++step;
  cpu::AdamParams h;
  h.lr = lr_;
  h.beta1 = opt_.beta1;
  h.beta2 = opt_.beta2;
  h.eps = opt_.eps;
  h.weight_decay = opt_.weight_decay;
  h.step = step;
  h.decoupled = decoupled_;
  h.amsgrad = opt_.amsgrad;
  h.maximize = opt_.maximize;
  float* vmax = opt_.amsgrad ? s.max_exp_avg_sq.data<float>() : nullptr;
  if (dev.is_cuda()) {
#ifdef VQ_WITH_CUDA
    cuda::adam_step(value.data<float>(), grad.data<float>(), s.exp_avg.data<float>(),
                    s.exp_avg_sq.data<float>(), vmax, value.numel(), h, dev.index);
#else
    throw DeviceError(str_cat(name_, ": CUDA tensors in a build without CUDA"));
#endif
  } else {
    cpu::adam_step(value.data<float>(), grad.data<float>(), s.exp_avg.data<float>(),
                   s.exp_avg_sq.data<float>(), vmax, value.numel(), h);
  }
}

std::vector<std::pair<std::string, Tensor*>> Adam::state_of(size_t i) {
  State& s = state_[i];
  return {{"step", &s.step},
          {"exp_avg", &s.exp_avg},
          {"exp_avg_sq", &s.exp_avg_sq},
          {"max_exp_avg_sq", &s.max_exp_avg_sq}};
}

}  // namespace vq::optim
