// Spatial resampling layers: MaxPool2d (torch.nn.MaxPool2d, dilation 1, floor mode)
// and Upsample (torch.nn.Upsample, mode 'nearest', integer scale factors). No
// parameters. Computation: nn::max_pool2d / nn::upsample_nearest2d.
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "nn/layer.h"

namespace vq::nn {

class MaxPool2d : public Layer {
 public:
  // stride 0 means stride = kernel_size (torch's default). Throws ConfigError for
  // kernel < 1, stride < 0, or padding outside [0, kernel / 2].
  explicit MaxPool2d(int64_t kernel_size, int64_t stride = 0, int64_t padding = 0);
  MaxPool2d(std::array<int64_t, 2> kernel_size, std::array<int64_t, 2> stride,
            std::array<int64_t, 2> padding);
  // x [B, C, H, W] or [C, H, W] -> [.., C, Ho, Wo] (errors: nn::max_pool2d).
  Variable forward(const Variable& x) override;
  std::string repr() const override;

 private:
  std::array<int64_t, 2> k_, s_, p_;
};

class Upsample : public Layer {
 public:
  // Only mode "nearest" with integer scale factors >= 1 (ConfigError otherwise,
  // naming the option and the allowed values).
  explicit Upsample(int64_t scale_factor, const std::string& mode = "nearest");
  Upsample(std::array<int64_t, 2> scale_factor, const std::string& mode = "nearest");
  // x [B, C, H, W] or [C, H, W] -> [.., C, H sh, W sw].
  Variable forward(const Variable& x) override;
  std::string repr() const override;

 private:
  std::array<int64_t, 2> scale_;
};

}  // namespace vq::nn
