// Optimizer: the base of SGD, Adam and AdamW. It holds a list of parameter Variables
// (one parameter group, one learning rate that schedules may change) and per-parameter
// state, and updates each parameter in place with a fused kernel (kernels/cpu/optim.h,
// kernels/cuda/optim.h) on the parameter's device. Like torch.optim, parameters
// without a gradient are skipped by step() and their state does not advance.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "core/tensor.h"

namespace vq::optim {

class Optimizer {
 public:
  // params: Variables that require grad (ConfigError otherwise, or when the list is
  // empty or holds the same Variable twice), f32 (DTypeError); lr >= 0 (ConfigError).
  Optimizer(std::vector<Variable> params, double lr, const char* name);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Updates every parameter that has a gradient. Parameter values must be contiguous
  // (ShapeError otherwise); values are written in place and their version bumped, so
  // a graph that saved them can no longer run backward (AutogradError there).
  void step();
  // Clears the parameters' gradients (set_to_none drops them, else fills zeros).
  void zero_grad(bool set_to_none = true);

  double lr() const { return lr_; }
  void set_lr(double lr);  // ConfigError when lr < 0
  const std::vector<Variable>& params() const { return params_; }
  const std::string& name() const { return name_; }

  // Per-parameter state tensors for checkpoints, keyed "<i>.<state name>" with i the
  // parameter's index (e.g. "0.exp_avg", "0.step", "1.momentum_buffer"); step counts
  // are i64 scalars. load_state_dict copies them back (ShapeError / ConfigError on
  // a shape or key mismatch).
  std::map<std::string, Tensor> state_dict() const;
  void load_state_dict(const std::map<std::string, Tensor>& state);

 protected:
  // Updates parameter i (contiguous f32 value) with its contiguous gradient.
  virtual void update(size_t i, Tensor& value, const Tensor& grad) = 0;
  // Named state tensors of parameter i (undefined ones are omitted from state_dict).
  virtual std::vector<std::pair<std::string, Tensor*>> state_of(size_t i) = 0;
  std::vector<std::pair<std::string, Tensor*>> state_of(size_t i) const {
    return const_cast<Optimizer*>(this)->state_of(i);
  }

  std::vector<Variable> params_;
  double lr_;
  std::string name_;
};

}  // namespace vq::optim
