// Activation layers (torch.nn.GELU, SiLU, ReLU, Tanh) and Dropout. No parameters.
// Activations use the differentiable elementwise functions of autograd/unary.h;
// Dropout uses nn::dropout with a Philox generator and acts only in training mode.
#pragma once
#include <string>

#include "core/generator.h"
#include "nn/layer.h"

namespace vq::nn {

class GELU : public Layer {
 public:
  // approximate: "none" (erf form, torch's default) or "tanh" (ConfigError otherwise).
  explicit GELU(const std::string& approximate = "none");
  Variable forward(const Variable& x) override;  // any shape, f32
  std::string repr() const override;

 private:
  bool tanh_;
};

class SiLU : public Layer {
 public:
  Variable forward(const Variable& x) override;  // x * sigmoid(x)
  std::string repr() const override { return "SiLU()"; }
};

class ReLU : public Layer {
 public:
  Variable forward(const Variable& x) override;  // max(x, 0); gradient 0 at x == 0
  std::string repr() const override { return "ReLU()"; }
};

class Tanh : public Layer {
 public:
  Variable forward(const Variable& x) override;
  std::string repr() const override { return "Tanh()"; }
};

class Dropout : public Layer {
 public:
  // p in [0, 1] (ConfigError otherwise). The generator must outlive the layer; each
  // training forward consumes numel(x) draws from it.
  explicit Dropout(double p = 0.5, Generator& gen = default_generator());
  // Training: zeroes each element with probability p and scales the rest by
  // 1 / (1 - p). Evaluation: returns x.
  Variable forward(const Variable& x) override;
  std::string repr() const override;
  double p() const { return p_; }

 private:
  double p_;
  Generator* gen_;
};

}  // namespace vq::nn
