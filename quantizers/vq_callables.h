// The two VectorQuantize options that take Python callables in the reference, as C++
// factories, plus the small declarative JSON specs that `vq run`, the parity
// fixtures and ResidualVQ configs use for them (docs/quantizers/vector_quantize.md):
//   vq_bridge (FVQ): a layer applied to the whole code tensor (h, K, d) before use,
//     {"type": "linear", "bias": true}                         -> Linear(d, d)
//     {"type": "mlp", "hidden": [64], "activation": "gelu", "bias": true}
//                                                              -> Sequential(Linear(d, 64), GELU(), Linear(64, d))
//   in_place_codebook_optimizer: params -> optimizer over the Codebook's parameters,
//     {"type": "SGD", "lr": 1e-3, "momentum": 0, "dampening": 0, "weight_decay": 0, "nesterov": false}
//     {"type": "Adam" | "AdamW", "lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0, "amsgrad": false}
//     (torch.optim's keyword names and defaults; AdamW's weight_decay defaults to 0.01).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "autograd/variable.h"
#include "core/generator.h"
#include "nn/layer.h"
#include "optim/optimizer.h"

namespace vq {

// Makes the bridge for codes of width codebook_dim; its forward must map (h, K, d) to
// the same shape (the Codebook throws ShapeError otherwise). Parameters drawn from gen.
using VqBridgeFactory = std::function<std::shared_ptr<nn::Layer>(int64_t codebook_dim, Generator& gen)>;
// Makes the in-place optimizer over the Codebook's parameters (embed, then bridge ones).
using InPlaceOptimizerFactory = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Variable> params)>;

// A small layer described by JSON, shared by vq_bridge and SimVQ's codebook_transform:
// {"type": "linear", "bias": true} or {"type": "mlp", "hidden": [64] (or 64),
// "activation": "relu", "bias": true} (Linear, then activation and Linear per hidden
// width, torch's Sequential names 0, 1, 2, ...).
struct LayerSpec {
  bool mlp = false;
  bool bias = true;
  std::vector<int64_t> hidden;
  std::string activation;  // MLP activation (nn::MLPOptions default unless the spec names one)
  // The layer for in_dim -> out_dim, parameters drawn from gen.
  std::shared_ptr<nn::Layer> build(int64_t in_dim, int64_t out_dim, Generator& gen) const;
};
// Parses spec (an object). what names the option in messages ("VectorQuantize.vq_bridge");
// type_hint is appended to the unknown-type message. ConfigError for an unknown type or
// key, hidden widths < 1, an unknown activation.
LayerSpec parse_layer_spec(const nlohmann::json& spec, const std::string& what, const std::string& type_hint = "");

// Parses a vq_bridge spec (above). Throws ConfigError naming the unknown type or key,
// or a wrong value (hidden widths < 1, unknown activation). Like one Python module
// passed in the reference's kwargs, the factory returns one instance per code width
// to every caller (so ResidualVQ layers built from the same options share the bridge).
VqBridgeFactory vq_bridge_from_json(const nlohmann::json& spec);
// Parses an in_place_codebook_optimizer spec (above). Throws ConfigError for an unknown
// type or key or a wrong type; invalid values (lr < 0, ...) throw when the factory runs.
InPlaceOptimizerFactory in_place_optimizer_from_json(const nlohmann::json& spec);

}  // namespace vq
