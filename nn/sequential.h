// Sequential (torch.nn.Sequential): layers applied in order, registered as children
// "0", "1", ... so state_dict keys match torch ("0.weight", "2.bias"). MLP: the usual
// Linear / activation stack as a Sequential (Linear layers at even indices when there
// is no dropout), e.g. MLP({4, 32, 1}) == Sequential(Linear(4, 32), ReLU(), Linear(32, 1)).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/generator.h"
#include "nn/layer.h"

namespace vq::nn {

class Sequential : public Layer {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<Layer>> layers);
  // Appends a layer as child str(size()); returns it. ConfigError on null.
  template <typename L>
  std::shared_ptr<L> add(std::shared_ptr<L> layer) {
    append(layer);
    return layer;
  }
  // Applies the layers in order (the input itself when empty).
  Variable forward(const Variable& x) override;
  std::string repr() const override;

  size_t size() const { return layers_.size(); }
  // Layer i; throws ConfigError when out of range.
  const std::shared_ptr<Layer>& at(size_t i) const;

 private:
  void append(std::shared_ptr<Layer> layer);
  std::vector<std::shared_ptr<Layer>> layers_;
};

struct MLPOptions {
  // "relu", "gelu", "gelu_tanh", "silu", "tanh" or "identity", between Linear layers.
  std::string activation = "relu";
  bool bias = true;
  bool activate_last = false;  // also apply the activation after the last Linear
  double dropout = 0.0;        // Dropout(p) after each hidden activation when > 0
};

class MLP : public Sequential {
 public:
  // dims: {in, hidden..., out} (at least 2 entries, each >= 1), ConfigError otherwise
  // (also for an unknown activation name). Parameters are drawn from `gen`, which
  // Dropout layers also use.
  explicit MLP(const std::vector<int64_t>& dims, const MLPOptions& options = MLPOptions(),
               Generator& gen = default_generator());
};

// The activation layer named like MLPOptions::activation (ConfigError otherwise).
std::shared_ptr<Layer> make_activation(const std::string& name);

}  // namespace vq::nn
