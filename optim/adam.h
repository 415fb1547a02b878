// Adam and AdamW with torch.optim's exact semantics: bias-corrected moments, eps added
// after the square root of the bias-corrected second moment, coupled L2 decay (Adam:
// g += wd p) or decoupled decay (AdamW: p *= 1 - lr wd), optional AMSGrad and
// maximize. Formulas: kernels/cpu/optim.h. Per-parameter state: step, exp_avg,
// exp_avg_sq (and max_exp_avg_sq with amsgrad), created at the first step.
#pragma once
#include <vector>

#include "optim/optimizer.h"

namespace vq::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // AdamW's default is 0.01 (AdamWOptions)
  bool amsgrad = false;
  bool maximize = false;
};

struct AdamWOptions : AdamOptions {
  AdamWOptions() { weight_decay = 1e-2; }
};

class Adam : public Optimizer {
 public:
  // ConfigError for lr, eps or weight_decay < 0, or a beta outside [0, 1), plus the
  // Optimizer checks.
  Adam(std::vector<Variable> params, const AdamOptions& options);
  const AdamOptions& options() const { return opt_; }

 protected:
  Adam(std::vector<Variable> params, const AdamOptions& options, bool decoupled,
       const char* name);
  void update(size_t i, Tensor& value, const Tensor& grad) override;
  std::vector<std::pair<std::string, Tensor*>> state_of(size_t i) override;

 private:
  struct State {
    Tensor step;  // i64 scalar on the CPU
    Tensor exp_avg, exp_avg_sq, max_exp_avg_sq;
  };
  AdamOptions opt_;
  bool decoupled_;
  std::vector<State> state_;
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<Variable> params, const AdamWOptions& options = AdamWOptions());
};

}  // namespace vq::optim
