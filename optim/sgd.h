// SGD with momentum, dampening, Nesterov and (coupled) weight decay, with
// torch.optim.SGD's exact update (kernels/cpu/optim.h has the formulas; the momentum
// buffer is created from the first gradient, undamped, as torch does).
#pragma once
#include <vector>

#include "optim/optimizer.h"

namespace vq::optim {

struct SGDOptions {
  double lr = 1e-3;  // torch's default
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool maximize = false;
};

class SGD : public Optimizer {
 public:
  // ConfigError for lr, momentum or weight_decay < 0, or Nesterov without momentum > 0
  // and dampening == 0 (torch's rules), plus the Optimizer checks.
  SGD(std::vector<Variable> params, const SGDOptions& options);
  const SGDOptions& options() const { return opt_; }

 protected:
  void update(size_t i, Tensor& value, const Tensor& grad) override;
  std::vector<std::pair<std::string, Tensor*>> state_of(size_t i) override;

 private:
  SGDOptions opt_;
  std::vector<Tensor> momentum_buffer_;  // undefined until the first step with momentum
};

}  // namespace vq::optim
