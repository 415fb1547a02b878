// JSON specs of vq_bridge and in_place_codebook_optimizer (see vq_callables.h).
#include "quantizers/vq_callables.h"

#include <map>
#include <string>

#include "core/error.h"
#include "nn/linear.h"
#include "nn/sequential.h"
#include "optim/adam.h"
#include "optim/sgd.h"
#include "quantizers/options.h"

namespace vq {

namespace {

// One spec is one module, as one Python object in the reference's kwargs: every
// layer built from copies of the same options (ResidualVQ layers, grouped RVQs)
// gets the same bridge instance (per code width).
VqBridgeFactory shared_per_width(VqBridgeFactory make) {
  auto made = std::make_shared<std::map<int64_t, std::shared_ptr<nn::Layer>>>();
  return [make, made](int64_t d, Generator& gen) {
    auto& slot = (*made)[d];
    if (!slot) slot = make(d, gen);
    return slot;
  };
}

}  // namespace

LayerSpec parse_layer_spec(const nlohmann::json& spec, const std::string& what, const std::string& type_hint) {
  OptionReader r(spec, what);
  LayerSpec ls;
  std::string type;
  r.get("type", type);
  r.get("bias", ls.bias);
  if (type == "linear") {
    r.finish();
    return ls;
  }
  check<ConfigError>(type == "mlp", what, ": type must be \"linear\" or \"mlp\", got \"", type, "\"", type_hint);
  ls.mlp = true;
  if (spec.contains("hidden") && spec.at("hidden").is_number_integer()) {
    ls.hidden.push_back(spec.at("hidden").get<int64_t>());
    r.accept("hidden");
  } else {
    r.get("hidden", ls.hidden);
  }
  nn::MLPOptions mo;
  ls.activation = mo.activation;
  r.get("activation", ls.activation);
  r.finish();
  for (int64_t h : ls.hidden) check<ConfigError>(h >= 1, what, ": hidden widths must be >= 1, got ", h);
  nn::make_activation(ls.activation);  // unknown names fail now, not when a layer is built
  return ls;
}

std::shared_ptr<nn::Layer> LayerSpec::build(int64_t in_dim, int64_t out_dim, Generator& gen) const {
  if (!mlp) return std::make_shared<nn::Linear>(in_dim, out_dim, bias, gen);
  nn::MLPOptions mo;
  mo.bias = bias;
  mo.activation = activation;
  std::vector<int64_t> dims{in_dim};
  dims.insert(dims.end(), hidden.begin(), hidden.end());
  dims.push_back(out_dim);
  return std::make_shared<nn::MLP>(dims, mo, gen);
}

VqBridgeFactory vq_bridge_from_json(const nlohmann::json& spec) {
  check<ConfigError>(spec.is_object(), "VectorQuantize: option 'vq_bridge' must be an object like "
                     "{\"type\": \"mlp\", \"hidden\": [64]}, got ", spec.dump());
  const LayerSpec ls = parse_layer_spec(
      spec, "VectorQuantize.vq_bridge",
      " (the reference's transformer bridge needs x-transformers and is not supported)");
  return shared_per_width([ls](int64_t d, Generator& gen) { return ls.build(d, d, gen); });
}

InPlaceOptimizerFactory in_place_optimizer_from_json(const nlohmann::json& spec) {
  check<ConfigError>(spec.is_object(), "VectorQuantize: option 'in_place_codebook_optimizer' must be an object like "
                     "{\"type\": \"SGD\", \"lr\": 0.001}, got ", spec.dump());
  OptionReader r(spec, "VectorQuantize.in_place_codebook_optimizer");
  std::string type;
  r.get("type", type);
  if (type == "SGD") {
    optim::SGDOptions o;
    r.get("lr", o.lr);
    r.get("momentum", o.momentum);
    r.get("dampening", o.dampening);
    r.get("weight_decay", o.weight_decay);
    r.get("nesterov", o.nesterov);
    r.get("maximize", o.maximize);
    r.finish();
    return [o](std::vector<Variable> p) -> std::unique_ptr<optim::Optimizer> {
      return std::make_unique<optim::SGD>(std::move(p), o);
    };
  }
  check<ConfigError>(type == "Adam" || type == "AdamW",
                     "VectorQuantize.in_place_codebook_optimizer: type must be \"SGD\", \"Adam\" or \"AdamW\", got \"",
                     type, "\"");
  optim::AdamWOptions wo;
  optim::AdamOptions o = type == "AdamW" ? static_cast<optim::AdamOptions>(wo) : optim::AdamOptions();
  r.get("lr", o.lr);
  std::vector<double> betas{o.beta1, o.beta2};
  r.get("betas", betas);
  check<ConfigError>(betas.size() == 2, "VectorQuantize.in_place_codebook_optimizer: betas must have 2 entries, got ",
                     betas.size());
  o.beta1 = betas[0];
  o.beta2 = betas[1];
  r.get("eps", o.eps);
  r.get("weight_decay", o.weight_decay);
  r.get("amsgrad", o.amsgrad);
  r.get("maximize", o.maximize);
  r.finish();
  if (type == "Adam")
    return [o](std::vector<Variable> p) -> std::unique_ptr<optim::Optimizer> {
      return std::make_unique<optim::Adam>(std::move(p), o);
    };
  optim::AdamWOptions w;
  static_cast<optim::AdamOptions&>(w) = o;
  return [w](std::vector<Variable> p) -> std::unique_ptr<optim::Optimizer> {
    return std::make_unique<optim::AdamW>(std::move(p), w);
  };
}

}  // namespace vq
