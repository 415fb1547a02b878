// dropout (see nn/functional.h): a Philox keep-mask scaled by 1 / (1 - p), applied with
// ag::mul so the gradient is dy * mask.
#include "autograd/functions.h"
#include "kernels/ops.h"
#include "nn/functional.h"
#include "nn/functional_detail.h"

namespace vq::nn {

Variable dropout(const Variable& x, double p, bool training, Generator& gen) {
  const char* op = "dropout";
  detail::check_args(op, {{"x", &x}});
  VQ_CHECK(ConfigError, p >= 0.0 && p <= 1.0, op, ": p must be in [0, 1], got ", p);
  if (!training || p == 0.0) return x;
  if (p == 1.0) return ag::mul(x, 0.0);
  // keep where u >= p (probability 1 - p), u uniform [0, 1) from the generator
  Tensor u = Tensor::rand(x.shape(), gen, x.device());
  Tensor mask = ops::mul(ops::ge(u, p).to(DType::f32), 1.0 / (1.0 - p));
  return ag::mul(x, Variable(mask));
}

}  // namespace vq::nn
