// Conv2d layer (torch.nn.Conv2d with dilation 1, groups 1, zero padding): weight
// [out_channels, in_channels, KH, KW] and bias [out_channels] under torch's names.
// Default initialization as PyTorch: uniform on +-1/sqrt(in_channels KH KW) for both.
// The computation is nn::conv2d (im2col + GEMM, fused backward kernels).
#pragma once
#include <array>
#include <cstdint>

#include "core/generator.h"
#include "nn/layer.h"

namespace vq::nn {

struct Conv2dOptions {
  int64_t in_channels = 1, out_channels = 1;
  std::array<int64_t, 2> kernel_size{1, 1}, stride{1, 1}, padding{0, 0};  // {height, width}
  bool bias = true;
};

class Conv2d : public Layer {
 public:
  // torch's positional order: Conv2d(in, out, kernel_size, stride, padding, bias).
  // Throws ConfigError for channels < 1, kernel < 1, stride < 1 or padding < 0.
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1,
         int64_t padding = 0, bool bias = true, Generator& gen = default_generator());
  explicit Conv2d(const Conv2dOptions& options, Generator& gen = default_generator());
  // x [B, in_channels, H, W] -> [B, out_channels, Ho, Wo] (errors: nn::conv2d).
  Variable forward(const Variable& x) override;
  std::string repr() const override;

  const Conv2dOptions& options() const { return opt_; }
  const Variable& weight() const { return weight_; }
  const Variable& bias() const { return bias_; }  // undefined when bias = false

 private:
  Conv2dOptions opt_;
  Variable weight_, bias_;
};

}  // namespace vq::nn
