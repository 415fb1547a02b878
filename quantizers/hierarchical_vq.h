// HierarchicalVQ (SPEC.md section 16, as in the pinned 1.32.0): multi-scale residual VQ
// over 1-D sequences, images or 3-D feature maps (VAR-style, https://arxiv.org/abs/2404.02905).
// For each scale, coarse to fine: adaptive average pooling of the residual to the
// scale's shape, a VectorQuantize (shared or one per scale) on the pooled tokens,
// (bi/tri)linear upsampling back to the full shape, a refinement block
// phi(x) = lerp(x, conv3(x), quant_resi), and the residual update. Masks (or 1-D lens)
// weight the pooling; nested dropout in training keeps only the first levels.
// Pooling and interpolation are separable linear maps, applied as small matmuls along
// each spatial axis (differentiable by construction).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "quantizers/quantizer.h"
#include "quantizers/vector_quantize.h"

namespace vq {

namespace hvq {
// x (b, c, *spatial) f32 -> (b, c, *to): torch's adaptive_avg_pool{1,2,3}d (pool) or
// interpolate(mode (bi/tri)linear, align_corners=False), as one small matmul per spatial
// axis whose size changes. Differentiable (linear in x).
Variable resample(const Variable& x, const Shape& to, bool pool);
// nn.Conv{1,2,3}d(c, c, 3, padding=1): x (b, c, *spatial) with 1 to 3 spatial axes,
// weight (c, c, 3, ...), bias (c,). 1-D and 3-D run through conv2d (3-D: sum over the
// depth taps). ShapeError for other ranks.
Variable conv3_same(const Variable& x, const Variable& weight, const Variable& bias);
}  // namespace hvq

// The reference's keyword-only constructor arguments and defaults.
struct HierarchicalVQOptions {
  int64_t dim = 0;                          // required
  std::vector<int64_t> codebook_size;       // required: one int (every level) or one per level
  // One entry per level, coarse to fine: {s} (s on every spatial axis; JSON int) or one
  // extent per spatial axis (JSON list). Non-decreasing per axis, positive.
  std::vector<std::vector<int64_t>> scales;
  bool shared_codebook = true;              // needs equal codebook sizes
  bool channel_first = true;                // input (b, dim, ...) else (b, ..., dim)
  std::optional<bool> sync_codebook;
  double decay = 0.99;
  double commitment_weight = 1.0;
  bool rotation_trick = false;
  bool kmeans_init = true;
  int64_t kmeans_iters = 10;
  double threshold_ema_dead_code = 2;
  bool stochastic_sample_codes = false;
  double sample_codebook_temp = 0.1;
  double orthogonal_reg_weight = 0.0;
  int64_t orthogonal_reg_max_codes = 128;
  bool orthogonal_reg_active_codes_only = false;
  double quant_resi = 0.5;                  // |quant_resi| <= 1e-8: phi is the identity
  int64_t share_quant_resi = 1;             // 1: one shared phi; <= 0: one per level; else min(levels, n)
  double nested_dropout = 0.0;              // in [0, 1]
  int64_t nested_dropout_min_levels = 1;    // >= 1
  bool accept_image_fmap = false;           // 2 spatial axes
  bool accept_3d_fmap = false;              // 3 spatial axes (neither: 1)

  // Unknown keys / wrong types throw ConfigError naming the key.
  static HierarchicalVQOptions from_json(const nlohmann::json& j);
  // The reference's assertions as ConfigError naming the option.
  void validate() const;
  int64_t spatial_dims() const { return accept_image_fmap ? 2 : accept_3d_fmap ? 3 : 1; }
  // scales expanded to one extent per spatial axis.
  std::vector<Shape> level_shapes() const;
};

struct HierarchicalVQOutput {
  Variable reconstruction;      // the input's layout and shape
  std::vector<Tensor> indices;  // per level i64 (b, *level_shape); -1 where the level mask is empty
  Variable commit_loss;         // scalar: mean of the kept levels' VQ losses
  std::optional<int64_t> cutoff;  // nested dropout: last kept level
};

class HierarchicalVQ : public Quantizer {
 public:
  explicit HierarchicalVQ(HierarchicalVQOptions opts, Generator& gen = default_generator());

  // x (b, dim, *spatial) with channel_first, else (b, *spatial, dim); spatial rank =
  // spatial_dims. mask bool (b, *spatial) (true = valid) or lens i64 (b,) (1-D only),
  // not both. ShapeError for layouts, ConfigError for mask + lens or lens on images.
  HierarchicalVQOutput forward(const Variable& x, const Tensor& mask = Tensor(), const Tensor& lens = Tensor(),
                               std::optional<double> sample_codebook_temp = std::nullopt);

  std::string module_name() const override { return "HierarchicalVQ"; }
  // Tensors mask / lens; kwargs sample_codebook_temp, return_cutoff (accepted), indices
  // (must be null). indices: the levels' indices flattened and concatenated, (b, sum n_i).
  QuantizerOutput call(const QuantizerCall& c) override;
  // Inverse of call()'s concatenated indices, at the full shape of the last forward
  // (before any forward: the last scale's shape).
  Tensor get_output_from_indices(const Tensor& indices) override;

  // Decodes per-level indices (b, *level_shape) (-1 decodes to zeros) at full_shape
  // (default: the last scale's shape, as the reference) -> the input layout.
  Tensor get_output_from_indices(const std::vector<Tensor>& indices,
                                 std::optional<Shape> full_shape = std::nullopt);

  int64_t num_levels() const { return static_cast<int64_t>(level_shapes_.size()); }
  const std::vector<Shape>& level_shapes() const { return level_shapes_; }
  VectorQuantize& vq_for_level(int64_t level);
  // The phi block index used for a level (Python half-to-even rounding of the position).
  int64_t phi_index(int64_t level) const;
  const HierarchicalVQOptions& options() const { return opts_; }

 private:
  Variable upsample_to_full(const Variable& q, const Shape& full, int64_t level);
  Variable apply_phi(const Variable& x, int64_t level);
  std::optional<int64_t> sample_nested_cutoff();

  HierarchicalVQOptions opts_;
  std::vector<Shape> level_shapes_;
  std::vector<std::shared_ptr<VectorQuantize>> vqs_;  // one (shared) or one per level
  std::vector<std::shared_ptr<nn::Module>> phis_;     // the conv blocks
  bool phi_shared_;
  std::optional<Shape> last_full_shape_;
  Generator* gen_;
};

void register_hierarchical_vq();

}  // namespace vq
