// run_case: one quantizer call described entirely by data, the way `vq run` and the
// golden-fixture replay use it. Build the module from the reference's class name and
// JSON config, load a state dict, run forward (train or eval), back-propagate given
// output gradients, and collect every result under the names of
// docs/parity-fixtures.md: quantized, indices, loss, loss.<term>, all_codes,
// grad.x, grad.<param>, state.<name>, output_from_indices.
#pragma once
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "core/tensor.h"

namespace vq {

struct QuantizerCase {
  std::string module;                     // e.g. "VectorQuantize"
  nlohmann::json config = nlohmann::json::object();
  std::map<std::string, Tensor> state;    // reference state_dict names (may be empty)
  Tensor x;
  std::map<std::string, Tensor> tensors;  // optional "mask", "lens"
  nlohmann::json kwargs = nlohmann::json::object();
  bool train = false;
  bool x_requires_grad = false;           // forced on when grad_output is given
  Tensor grad_output;                     // gradient of quantized (optional)
  Tensor grad_loss;                       // gradient of loss (optional)
  bool decode = true;                     // also return output_from_indices
  Device device = cpu_device();
};

// Runs the case; throws ConfigError for an unknown module or option, ShapeError for
// inputs that do not fit the config. All returned tensors are on the CPU.
std::map<std::string, Tensor> run_quantizer_case(const QuantizerCase& c);

}  // namespace vq
