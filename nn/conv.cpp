// Conv2d layer (see conv.h).
#include "nn/conv.h"

#include "nn/functional.h"
#include "nn/init.h"

namespace vq::nn {

namespace {

Conv2dOptions make_options(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, bool bias) {
  Conv2dOptions o;
  o.in_channels = in;
  o.out_channels = out;
  o.kernel_size = {k, k};
  o.stride = {s, s};
  o.padding = {p, p};
  o.bias = bias;
  return o;
}

std::string pair_str(const std::array<int64_t, 2>& a) {
  return str_cat("(", a[0], ", ", a[1], ")");
}

}  // namespace

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride,
               int64_t padding, bool bias, Generator& gen)
    : Conv2d(make_options(in_channels, out_channels, kernel_size, stride, padding, bias), gen) {}

Conv2d::Conv2d(const Conv2dOptions& o, Generator& gen) : opt_(o) {
  VQ_CHECK(ConfigError, o.in_channels >= 1 && o.out_channels >= 1, "Conv2d: in_channels and "
                     "out_channels must be >= 1, got ", o.in_channels, " and ", o.out_channels);
  VQ_CHECK(ConfigError, o.kernel_size[0] >= 1 && o.kernel_size[1] >= 1 && o.stride[0] >= 1 &&
                         o.stride[1] >= 1 && o.padding[0] >= 0 && o.padding[1] >= 0,
                     "Conv2d: kernel_size and stride must be >= 1 and padding >= 0, got "
                     "kernel_size=", pair_str(o.kernel_size), " stride=", pair_str(o.stride),
                     " padding=", pair_str(o.padding));
  Tensor w = Tensor::empty({o.out_channels, o.in_channels, o.kernel_size[0], o.kernel_size[1]});
  init::default_weight_(w, gen);
  weight_ = register_parameter("weight", w);
  if (o.bias) {
    Tensor b = Tensor::empty({o.out_channels});
    init::default_bias_(b, o.in_channels * o.kernel_size[0] * o.kernel_size[1], gen);
    bias_ = register_parameter("bias", b);
  }
}

Variable Conv2d::forward(const Variable& x) {
  return conv2d(x, weight_, bias_, opt_.stride, opt_.padding);
}

std::string Conv2d::repr() const {
  return str_cat("Conv2d(", opt_.in_channels, ", ", opt_.out_channels,
                 ", kernel_size=", pair_str(opt_.kernel_size), ", stride=", pair_str(opt_.stride),
                 ", padding=", pair_str(opt_.padding), opt_.bias ? "" : ", bias=False", ")");
}

}  // namespace vq::nn
