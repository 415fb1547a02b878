// MaxPool2d and Upsample layers (see pool.h).
#include "nn/pool.h"

#include "nn/functional.h"

namespace vq::nn {

MaxPool2d::MaxPool2d(int64_t kernel_size, int64_t stride, int64_t padding)
    : MaxPool2d({kernel_size, kernel_size}, {stride, stride}, {padding, padding}) {}

MaxPool2d::MaxPool2d(std::array<int64_t, 2> k, std::array<int64_t, 2> s,
                     std::array<int64_t, 2> p)
    : k_(k), s_(s), p_(p) {
  for (int i = 0; i < 2; ++i) {
    if (s_[i] == 0) s_[i] = k_[i];
    VQ_CHECK(ConfigError, k_[i] >= 1 && s_[i] >= 1 && p_[i] >= 0 && 2 * p_[i] <= k_[i],
                       "MaxPool2d: need kernel_size >= 1, stride >= 0 (0 = kernel_size) and "
                       "0 <= padding <= kernel_size / 2, got kernel_size=(", k[0], ", ", k[1],
                       ") stride=(", s[0], ", ", s[1], ") padding=(", p[0], ", ", p[1], ")");
  }
}

Variable MaxPool2d::forward(const Variable& x) { return max_pool2d(x, k_, s_, p_); }

std::string MaxPool2d::repr() const {
  return str_cat("MaxPool2d(kernel_size=(", k_[0], ", ", k_[1], "), stride=(", s_[0], ", ", s_[1],
                 "), padding=(", p_[0], ", ", p_[1], "))");
}

Upsample::Upsample(int64_t scale_factor, const std::string& mode)
    : Upsample(std::array<int64_t, 2>{scale_factor, scale_factor}, mode) {}

Upsample::Upsample(std::array<int64_t, 2> scale_factor, const std::string& mode)
    : scale_(scale_factor) {
  VQ_CHECK(ConfigError, mode == "nearest", "Upsample: mode '", mode,
                     "' is not supported (allowed: 'nearest')");
  VQ_CHECK(ConfigError, scale_[0] >= 1 && scale_[1] >= 1,
                     "Upsample: scale_factor must be an integer >= 1, got (", scale_[0], ", ",
                     scale_[1], ")");
}

Variable Upsample::forward(const Variable& x) { return upsample_nearest2d(x, scale_); }

std::string Upsample::repr() const {
  return str_cat("Upsample(scale_factor=(", scale_[0], ", ", scale_[1], "), mode='nearest')");
}

}  // namespace vq::nn
