// ResidualFSQ and GroupedResidualFSQ (SPEC.md section 9): residual quantization
// (Algorithm 1 of SoundStream, https://arxiv.org/abs/2107.03312) with FSQ layers
// (https://arxiv.org/abs/2309.15505); layer l quantizes residual / levels^-l with the
// symmetric, hard-clamped bound (one fused kernel node per layer, scales folded in),
// quantize dropout (SPEC 4.4), soft clamping of the input, decode from indices.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "dist/comm.h"
#include "nn/layer.h"
#include "quantizers/fsq.h"
#include "quantizers/quantizer.h"
#include "quantizers/scalar_common.h"

namespace vq {

struct ResidualFSQOptions {
  std::vector<int64_t> levels;          // required, each > 1
  int64_t num_quantizers = 0;           // required
  std::optional<int64_t> dim;           // None -> len(levels); projections iff dim != len(levels)
  bool is_channel_first = false;
  bool quantize_dropout = false;
  int64_t quantize_dropout_cutoff_index = 0;
  int64_t quantize_dropout_multiple_of = 1;
  // A number or one value per level; must be unset with bound_hard_clamp (then it is
  // 1 + 1 / (L - 1) per level). An int is accepted (the reference fails on it: SPEC 23.38).
  std::optional<std::vector<float>> soft_clamp_input_value;
  bool bound_hard_clamp = true;
  // The remaining keyword arguments, passed to every FSQ layer (FSQOptions keys).
  nlohmann::json fsq_kwargs = nlohmann::json::object();

  static ResidualFSQOptions from_json(const nlohmann::json& j);
  void validate() const;
};

struct ResidualFSQCall {
  bool return_all_codes = false;
  std::optional<uint64_t> rand_quantize_dropout_fixed_seed;
  static ResidualFSQCall from_json(const nlohmann::json& kwargs);
};

class ResidualFSQ : public Quantizer {
 public:
  explicit ResidualFSQ(ResidualFSQOptions opts, std::shared_ptr<dist::Comm> comm = nullptr,
                       Generator& gen = default_generator());

  // x: (b, n, dim), or (b, dim, ...) with is_channel_first. Returns quantized (x's
  // layout), indices (b, n, q) -- channel-first: (b, q, ...) as the reference (SPEC
  // 23.28) -- with -1 for dropped layers, and with return_all_codes all_codes
  // (q, b, n, c) / (q, b, ..., c). No loss.
  QuantizerOutput forward(const Variable& x, const ResidualFSQCall& call = {});
  std::string module_name() const override { return "ResidualFSQ"; }
  QuantizerOutput call(const QuantizerCall& c) override;

  // indices in the forward's layout, possibly with fewer than q layers (needs
  // quantize_dropout) -> (q, b, ..., c), scaled, zero for -1.
  Tensor get_codes_from_indices(const Tensor& indices);
  // project_out(sum over q); bit-exact with the eval forward. Channel-first indices
  // (b, q, ...) give (b, dim, ...).
  Tensor get_output_from_indices(const Tensor& indices) override;

  int64_t codebook_size() const { return layers_[0]->codebook_size(); }
  int64_t num_quantizers() const { return static_cast<int64_t>(layers_.size()); }
  const ResidualFSQOptions& options() const { return opts_; }
  // (q, K, c) stacked implicit codebooks (K <= 2^24).
  Tensor codebooks();

 private:
  Tensor codes_from_seq_indices(const Tensor& idx_seq);  // (b, N, q') -> (q, b, N, c)

  ResidualFSQOptions opts_;
  int64_t dim_, c_;
  bool has_projections_;
  std::shared_ptr<nn::Layer> project_in_, project_out_;
  std::vector<std::shared_ptr<FSQ>> layers_;
  std::vector<std::vector<float>> scales_;  // (q, c): levels^-l
  std::vector<float> soft_clamp_;           // empty = none
  std::shared_ptr<dist::Comm> comm_;
  Generator* gen_;
};

struct GroupedResidualFSQOptions {
  int64_t dim = 0;  // required, divisible by groups
  int64_t groups = 1;
  bool accept_image_fmap = false;  // (b, dim, ...) input; passed on to the groups (SPEC 23.27 fix)
  nlohmann::json residual_kwargs = nlohmann::json::object();  // ResidualFSQ keys
  static GroupedResidualFSQOptions from_json(const nlohmann::json& j);
};

class GroupedResidualFSQ : public Quantizer {
 public:
  explicit GroupedResidualFSQ(GroupedResidualFSQOptions opts, std::shared_ptr<dist::Comm> comm = nullptr,
                              Generator& gen = default_generator());
  // Splits the feature axis (1 with accept_image_fmap, else last) into groups, runs each
  // group's ResidualFSQ with one shared dropout seed, concatenates the outputs; indices
  // (groups, ...) stacked; all_codes (groups, q, ...) stacked.
  QuantizerOutput forward(const Variable& x, bool return_all_codes = false);
  std::string module_name() const override { return "GroupedResidualFSQ"; }
  QuantizerOutput call(const QuantizerCall& c) override;
  Tensor get_output_from_indices(const Tensor& indices) override;
  Tensor get_codes_from_indices(const Tensor& indices);

 private:
  GroupedResidualFSQOptions opts_;
  std::vector<std::shared_ptr<ResidualFSQ>> groups_;
  std::shared_ptr<dist::Comm> comm_;
  Generator* gen_;
};

void register_residual_fsq();  // ResidualFSQ and GroupedResidualFSQ

}  // namespace vq
