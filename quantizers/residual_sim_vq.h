// ResidualSimVQ (SPEC.md section 14): residual quantization (SoundStream Algorithm 1,
// https://arxiv.org/abs/2107.03312) with SimVQ layers (quantizers/sim_vq.h) of width
// dim, in the caller's layout (channel-first stays channel-first), quantize dropout
// (SPEC 4.4, quantizers/quantize_dropout.h), per-layer losses, decode from indices.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "dist/comm.h"
#include "quantizers/quantizer.h"
#include "quantizers/sim_vq.h"

namespace vq {

struct ResidualSimVQOptions {
  int64_t dim = 0;             // required
  int64_t num_quantizers = 0;  // required
  int64_t codebook_size = 0;   // required
  int64_t heads = 1;           // must be 1 (as the reference asserts)
  bool quantize_dropout = false;
  int64_t quantize_dropout_cutoff_index = 0;
  int64_t quantize_dropout_multiple_of = 1;
  bool channel_first = false;
  bool rotation_trick = true;
  // The remaining keyword arguments, passed to every SimVQ layer (SimVQOptions keys).
  // A codebook_transform spec there is ONE module shared by all layers, as the one
  // Python module the reference's kwargs pass to every layer.
  nlohmann::json sim_vq_kwargs = nlohmann::json::object();

  static ResidualSimVQOptions from_json(const nlohmann::json& j);
  // ConfigError naming the option (heads != 1, num_quantizers < 1, dropout options,
  // layer keys given twice).
  void validate() const;
};

struct ResidualSimVQCall {
  bool return_all_codes = false;
  std::optional<uint64_t> rand_quantize_dropout_fixed_seed;
  static ResidualSimVQCall from_json(const nlohmann::json& kwargs);
};

class ResidualSimVQ : public Quantizer {
 public:
  explicit ResidualSimVQ(ResidualSimVQOptions opts, std::shared_ptr<dist::Comm> comm = nullptr,
                         Generator& gen = default_generator());

  // x: (b, ..., dim), or (b, dim, ...) with channel_first (f32). Returns quantized in x's
  // layout (sum of the layers' outputs), indices (b, ..., q) i64 (-1 for layers dropped by
  // quantize dropout), loss (q,) (0 for dropped layers) and, with return_all_codes,
  // all_codes (q, b, ..., dim) ((q, b, dim, ...) with channel_first).
  QuantizerOutput forward(const Variable& x, const ResidualSimVQCall& call = {});
  std::string module_name() const override { return "ResidualSimVQ"; }
  QuantizerOutput call(const QuantizerCall& c) override;

  // indices (b, ..., q') with q' <= q (fewer needs quantize_dropout; missing layers are
  // -1) -> (q, b, ..., dim) ((q, b, dim, ...) with channel_first); zero codes for -1.
  // ShapeError for q' > q, ConfigError for q' < q without quantize_dropout.
  Tensor get_codes_from_indices(const Tensor& indices);
  // Sum over q of get_codes_from_indices: the forward's output up to rounding.
  Tensor get_output_from_indices(const Tensor& indices) override;

  int64_t codebook_size() const { return opts_.codebook_size; }
  // The reference's property raises (SimVQ has no codebook_dim, SPEC 23.26); fixed: dim.
  int64_t codebook_dim() const { return opts_.dim; }
  int64_t num_quantizers() const { return static_cast<int64_t>(layers_.size()); }
  // (q, K, dim): every layer's effective codebook.
  Tensor codebooks();
  const std::vector<std::shared_ptr<SimVQ>>& layers() const { return layers_; }
  const ResidualSimVQOptions& options() const { return opts_; }

 private:
  ResidualSimVQOptions opts_;
  std::vector<std::shared_ptr<SimVQ>> layers_;
  std::shared_ptr<dist::Comm> comm_;
  Generator* gen_;
};

void register_residual_sim_vq();

}  // namespace vq
