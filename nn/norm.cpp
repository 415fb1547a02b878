// LayerNorm and GroupNorm layers (see norm.h).
#include "nn/norm.h"

#include "nn/functional.h"

namespace vq::nn {

LayerNorm::LayerNorm(const Shape& normalized_shape, double eps, bool elementwise_affine,
                     bool bias)
    : shape_(normalized_shape), eps_(eps) {
  bool ok = !normalized_shape.empty();
  for (int64_t s : normalized_shape) ok = ok && s >= 1;
  VQ_CHECK(ConfigError, ok, "LayerNorm: normalized_shape must be non-empty with sizes >= 1, got ",
                     shape_str(normalized_shape));
  if (elementwise_affine) {
    weight_ = register_parameter("weight", Tensor::ones(shape_));
    if (bias) bias_ = register_parameter("bias", Tensor::zeros(shape_));
  }
}

Variable LayerNorm::forward(const Variable& x) {
  return layer_norm(x, shape_, weight_, bias_, eps_);
}

std::string LayerNorm::repr() const {
  std::string s = "(";
  for (size_t i = 0; i < shape_.size(); ++i) s += str_cat(i ? ", " : "", shape_[i]);
  s += shape_.size() == 1 ? ",)" : ")";
  return str_cat("LayerNorm(", s, ", eps=", eps_,
                 ", elementwise_affine=", weight_.defined() ? "True" : "False", ")");
}

GroupNorm::GroupNorm(int64_t num_groups, int64_t num_channels, double eps, bool affine)
    : groups_(num_groups), channels_(num_channels), eps_(eps) {
  VQ_CHECK(ConfigError, num_groups >= 1 && num_channels >= 1 && num_channels % num_groups == 0,
                     "GroupNorm: num_channels must be divisible by num_groups (both >= 1), got "
                     "num_groups=", num_groups, " num_channels=", num_channels);
  if (affine) {
    weight_ = register_parameter("weight", Tensor::ones({num_channels}));
    bias_ = register_parameter("bias", Tensor::zeros({num_channels}));
  }
}

Variable GroupNorm::forward(const Variable& x) {
  return group_norm(x, groups_, weight_, bias_, eps_);
}

std::string GroupNorm::repr() const {
  return str_cat("GroupNorm(", groups_, ", ", channels_, ", eps=", eps_,
                 ", affine=", weight_.defined() ? "True" : "False", ")");
}

}  // namespace vq::nn
