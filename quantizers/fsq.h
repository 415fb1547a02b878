// FSQ: finite scalar quantization (SPEC.md section 7), "Finite Scalar Quantization:
// VQ-VAE Made Simple", https://arxiv.org/abs/2309.15505; symmetry-preserving bound and
// noise dropout from https://arxiv.org/abs/2411.19842 (section 3.2); orthogonal
// rotation from https://arxiv.org/abs/2307.13304v2. The implicit codebook is never
// stored: one fused kernel bounds, rounds, normalizes and indexes (int64, exact for
// any prod(levels) < 2^63), one fused kernel runs the backward.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/layer.h"
#include "quantizers/quantizer.h"
#include "quantizers/scalar_common.h"

namespace vq {

// The reference's constructor arguments and defaults (SPEC 7.1).
struct FSQOptions {
  std::vector<int64_t> levels;                 // required, each >= 2
  std::optional<int64_t> dim;                  // None -> len(levels) * num_codebooks
  int64_t num_codebooks = 1;
  std::optional<bool> keep_num_codebooks_dim;  // None -> num_codebooks > 1
  std::optional<double> scale;                 // stored and unused, as in the reference
  // torch dtype names; inputs of other float dtypes are cast to f32 for quantization
  // (every dtype is computed in f32 here: f64 inputs are quantized in f32).
  std::vector<std::string> allowed_dtypes = {"float32", "float64"};
  bool channel_first = false;
  bool projection_has_bias = true;
  bool return_indices = true;
  bool force_quantization_f32 = true;
  bool preserve_symmetry = false;
  double noise_dropout = 0.0;
  bool bound_hard_clamp = false;
  bool orthogonal_rotation = false;
  // Extension (not in the reference): the bound's tanh correctly rounded (slow) instead
  // of the 1-ulp vectorized one. Both round identically away from level boundaries.
  bool exact_tanh = false;

  // Reads the reference's keyword arguments (plus the extension); unknown keys and wrong
  // types throw ConfigError naming the key.
  static FSQOptions from_json(const nlohmann::json& j);
  // The reference's assertions (level 2 and noise need preserve_symmetry, several
  // codebooks need keep_num_codebooks_dim, ...), as ConfigError naming the rule.
  void validate() const;
};

class FSQ : public Quantizer {
 public:
  // Throws ConfigError for invalid options. gen: projections, rotation, noise dropout.
  explicit FSQ(FSQOptions opts, Generator& gen = default_generator());

  // z: (b, n, dim); (b, dim, n) with channel_first; (b, dim, ...) for rank >= 4 (image,
  // video). Returns quantized in z's layout and indices (b, n[, h]) / (b, ...[, h]) (i64;
  // undefined with return_indices=False). No loss (undefined). Training adds noise
  // dropout when noise_dropout > 0. ShapeError when the feature dim is not `dim`.
  QuantizerOutput forward(const Variable& z);

  std::string module_name() const override { return "FSQ"; }
  QuantizerOutput call(const QuantizerCall& c) override;  // no keyword arguments
  Tensor get_output_from_indices(const Tensor& indices) override { return indices_to_codes(indices); }

  // Inverse of the forward's indices (SPEC 7.4): codes, rotated back, codebooks merged,
  // projected out, channel axis restored for image/video or channel_first. Bit-exact
  // with the forward output.
  Tensor indices_to_codes(const Tensor& indices);
  // codes (..., c) in [-1, 1] -> indices (...).
  Tensor codes_to_indices(const Tensor& codes);
  // indices (...) -> per-dimension levels (..., c).
  Tensor indices_to_level_indices(const Tensor& indices);
  // The (K, c) codebook, computed on demand (the reference stores it); ConfigError when
  // K > 2^24 rows.
  Tensor implicit_codebook();

  // For ResidualFSQ: quantizes r (b, n, c) as FSQ(r / scale) * scale, in one fused node
  // when this layer has no projection, rotation or extra codebooks.
  sq::FsqResult quantize_scaled(const Variable& r, const std::vector<float>& scale);

  int64_t codebook_size() const;  // prod(levels); ConfigError when it overflows int64
  int64_t codebook_dim() const { return static_cast<int64_t>(opts_.levels.size()); }
  int64_t dim() const { return dim_; }
  bool has_projections() const { return has_projections_; }
  const FSQOptions& options() const { return opts_; }
  const ops::FsqSpec& spec() const { return spec_; }

 private:
  sq::FsqResult quantize_inner(const Variable& z, const ops::FsqSpec& spec);
  Variable rotate(const Variable& z, bool inverse) const;

  FSQOptions opts_;
  ops::FsqSpec spec_;
  int64_t dim_, h_, c_;
  bool keep_;
  bool has_projections_;
  std::shared_ptr<nn::Layer> project_in_, project_out_;
  Tensor* rot_ = nullptr;  // orthogonal_rot (c, c) when orthogonal_rotation
  Generator* gen_;
};

void register_fsq();

}  // namespace vq
