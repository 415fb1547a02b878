// ResidualLFQ and GroupedResidualLFQ (SPEC.md section 11): residual quantization
// (SoundStream Algorithm 1, https://arxiv.org/abs/2107.03312) with LFQ layers
// (https://arxiv.org/abs/2310.05737) whose codebook scale halves per layer
// (2^-l), per-layer entropy / commitment losses, quantize dropout (SPEC 4.4), soft
// clamping, decode from indices (through each layer's own decode, so spherical and
// rotated layers decode correctly: SPEC 23.21 fix).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "dist/comm.h"
#include "nn/layer.h"
#include "quantizers/lfq.h"
#include "quantizers/quantizer.h"
#include "quantizers/scalar_common.h"

namespace vq {

struct ResidualLFQOptions {
  int64_t dim = 0;             // required
  int64_t num_quantizers = 0;  // required
  int64_t codebook_size = 0;   // required, a power of two
  bool quantize_dropout = false;
  int64_t quantize_dropout_cutoff_index = 0;
  int64_t quantize_dropout_multiple_of = 1;
  std::optional<double> soft_clamp_input_value;  // layer l gets value / 2^l
  // The remaining keyword arguments, passed to every LFQ layer (LFQOptions keys).
  nlohmann::json lfq_kwargs = nlohmann::json::object();

  static ResidualLFQOptions from_json(const nlohmann::json& j);
  void validate() const;
};

struct ResidualLFQCall {
  Tensor mask;  // bool (b,) or (b, n), forwarded to every layer
  bool return_all_codes = false;
  std::optional<uint64_t> rand_quantize_dropout_fixed_seed;
  static ResidualLFQCall from_json(const nlohmann::json& kwargs);
};

class ResidualLFQ : public Quantizer {
 public:
  explicit ResidualLFQ(ResidualLFQOptions opts, std::shared_ptr<dist::Comm> comm = nullptr,
                       Generator& gen = default_generator());
  // x: (b, n, dim). Returns quantized (b, n, dim), indices (b, n, q) (-1 for dropped
  // layers), loss (q,) (each layer's aux loss; 0 for dropped layers), and with
  // return_all_codes all_codes (q, b, n, c).
  QuantizerOutput forward(const Variable& x, const ResidualLFQCall& call = {});
  std::string module_name() const override { return "ResidualLFQ"; }
  QuantizerOutput call(const QuantizerCall& c) override;

  // (b, ..., q') (q' <= q needs quantize_dropout) -> (q, b, ..., c), zero for -1.
  Tensor get_codes_from_indices(const Tensor& indices);
  // project_out(sum over q); bit-exact with the eval forward.
  Tensor get_output_from_indices(const Tensor& indices) override;

  int64_t codebook_size() const { return opts_.codebook_size; }
  int64_t num_quantizers() const { return static_cast<int64_t>(layers_.size()); }
  const ResidualLFQOptions& options() const { return opts_; }

 private:
  ResidualLFQOptions opts_;
  int64_t c_;
  bool has_projections_;
  std::shared_ptr<nn::Layer> project_in_, project_out_;
  std::vector<std::shared_ptr<LFQ>> layers_;
  std::shared_ptr<dist::Comm> comm_;
  Generator* gen_;
};

struct GroupedResidualLFQOptions {
  int64_t dim = 0;  // required, divisible by groups
  int64_t groups = 1;
  bool accept_image_fmap = false;  // (b, dim, ...) input, handled here (SPEC 23.27 fix)
  nlohmann::json residual_kwargs = nlohmann::json::object();  // ResidualLFQ keys
  static GroupedResidualLFQOptions from_json(const nlohmann::json& j);
};

class GroupedResidualLFQ : public Quantizer {
 public:
  explicit GroupedResidualLFQ(GroupedResidualLFQOptions opts, std::shared_ptr<dist::Comm> comm = nullptr,
                              Generator& gen = default_generator());
  // Groups split the feature axis; one shared dropout seed; quantized concatenated,
  // indices (groups, b, ..., q), loss (groups, q), all_codes (groups, q, ...).
  QuantizerOutput forward(const Variable& x, const Tensor& mask = Tensor(), bool return_all_codes = false);
  std::string module_name() const override { return "GroupedResidualLFQ"; }
  QuantizerOutput call(const QuantizerCall& c) override;
  Tensor get_output_from_indices(const Tensor& indices) override;
  Tensor get_codes_from_indices(const Tensor& indices);

 private:
  GroupedResidualLFQOptions opts_;
  std::vector<std::shared_ptr<ResidualLFQ>> groups_;
  std::shared_ptr<dist::Comm> comm_;
  Generator* gen_;
};

void register_residual_lfq();  // ResidualLFQ and GroupedResidualLFQ

}  // namespace vq
