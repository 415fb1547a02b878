// Normalization layers: LayerNorm (torch.nn.LayerNorm) and GroupNorm (torch.nn.GroupNorm),
// with PyTorch's defaults (eps 1e-5, weight ones, bias zeros, biased variance) and
// parameter names ("weight", "bias"). Computation: nn::layer_norm / nn::group_norm.
#pragma once
#include <cstdint>

#include "nn/layer.h"

namespace vq::nn {

class LayerNorm : public Layer {
 public:
  // normalized_shape: the trailing dims normalized together (non-empty, sizes >= 1);
  // elementwise_affine adds weight (and bias, unless bias = false) of that shape.
  // Throws ConfigError for an empty shape or sizes < 1.
  explicit LayerNorm(const Shape& normalized_shape, double eps = 1e-5,
                     bool elementwise_affine = true, bool bias = true);
  // x [..., *normalized_shape] -> same shape (errors: nn::layer_norm).
  Variable forward(const Variable& x) override;
  std::string repr() const override;

  const Variable& weight() const { return weight_; }  // undefined without affine
  const Variable& bias() const { return bias_; }

 private:
  Shape shape_;
  double eps_;
  Variable weight_, bias_;
};

class GroupNorm : public Layer {
 public:
  // Throws ConfigError unless num_groups >= 1 divides num_channels >= 1.
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true);
  // x [B, num_channels, *] -> same shape (errors: nn::group_norm).
  Variable forward(const Variable& x) override;
  std::string repr() const override;

  const Variable& weight() const { return weight_; }  // undefined without affine
  const Variable& bias() const { return bias_; }

 private:
  int64_t groups_, channels_;
  double eps_;
  Variable weight_, bias_;
};

}  // namespace vq::nn
