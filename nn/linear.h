// Linear layer (torch.nn.Linear): y = x W^T + b with weight [out_features, in_features]
// and bias [out_features], registered as "weight" and "bias" (torch's state_dict keys).
// Default initialization as PyTorch: both uniform on +-1/sqrt(in_features).
#pragma once
#include <cstdint>

#include "core/generator.h"
#include "nn/layer.h"

namespace vq::nn {

class Linear : public Layer {
 public:
  // Throws ConfigError when a size is negative. Parameters are created on the CPU
  // (move them with to(device)) from `gen`.
  Linear(int64_t in_features, int64_t out_features, bool bias = true,
         Generator& gen = default_generator());
  // x [..., in_features] -> [..., out_features] (nn::linear: ShapeError on a width
  // mismatch, DeviceError when x is not on the parameters' device).
  Variable forward(const Variable& x) override;
  std::string repr() const override;

  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  const Variable& weight() const { return weight_; }
  const Variable& bias() const { return bias_; }  // undefined when bias = false

 private:
  int64_t in_, out_;
  Variable weight_, bias_;
};

}  // namespace vq::nn
