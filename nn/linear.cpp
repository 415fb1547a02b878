// Linear layer (see linear.h).
#include "nn/linear.h"

#include "nn/functional.h"
#include "nn/init.h"

namespace vq::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool bias, Generator& gen)
    : in_(in_features), out_(out_features) {
  VQ_CHECK(ConfigError, in_features >= 0 && out_features >= 0,
                     "Linear: in_features and out_features must be >= 0, got ", in_features,
                     " and ", out_features);
  Tensor w = Tensor::empty({out_, in_});
  init::default_weight_(w, gen);
  weight_ = register_parameter("weight", w);
  if (bias) {
    Tensor b = Tensor::empty({out_});
    init::default_bias_(b, in_, gen);
    bias_ = register_parameter("bias", b);
  }
}

Variable Linear::forward(const Variable& x) { return linear(x, weight_, bias_); }

std::string Linear::repr() const {
  return str_cat("Linear(in_features=", in_, ", out_features=", out_,
                 ", bias=", bias_.defined() ? "True" : "False", ")");
}

}  // namespace vq::nn
