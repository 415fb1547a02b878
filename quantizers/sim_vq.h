// SimVQ (SPEC.md section 13), "Addressing Representation Collapse in Vector Quantized
// Models with One Linear Layer", https://arxiv.org/abs/2411.02038: the codebook is
// implicit, C = code_transform(frozen_codebook), with a frozen Gaussian codebook
// (K, fd) and a trainable transform (default Linear(fd, dim, bias=False)). Nearest
// codes come from the fused search ops::nearest_code (never a N x K distance matrix);
// the loss trains the transform through the selected codes, the output reaches the
// input through the rotation trick (https://arxiv.org/abs/2410.06424) or a straight
// -through estimator. When no gradient can reach the transform (grad mode off, or its
// parameters frozen) C is cached and only recomputed when the transform's parameters
// or the frozen codebook change.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "nn/layer.h"
#include "quantizers/quantizer.h"

namespace vq {

// The reference's constructor arguments and defaults (SPEC 13.1).
struct SimVQOptions {
  int64_t dim = 0;            // required, >= 1
  int64_t codebook_size = 0;  // required, >= 1
  // codebook_transform as a JSON spec (the reference takes any nn.Module):
  //   {"type": "linear", "bias": false}                        -> Linear(fd, dim)
  //   {"type": "mlp", "hidden": [128], "activation": "relu", "bias": true}
  //                                                            -> Linear(fd, 128), ReLU, Linear(128, dim)
  // null -> Linear(fd, dim, bias=False). C++ callers may pass a module instead (below).
  nlohmann::json codebook_transform;
  bool channel_first = false;
  bool rotation_trick = true;
  double input_to_quantize_commit_loss_weight = 0.25;
  double commitment_weight = 1.0;
  std::optional<int64_t> frozen_codebook_dim;  // None -> dim
  // init_fn of the reference: applied to the (K, fd) frozen codebook after the draw.
  // C++ only (a JSON config naming init_fn throws ConfigError).
  std::function<Tensor(const Tensor&)> init_fn;

  // Reads the reference's keyword arguments; unknown keys, wrong types and init_fn
  // throw ConfigError naming the key.
  static SimVQOptions from_json(const nlohmann::json& j);
  // ConfigError naming the option for dim, codebook_size or frozen_codebook_dim < 1.
  void validate() const;
};

// Builds a codebook_transform from its JSON spec (above), mapping width in_dim to
// out_dim, parameters from gen. ConfigError naming `module` for an unknown type or key,
// a hidden width < 1 or an unknown activation.
std::shared_ptr<nn::Layer> sim_vq_transform_from_json(const nlohmann::json& spec, int64_t in_dim, int64_t out_dim,
                                                      Generator& gen, const char* module = "SimVQ");

class SimVQ : public Quantizer {
 public:
  // Draws the frozen codebook N(0, 1) / sqrt(fd) from gen (then init_fn) and builds
  // the transform from options.codebook_transform. Throws ConfigError.
  explicit SimVQ(SimVQOptions opts, Generator& gen = default_generator());
  // As above with a given transform module (the reference's codebook_transform): it
  // must map (K, fd) to (K, dim) (ShapeError at the first use otherwise). A module
  // shared by several SimVQs (ResidualSimVQ with one transform) is one set of
  // parameters, listed under every owner in the state dict.
  SimVQ(SimVQOptions opts, std::shared_ptr<nn::Layer> code_transform, Generator& gen = default_generator());

  // x: (b, ..., dim) -- (b, dim) and (b, n, dim) included -- or (b, dim, ...) with
  // channel_first; f32. Returns quantized in x's layout (value ~= the chosen codes),
  // indices (b, ...) i64 and loss (scalar):
  //   commitment_weight * (mse(sg(x), c) + w * mse(x, sg(c))), w =
  //   input_to_quantize_commit_loss_weight,
  // the same in training and eval (its gradient reaches the transform whenever grad
  // mode is on). ShapeError when the feature width is not dim,
  // DTypeError when x is not f32.
  QuantizerOutput forward(const Variable& x);
  std::string module_name() const override { return "SimVQ"; }
  QuantizerOutput call(const QuantizerCall& c) override;  // no keyword arguments

  // indices (b, ...) -> codes (b, ..., dim), (b, dim, ...) with channel_first: rows of
  // the effective codebook (bit-exact with the codes the forward selected; the
  // reference transforms after the gather, equal up to rounding). ShapeError for
  // indices out of [0, K).
  Tensor indices_to_codes(const Tensor& indices);
  Tensor get_output_from_indices(const Tensor& indices) override { return indices_to_codes(indices); }

  // The effective codebook code_transform(frozen_codebook), (K, dim): differentiable
  // in the transform's parameters when grad mode is on and they require grad, else the
  // cached value (a constant).
  Variable codebook();

  int64_t codebook_size() const { return opts_.codebook_size; }
  int64_t dim() const { return opts_.dim; }
  int64_t frozen_codebook_dim() const { return fd_; }
  const SimVQOptions& options() const { return opts_; }
  const std::shared_ptr<nn::Layer>& code_transform() const { return transform_; }

 private:
  void init(Generator& gen);
  Variable transformed();  // code_transform(frozen) with width checks
  bool cache_valid() const;

  SimVQOptions opts_;
  int64_t fd_ = 0;
  std::shared_ptr<nn::Layer> transform_;
  Tensor* frozen_ = nullptr;
  // eval cache: the codebook and what it was computed from (storage identity + version)
  Tensor cache_;
  std::vector<Tensor> cache_src_;
  std::vector<uint64_t> cache_versions_;
};

void register_sim_vq();

}  // namespace vq
