// Parameter initializations with PyTorch's formulas (torch.nn.init; SPEC.md section 0),
// drawn from a vqcpp Generator (Philox), so a model here starts from the same
// distribution as in PyTorch (not the same numbers: the random streams differ).
// Each function fills an existing f32 tensor in place, on whatever device it lives,
// and bumps its version. Fan computation follows torch: for a tensor of rank >= 2,
// fan_in = size(1) * prod(size(2:)), fan_out = size(0) * prod(size(2:)).
#pragma once
#include <cstdint>
#include <string>

#include "core/generator.h"
#include "core/tensor.h"

namespace vq::nn::init {

struct Fans {
  int64_t fan_in = 0, fan_out = 0;
};
// Throws ShapeError for rank < 2 (like torch's _calculate_fan_in_and_fan_out).
Fans calculate_fans(const Shape& shape);

// torch.nn.init.calculate_gain: "linear", "conv2d", "sigmoid" -> 1, "tanh" -> 5/3,
// "relu" -> sqrt(2), "leaky_relu" -> sqrt(2 / (1 + param^2)), "selu" -> 3/4.
// Throws ConfigError for any other name.
double calculate_gain(const std::string& nonlinearity, double param = 0.01);

enum class FanMode { fan_in, fan_out };

// Uniform on [lo, hi) / normal(mean, std) / a constant. f32 tensors (DTypeError).
void uniform_(Tensor& t, double lo, double hi, Generator& gen = default_generator());
void normal_(Tensor& t, double mean, double std, Generator& gen = default_generator());
void constant_(Tensor& t, double value);
void zeros_(Tensor& t);
void ones_(Tensor& t);

// kaiming_uniform_: uniform on +-gain * sqrt(3 / fan) with gain = calculate_gain(
// nonlinearity, a). Defaults (a = 0, fan_in, leaky_relu) give +-sqrt(6 / fan_in);
// a = sqrt(5) gives +-1/sqrt(fan_in), PyTorch's Linear / Conv default.
void kaiming_uniform_(Tensor& t, double a = 0.0, FanMode mode = FanMode::fan_in,
                      const std::string& nonlinearity = "leaky_relu",
                      Generator& gen = default_generator());
// kaiming_normal_: normal with std gain / sqrt(fan).
void kaiming_normal_(Tensor& t, double a = 0.0, FanMode mode = FanMode::fan_in,
                     const std::string& nonlinearity = "leaky_relu",
                     Generator& gen = default_generator());
// xavier_uniform_: +-gain sqrt(6 / (fan_in + fan_out)); xavier_normal_: std
// gain sqrt(2 / (fan_in + fan_out)).
void xavier_uniform_(Tensor& t, double gain = 1.0, Generator& gen = default_generator());
void xavier_normal_(Tensor& t, double gain = 1.0, Generator& gen = default_generator());

// orthogonal_: t viewed as [rows = size(0), cols = numel / rows] gets gain * Q, where
// Q comes from the QR decomposition of a standard-normal matrix (transposed first when
// rows < cols) with its columns multiplied by the signs of R's diagonal, as torch does:
// orthonormal rows (rows <= cols) or columns (rows >= cols). Rank >= 2 (ShapeError).
void orthogonal_(Tensor& t, double gain = 1.0, Generator& gen = default_generator());

// PyTorch's default for Linear and Conv weights: kaiming_uniform_(a = sqrt(5)), i.e.
// uniform on +-1/sqrt(fan_in); and for their biases: uniform on +-1/sqrt(fan_in) with
// the weight's fan_in (zero fan_in gives bound 0).
void default_weight_(Tensor& weight, Generator& gen = default_generator());
void default_bias_(Tensor& bias, int64_t fan_in, Generator& gen = default_generator());

}  // namespace vq::nn::init
