// Quantizer: the common face of every quantizer module (VectorQuantize, FSQ, LFQ,
// their residual and grouped families, ...). Each module has its own typed options
// and forward; this interface adds a generic call used by `vq run`, the golden
// fixture replay and the registry, where inputs and per-call keyword arguments come
// by name exactly as in the reference.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "autograd/variable.h"
#include "nn/module.h"

namespace vq {

// What a forward returns. Fields a module does not produce stay undefined.
struct QuantizerOutput {
  Variable quantized;  // same layout as the input
  Tensor indices;      // i64
  Variable loss;       // scalar (or per-candidate, e.g. VectorQuantize top-k in eval)
  // Loss terms under the reference's field names (e.g. "commitment", "codebook_diversity").
  std::map<std::string, Variable> breakdown;
  // Residual families with return_all_codes: (q, b, n, d).
  Variable all_codes;
};

// Inputs of a generic call: the input x plus optional named tensors (mask, lens,
// indices) and the reference's per-call keyword arguments as JSON
// (e.g. {"freeze_codebook": true, "return_loss_breakdown": true}).
struct QuantizerCall {
  Variable x;
  std::map<std::string, Tensor> tensors;
  nlohmann::json kwargs = nlohmann::json::object();
};

class Quantizer : public nn::Module {
 public:
  // The reference's class name, e.g. "VectorQuantize".
  virtual std::string module_name() const = 0;
  // Runs forward from named inputs; unknown kwargs or tensors throw ConfigError.
  virtual QuantizerOutput call(const QuantizerCall& c) = 0;
  // Decodes indices back to outputs (inverse of the encode path).
  virtual Tensor get_output_from_indices(const Tensor& indices) = 0;
};

using QuantizerFactory = std::function<std::shared_ptr<Quantizer>(const nlohmann::json& config)>;

// Registers a factory under the reference's class name. Built-in modules register
// in quantizers/builtin.cpp (explicitly, not through static objects, which a static
// library would drop). Throws ConfigError on a duplicate name.
void register_quantizer(const std::string& name, QuantizerFactory factory);
// Builds a registered quantizer; ConfigError lists the known names on a miss.
std::shared_ptr<Quantizer> make_quantizer(const std::string& name, const nlohmann::json& config);
std::vector<std::string> registered_quantizers();

}  // namespace vq
