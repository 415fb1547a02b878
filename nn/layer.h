// Layer: a Module with one Variable in and one Variable out (forward), the interface
// Sequential chains. Every layer of nn/ derives from it; quantizers, whose forward
// returns more than a tensor, derive from Module directly. Identity lives here too.
#pragma once
#include <string>

#include "autograd/variable.h"
#include "nn/module.h"

namespace vq::nn {

class Layer : public Module {
 public:
  // Computes the layer on x (shapes, devices and errors: see each layer).
  virtual Variable forward(const Variable& x) = 0;
  Variable operator()(const Variable& x) { return forward(x); }
  // PyTorch-style one-line description, e.g. "Linear(in_features=8, out_features=4, bias=True)".
  virtual std::string repr() const = 0;
};

// Returns its input unchanged (the same Variable).
class Identity : public Layer {
 public:
  Variable forward(const Variable& x) override { return x; }
  std::string repr() const override { return "Identity()"; }
};

}  // namespace vq::nn
