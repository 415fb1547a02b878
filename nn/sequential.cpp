// Sequential and MLP (see sequential.h).
#include "nn/sequential.h"

#include "nn/activation.h"
#include "nn/linear.h"

namespace vq::nn {

Sequential::Sequential(std::vector<std::shared_ptr<Layer>> layers) {
  for (auto& l : layers) append(std::move(l));
}

void Sequential::append(std::shared_ptr<Layer> layer) {
  VQ_CHECK(ConfigError, layer != nullptr, "Sequential: layer ", layers_.size(), " is null");
  register_module(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
}

Variable Sequential::forward(const Variable& x) {
  Variable h = x;
  for (auto& l : layers_) h = l->forward(h);
  return h;
}

const std::shared_ptr<Layer>& Sequential::at(size_t i) const {
  VQ_CHECK(ConfigError, i < layers_.size(), "Sequential: index ", i, " out of range (size ",
                     layers_.size(), ")");
  return layers_[i];
}

std::string Sequential::repr() const {
  std::string s = "Sequential(\n";
  for (size_t i = 0; i < layers_.size(); ++i)
    s += str_cat("  (", i, "): ", layers_[i]->repr(), "\n");
  return s + ")";
}

std::shared_ptr<Layer> make_activation(const std::string& name) {
  if (name == "relu") return std::make_shared<ReLU>();
  if (name == "gelu") return std::make_shared<GELU>();
  if (name == "gelu_tanh") return std::make_shared<GELU>("tanh");
  if (name == "silu") return std::make_shared<SiLU>();
  if (name == "tanh") return std::make_shared<Tanh>();
  if (name == "identity") return std::make_shared<Identity>();
  throw ConfigError(str_cat("activation '", name,
                            "' is not supported (allowed: relu, gelu, gelu_tanh, silu, tanh, "
                            "identity)"));
}

MLP::MLP(const std::vector<int64_t>& dims, const MLPOptions& o, Generator& gen) {
  bool ok = dims.size() >= 2;
  for (int64_t d : dims) ok = ok && d >= 1;
  std::string ds;
  for (int64_t d : dims) ds += str_cat(ds.empty() ? "" : ", ", d);
  VQ_CHECK(ConfigError, ok, "MLP: dims must list at least an input and an output width, all >= 1, "
                     "got [", ds, "]");
  VQ_CHECK(ConfigError, o.dropout >= 0.0 && o.dropout < 1.0, "MLP: dropout must be in [0, 1), got ",
                     o.dropout);
  make_activation(o.activation);  // validate the name even for a single layer
  for (size_t i = 0; i + 1 < dims.size(); ++i) {
    add(std::make_shared<Linear>(dims[i], dims[i + 1], o.bias, gen));
    const bool last = i + 2 == dims.size();
    if (!last || o.activate_last) add(make_activation(o.activation));
    if (!last && o.dropout > 0.0) add(std::make_shared<Dropout>(o.dropout, gen));
  }
}

}  // namespace vq::nn
