// FSP: finite scalar perturbation (SPEC.md section 8; VP-VAE, https://arxiv.org/abs/2602.17133).
// Each scalar goes through a CDF activation into (0, 1) and is snapped to the centre of
// one of L equal bins (straight-through); in training, a scalar is instead perturbed
// uniformly within half a bin with probability 1 - quantize_rate. A VectorNorm
// regularizer (moments of the pre-activation batch against preset targets) is the loss.
// The mixed-radix index of the bins is FSQ's (first dimension least significant),
// computed in integers (SPEC 23.23 fix).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/layer.h"
#include "quantizers/quantizer.h"

namespace vq {

// The CDF activations of SPEC 8.1.
enum class FspActivation { tanh, sigmoid, normal, laplace, cauchy };
// "tanh" | "sigmoid" | "normal" | "laplace" | "cauchy"; ConfigError naming act_name and
// the allowed names otherwise.
FspActivation parse_fsp_activation(const std::string& name);
// act(z): f32 tensor of any shape and device -> same shape, values in [0, 1];
// differentiable (normal and cauchy run on the host, the others are composed ops).
Variable fsp_act(FspActivation a, const Variable& z);
// inv(p): the inverse CDF, values only (no gradient), computed on the host; p in (0, 1).
Tensor fsp_inv_act(FspActivation a, const Tensor& p);

// VectorNorm weights and targets (SPEC 8.2); the presets by name.
struct VectorNormSpec {
  double t1 = 0.0, w1 = 0.1, t2 = 1.0, w2 = 0.07, t3 = 0.0, w3 = 0.06, t4 = 0.0, w4 = 0.05;
  double eps = 1e-8;
  // "none" | "var" | "kurt" | "var_tanh" | "var_sigmoid" | "var_laplace"; ConfigError
  // naming vector_norm and the presets otherwise.
  static VectorNormSpec preset(const std::string& name);
};

struct VectorNormResult {
  Variable loss;                               // scalar
  Variable mean, variance, skewness, kurtosis;  // (c,)
};
// Z (N, c) f32: unbiased variance, std clamped at eps, standardized third/fourth moments;
// all four terms are always evaluated (N = 1 gives NaN, as in the reference).
VectorNormResult vector_norm(const Variable& Z, const VectorNormSpec& s);

// The reference's constructor arguments and defaults (SPEC 8.3).
struct FSPOptions {
  std::vector<int64_t> levels;  // required, each >= 1
  std::optional<int64_t> dim;   // None -> len(levels); projections iff dim != len(levels)
  bool channel_first = false;
  bool projection_has_bias = true;
  std::string act_name = "tanh";
  double quantize_rate = 0.0;   // in [0, 1]; used in training only (eval quantizes everything)
  bool need_inv_act = false;
  std::string vector_norm = "var_tanh";

  // Unknown keys / wrong types throw ConfigError naming the key.
  static FSPOptions from_json(const nlohmann::json& j);
  // ConfigError naming the option: levels, dim, quantize_rate, act_name, vector_norm.
  void validate() const;
};

// Everything the reference's forward returns (its info dict as fields).
struct FSPOutput {
  Variable quantized;     // z's shape and dtype
  Tensor indices;         // i64, z's shape without the feature axis
  Variable norm_loss;     // scalar (evaluated in eval too)
  Tensor level_indices;   // i64 (..., c): z's leading shape + c
  Variable mean, variance, skewness, kurtosis;  // norm_info, (c,)
  Tensor p_accept_prob;   // scalar f32; only when perturbation ran (training, rate < 1)
};

class FSP : public Quantizer {
 public:
  // Throws ConfigError for invalid options. gen: projections and the perturbation draws.
  explicit FSP(FSPOptions opts, Generator& gen = default_generator());

  // z: (..., dim), or (b, dim, ...) with channel_first; f32 (other float dtypes are
  // computed in f32 and cast back). eps: the clamp of step 5 (default f32 machine
  // epsilon). ShapeError when the feature axis is not dim.
  FSPOutput forward(const Variable& z, std::optional<double> eps = std::nullopt);

  std::string module_name() const override { return "FSP"; }
  // Keyword argument: eps. quantized, indices, loss = norm_loss.
  QuantizerOutput call(const QuantizerCall& c) override;
  Tensor get_output_from_indices(const Tensor& indices) override { return indices_to_codes(indices); }

  // indices (...) i64 -> codes (..., dim) ((b, dim, ...) with channel_first): bin centres,
  // inv_act(clamp(p, eps, 1 - eps)) or (p - 0.5) * sqrt(12), project_out. No gradient.
  Tensor indices_to_codes(const Tensor& indices, double eps = 1e-6);
  // indices (...) -> level indices (..., c) i64; and back.
  Tensor indices_to_level_indices(const Tensor& indices) const;
  Tensor level_indices_to_indices(const Tensor& level_indices) const;
  // indices (...) -> bin centres (level + 0.5) / L, f32 (..., c).
  Tensor indices_to_act_value(const Tensor& indices) const;

  int64_t codebook_size() const;
  int64_t codebook_dim() const { return static_cast<int64_t>(opts_.levels.size()); }
  int64_t dim() const { return dim_; }
  bool has_projections() const { return has_projections_; }
  const FSPOptions& options() const { return opts_; }

 private:
  Tensor levels_f32(Device d) const;
  Variable finish_codes(const Variable& qz) const;

  FSPOptions opts_;
  FspActivation act_;
  VectorNormSpec norm_;
  int64_t dim_, c_;
  bool has_projections_;
  std::shared_ptr<nn::Layer> project_in_, project_out_;
  Generator* gen_;
};

void register_fsp();

}  // namespace vq
