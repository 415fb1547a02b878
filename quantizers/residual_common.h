// Pieces shared by the residual scalar quantizers (ResidualFSQ, ResidualLFQ) and their
// grouped forms (GroupedResidualFSQ, GroupedResidualLFQ): splitting a config into the
// module's own keys and the keys passed on to its layers, reading the forward's
// keyword arguments and input tensors, the quantize-dropout decision (SPEC 4.4), the
// residual layer loop, padding of indices from dropped layers, and the per-group
// collection / stacking of the grouped wrappers.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/generator.h"
#include "dist/comm.h"
#include "kernels/ops.h"
#include "nn/layer.h"
#include "quantizers/quantize_dropout.h"
#include "quantizers/quantizer.h"

namespace vq::sq {

// ---------------- configuration ----------------

// Splits j into the keys in `known` (mine, read by the module's OptionReader) and the
// rest (passed on to the layers). ConfigError "<module>: config must be a JSON object,
// got ..." unless j is an object or null (null gives two empty objects).
void split_keys(const nlohmann::json& j, const std::set<std::string>& known, nlohmann::json& mine,
                nlohmann::json& rest, const char* module);

// nn::Linear(in, out) with bias, as a Layer (the residual modules' project_in / project_out).
std::shared_ptr<nn::Layer> linear_with_bias(int64_t in, int64_t out, Generator& gen);

// Reads the residual forward's keyword arguments return_all_codes and
// rand_quantize_dropout_fixed_seed from kw (OptionReader named `module`; ConfigError on
// unknown keys or wrong types).
void read_residual_call(const nlohmann::json& kw, const char* module, bool& return_all_codes,
                        std::optional<uint64_t>& rand_quantize_dropout_fixed_seed);

// The "mask" input of a call (undefined when absent) when mask_allowed; any other name
// (or "mask" when not allowed) throws ConfigError "<module>: unknown input tensor '<name>'".
Tensor mask_input(const std::map<std::string, Tensor>& tensors, bool mask_allowed, const char* module);

// ---------------- residual forward / decode ----------------

// Index of the last layer that runs: q - 1 unless training with dropout active and
// gradients enabled (SPEC 4.4); then the depth drawn from fixed_seed, or from a seed
// drawn from gen and summed over comm when fixed_seed is unset.
int64_t last_active_layer(const QuantizeDropout& dropout, int64_t q, bool training,
                          const std::optional<uint64_t>& fixed_seed, Generator& gen, dist::Comm& comm);

// What one layer gives the residual loop for the residual r (b, n, c).
struct LayerStep {
  Variable codes;  // (b, n, c): added to the output, subtracted (detached) from the residual
  Tensor indices;  // b * n indices (any shape); reshaped to (b, n)
  Variable loss;   // the layer's loss (scalar); read only with_losses
};
struct ResidualPass {
  Variable out;                 // sum of the codes of the layers that ran
  std::vector<Tensor> indices;  // q tensors (b, n) i64; -1 for dropped layers
  std::vector<Variable> losses;  // with_losses: q scalars, 0 for dropped layers; else empty
};
// Runs step(l, residual) for layers l = 0..min(last, q - 1) on x (b, n, c); layers past
// `last` give index -1 (and loss 0 with_losses), on x's device.
ResidualPass run_residual_layers(const Variable& x, int64_t q, int64_t last, bool with_losses,
                                 const std::function<LayerStep(int64_t, const Variable&)>& step);

// idx (..., q') i64 with q' <= q -> (..., q), the missing layers' indices -1. q' < q
// needs quantize_dropout: ConfigError "<module>: quantize dropout must be enabled to
// reconstruct from fewer quantizers" otherwise.
Tensor pad_dropped_layers(const Tensor& idx, int64_t q, bool quantize_dropout, const char* module);

// codes (q, ...) -> contiguous sum over axis 0 in layer order (bit-exact with the
// forward's running sum).
Tensor sum_over_layers(const Tensor& codes);

// ---------------- grouped wrappers ----------------

// Reads the keys dim, groups and accept_image_fmap of j (OptionReader named `module`);
// every other key goes to residual_kwargs. The template fills a Grouped*Options struct O
// (fields dim, groups, accept_image_fmap, residual_kwargs).
void read_grouped_keys(const nlohmann::json& j, const char* module, int64_t& dim, int64_t& groups,
                       bool& accept_image_fmap, nlohmann::json& residual_kwargs);
template <typename O>
O grouped_options_from_json(const nlohmann::json& j, const char* module) {
  O o;
  read_grouped_keys(j, module, o.dim, o.groups, o.accept_image_fmap, o.residual_kwargs);
  return o;
}

// The config of each group's residual module: residual_kwargs with dim / groups.
// ConfigError "<module>: dim (D) must be divisible by groups (G)" and "<module>: got
// multiple values for 'dim'".
nlohmann::json group_member_config(int64_t dim, int64_t groups, const nlohmann::json& residual_kwargs,
                                   const char* module);

// The grouped forward's shared dropout seed: drawn (gen, summed over comm) in training.
std::optional<uint64_t> grouped_dropout_seed(bool training, Generator& gen, dist::Comm& comm);

// Reads the grouped forward's only keyword argument, return_all_codes (OptionReader
// named "<module>.forward").
bool read_grouped_call(const nlohmann::json& kw, const char* module);

// ShapeError "<module>: indices must be (groups=G, ...), got [..]" unless indices has
// rank >= min_rank and groups entries on axis 0.
void check_group_indices(const Tensor& indices, int64_t groups, int64_t min_rank, const char* module);

// Collects the groups' outputs of one grouped forward.
struct GroupOutputs {
  std::vector<Variable> quantized, losses, codes;
  std::vector<Tensor> indices;
  // Adds o (its loss and all_codes when defined), with `indices` as the group's indices.
  void add(const QuantizerOutput& o, const Tensor& indices);
  // quantized as given; indices (groups, ...) stacked; loss (groups, ...) stacked when
  // the groups returned losses; all_codes (groups, ...) stacked when returned.
  QuantizerOutput stacked(const Variable& quantized) const;
};

// (groups, ...) indices -> (groups, ...) codes: each group's get_codes_from_indices of
// its slice, stacked. R: a residual module with get_codes_from_indices(Tensor).
template <typename R>
Tensor stack_group_codes(const std::vector<std::shared_ptr<R>>& groups, const Tensor& indices) {
  std::vector<Tensor> codes;
  for (size_t g = 0; g < groups.size(); ++g)
    codes.push_back(groups[g]->get_codes_from_indices(indices.select(0, static_cast<int64_t>(g))));
  return ops::stack(codes, 0);
}

}  // namespace vq::sq
