// LatentQuantize (SPEC.md section 12), "Disentanglement via Latent Quantization",
// https://arxiv.org/abs/2305.18378: every latent dimension i snaps to the nearest
// entry of its own value table V_i (L_i values in [-0.5, 0.5]); the codebook is the
// product of the tables (prod(levels) codes, never materialized); straight-through
// gradient to the input; commitment + quantization losses in training.
// Input is channel-first (b, dim, ...) as in the reference's code (SPEC 23.46).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/layer.h"
#include "quantizers/quantizer.h"

namespace vq {

// The reference's constructor arguments and defaults (SPEC 12.1).
struct LatentQuantizeOptions {
  std::vector<int64_t> levels;  // required: a list, or (JSON) one int repeated codebook_dim times
  int64_t dim = 0;              // required, >= 1
  double commitment_loss_weight = 0.1;
  double quantization_loss_weight = 0.1;
  int64_t num_codebooks = 1;
  int64_t codebook_dim = -1;  // > 0: must equal len(levels); else len(levels)
  // None or False -> num_codebooks > 1 (the reference coerces False to True with
  // several codebooks: matched).
  std::optional<bool> keep_num_codebooks_dim;
  // Value tables as parameters "values_per_latent.{i}" (they get no gradient, as in the
  // reference); otherwise non-persistent buffers (they follow device moves: SPEC 23.22 fix).
  bool optimize_values = true;

  // JSON: "levels" a list, or an int with codebook_dim > 0 (an int without it throws
  // ConfigError, as the reference raises). in_place_codebook_optimizer throws ConfigError
  // (the reference's branch always crashes: SPEC 23.22). Unknown keys / wrong types throw
  // ConfigError naming the key.
  static LatentQuantizeOptions from_json(const nlohmann::json& j);
  // ConfigError naming the option (levels >= 2, codebook_dim, num_codebooks, dim,
  // prod(levels) < 2^31).
  void validate() const;
};

class LatentQuantize : public Quantizer {
 public:
  explicit LatentQuantize(LatentQuantizeOptions opts, Generator& gen = default_generator());

  // z: (b, dim, ...) f32 ((b, dim) is one token). Returns out (z's shape), indices
  // (b, ...) or (b, ..., num_codebooks) when keep_num_codebooks_dim (i64; the reference's
  // int32 widened), loss (scalar): training w_c * mse(sg(z), out) + w_q * mse(sg(out), z),
  // else 0. ShapeError when axis 1 is not dim, DTypeError when z is not f32.
  QuantizerOutput forward(const Variable& z);
  std::string module_name() const override { return "LatentQuantize"; }
  QuantizerOutput call(const QuantizerCall& c) override;  // no keyword arguments

  // indices (b, ...[, h]) -> codes (b, dim, ...) (with project_out) or (b, c*h, ...)
  // without: level_i = (index / basis_i) % L_i, code = (level - L//2) / (L//2) / 2;
  // feature axis always moved to position 1. Bit-exact with the forward output for the
  // default value tables.
  Tensor indices_to_codes(const Tensor& indices, bool project_out = true);
  Tensor get_output_from_indices(const Tensor& indices) override { return indices_to_codes(indices); }
  // codes (..., codebook_dim) on the value grid -> indices (...) by the reference's
  // float formula, truncated (SPEC 12.2 step 3).
  Tensor codes_to_indices(const Tensor& codes);

  int64_t codebook_size() const { return codebook_size_; }
  int64_t codebook_dim() const { return c_; }
  int64_t num_codebooks() const { return h_; }
  bool has_projections() const { return has_projections_; }
  bool keep_num_codebooks_dim() const { return keep_; }
  // Value table of dimension i (L_i,), f32.
  Tensor values(int64_t i) const;
  const LatentQuantizeOptions& options() const { return opts_; }

 private:
  LatentQuantizeOptions opts_;
  int64_t c_ = 0, h_ = 1, codebook_size_ = 1;
  bool keep_ = false, has_projections_ = false;
  std::vector<int64_t> basis_;
  std::shared_ptr<nn::Layer> project_in_, project_out_;
  std::shared_ptr<nn::Module> tables_;  // "values_per_latent"
  std::vector<Variable> param_tables_;  // optimize_values
  std::vector<Tensor*> buffer_tables_;  // !optimize_values
};

// The reference's value table for L levels (f32, bit-exact with torch): odd L
// torch.linspace(-0.5, 0.5, L); even L arange(L) / L - 0.5.
std::vector<float> latent_value_table(int64_t L);

void register_latent_quantize();

}  // namespace vq
