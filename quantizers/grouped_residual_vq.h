// GroupedResidualVQ (SPEC.md section 5): the feature axis is split into `groups`
// equal chunks, each quantized by its own ResidualVQ (dim / groups wide); outputs are
// concatenated back, indices and losses stacked with a leading group axis. In training
// one quantize-dropout seed is drawn per forward and shared by every group, so all
// groups drop at the same depth. State names: rvqs.{g}.<ResidualVQ keys>.
#pragma once
#include <memory>
#include <vector>

#include "quantizers/residual_vq.h"

namespace vq {

struct GroupedResidualVQOptions {
  int64_t groups = 1;     // dim % groups == 0
  ResidualVQOptions rvq;  // rvq.dim is the full width D; each group gets D / groups

  // Reads the reference's keyword arguments: dim, groups, accept_image_fmap and every
  // ResidualVQ option. Unknown keys throw ConfigError.
  static GroupedResidualVQOptions from_json(const nlohmann::json& j);
};

class GroupedResidualVQ : public Quantizer {
 public:
  // Throws ConfigError when groups < 1 or dim % groups != 0, and for any invalid
  // ResidualVQ option.
  explicit GroupedResidualVQ(GroupedResidualVQOptions opts, std::shared_ptr<dist::Comm> comm = nullptr,
                             Generator& gen = default_generator());

  // x: any ResidualVQ layout with the full width D on the feature axis (last, or 1 for
  // fmaps / channel-first). Returns quantized (x's shape), indices (groups, <ResidualVQ
  // index shape>), loss (groups, q), all_codes (groups, q, b, n, d) with
  // return_all_codes (the reference returns a tuple of per-group tensors). In
  // cross-entropy mode call.indices is (groups, b, n, q) and loss the summed scalar.
  // call.rand_quantize_dropout_fixed_seed (a vqcpp extension) fixes the shared seed.
  QuantizerOutput forward(const Variable& x, const ResidualVQCall& call = {});

  std::string module_name() const override { return "GroupedResidualVQ"; }
  QuantizerOutput call(const QuantizerCall& c) override;
  // indices (groups, b, ..., q') -> (groups, q, b, ..., d).
  Tensor get_codes_from_indices(const Tensor& indices);
  // indices (groups, b, ..., q') -> the output, groups concatenated on the feature axis.
  Tensor get_output_from_indices(const Tensor& indices) override;
  // (groups, q, K, d).
  Tensor codebooks();

  int64_t groups() const { return static_cast<int64_t>(rvqs_.size()); }
  ResidualVQ& group(int64_t g) { return *rvqs_.at(static_cast<size_t>(g)); }

 private:
  int64_t split_dim(int64_t rank) const;

  GroupedResidualVQOptions opts_;
  std::shared_ptr<dist::Comm> comm_;
  Generator* gen_;
  std::vector<std::shared_ptr<ResidualVQ>> rvqs_;
};

void register_grouped_residual_vq();

}  // namespace vq
