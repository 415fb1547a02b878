// SGD (see sgd.h): validation and dispatch of the fused update kernel.
#include "optim/sgd.h"

#include "kernels/cpu/optim.h"

#ifdef VQ_WITH_CUDA
#include "kernels/cuda/optim.h"
#endif

namespace vq::optim {

SGD::SGD(std::vector<Variable> params, const SGDOptions& o)
    : Optimizer(std::move(params), o.lr, "SGD"), opt_(o), momentum_buffer_(params_.size()) {
  VQ_CHECK(ConfigError, o.momentum >= 0.0, "SGD: invalid momentum value ", o.momentum, " (must be >= 0)");
  VQ_CHECK(ConfigError, o.weight_decay >= 0.0, "SGD: invalid weight_decay value ", o.weight_decay,
                     " (must be >= 0)");
  VQ_CHECK(ConfigError, !o.nesterov || (o.momentum > 0.0 && o.dampening == 0.0),
                     "SGD: nesterov momentum requires a momentum > 0 and zero dampening, got "
                     "momentum=", o.momentum, " dampening=", o.dampening);
}

void SGD::update(size_t i, Tensor& value, const Tensor& grad) {
  cpu::SgdParams h;
  h.lr = lr_;
  h.momentum = opt_.momentum;
  h.dampening = opt_.dampening;
  h.weight_decay = opt_.weight_decay;
  h.nesterov = opt_.nesterov;
  h.maximize = opt_.maximize;
  float* buf = nullptr;
  if (opt_.momentum != 0.0) {
    Tensor& b = momentum_buffer_[i];
    h.first = !b.defined();
    if (h.first) b = Tensor::empty(value.shape(), DType::f32, value.device());
    buf = b.data<float>();
  }
  if (value.device().is_cuda()) {
#ifdef VQ_WITH_CUDA
    cuda::sgd_step(value.data<float>(), grad.data<float>(), buf, value.numel(), h,
                   value.device().index);
#else
    throw DeviceError("SGD: CUDA tensors in a build without CUDA");
#endif
  } else {
    cpu::sgd_step(value.data<float>(), grad.data<float>(), buf, value.numel(), h);
  }
}

std::vector<std::pair<std::string, Tensor*>> SGD::state_of(size_t i) {
  return {{"momentum_buffer", &momentum_buffer_[i]}};
}

}  // namespace vq::optim
