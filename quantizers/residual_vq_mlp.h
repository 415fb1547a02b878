// QincoMLP: the implicit-neural-codebook network of ResidualVQ (QINCo, SPEC.md 4.6,
// https://arxiv.org/abs/2401.14732). For layer l >= 1 it turns the stored codes into a
// per-token codebook conditioned on the running sum of the previous layers' outputs:
// y = proj_in(concat(condition, code)), then `depth` residual blocks
// y = y + Linear_2(SiLU(Linear_1(y))), optionally L2-normalized. State names follow the
// reference: proj_in.*, layers.{j}.0.*, layers.{j}.2.*.
#pragma once
#include <memory>
#include <optional>
#include <vector>

#include "nn/layer.h"
#include "nn/linear.h"

namespace vq {

class QincoMLP : public nn::Module {
 public:
  // dim: code width d; dim_hidden: width inside the blocks (None -> d); depth >= 0.
  // Throws ConfigError for non-positive widths or a negative depth.
  QincoMLP(int64_t dim, std::optional<int64_t> dim_hidden, int64_t depth, bool l2norm_output,
           Generator& gen = default_generator());

  // codes (h, K, d) or (K, d); condition (b, n, d) or (b, d) (taken as n = 1). Returns
  // (h, b, n, K, d) ((b, n, K, d) for 2-D codes): the code transformed for every token.
  // proj_in is applied to the condition and the codes separately and summed (the same
  // map as on their concatenation, without materializing it). Differentiable in codes,
  // condition and parameters. ShapeError when a width is not d.
  Variable forward(const Variable& codes, const Variable& condition);

 private:
  int64_t dim_;
  bool l2norm_output_;
  std::shared_ptr<nn::Linear> proj_in_;
  std::vector<std::shared_ptr<nn::Layer>> blocks_;
};

}  // namespace vq
