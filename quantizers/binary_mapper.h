// BinaryMapper (SPEC.md section 15; Free Transformer, https://arxiv.org/abs/2510.17558):
// `bits` logits -> one sampled (or thresholded) code out of 2^bits as a one-hot, bit i of
// the code weighing 2^i (least significant first). In training the one-hot carries a
// straight-through gradient through G_k = prod_i P(bit_i = code_k[i]) and an auxiliary
// loss keeps the bits' KL to the uniform distribution under a threshold.
#pragma once
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "quantizers/quantizer.h"

namespace vq {

// The reference's constructor arguments and defaults.
struct BinaryMapperOptions {
  int64_t bits = 1;                         // 1 ..= 24 (the one-hot has 2^bits columns)
  double kl_loss_threshold = std::log(2.0);  // one bit (NAT in the reference)
  bool deterministic_on_eval = false;

  // Unknown keys / wrong types throw ConfigError naming the key.
  static BinaryMapperOptions from_json(const nlohmann::json& j);
  // ConfigError naming bits when it is outside [1, 24].
  void validate() const;
};

// Per-call arguments of forward (None = the reference's training-dependent defaults).
struct BinaryMapperCall {
  double temperature = 1.0;                 // divides the logits for sampling only
  std::optional<bool> straight_through;     // None -> training
  std::optional<bool> calc_aux_loss;        // None -> training
  std::optional<bool> deterministic;        // None -> deterministic_on_eval && !training
  bool reduce_aux_kl_loss = true;           // false: aux loss keeps the leading shape
};

struct BinaryMapperOutput {
  Variable one_hot;     // f32 (..., 2^bits); + G - sg(G) with straight_through
  Tensor indices;       // i64 (...)
  Variable aux_kl_loss; // scalar, or (...) unreduced; constant 0 when not computed
};

class BinaryMapper : public Quantizer {
 public:
  // Throws ConfigError for invalid options. gen: the Bernoulli draws.
  explicit BinaryMapper(BinaryMapperOptions opts, Generator& gen = default_generator());

  // logits (..., bits) f32, any number of leading axes (none: indices is a scalar).
  // ShapeError when the last axis is not bits; ConfigError when temperature <= 0.
  BinaryMapperOutput forward(const Variable& logits, const BinaryMapperCall& call = {});

  std::string module_name() const override { return "BinaryMapper"; }
  // Keyword arguments: temperature, straight_through, calc_aux_loss, deterministic,
  // return_indices (accepted; indices are always returned), reduce_aux_kl_loss.
  // quantized = one_hot, indices, loss = aux_kl_loss.
  QuantizerOutput call(const QuantizerCall& c) override;
  // indices (...) i64 -> one-hot f32 (..., 2^bits) (ShapeError for an index out of range).
  Tensor get_output_from_indices(const Tensor& indices) override;

  // -sum_bits [sigmoid(l) logsigmoid(l) + (1 - sigmoid(l)) logsigmoid(-l)]: (..., bits) -> (...).
  Variable binary_entropy(const Variable& logits) const;
  // relu(bits ln 2 - binary_entropy - kl_loss_threshold): mean (scalar) or (...).
  Variable calc_aux_loss(const Variable& logits, bool reduce = true) const;
  // Log-probability of the codes `indices` (...) i64 under logits (..., bits): summed
  // over bits -> (...), or per bit -> (..., bits). ShapeError when the leading shapes differ.
  Variable log_prob(const Variable& logits, const Tensor& indices, bool sum_bits = true) const;
  // The same with a one-hot (..., 2^bits) (converted by argmax).
  Variable log_prob_one_hot(const Variable& logits, const Tensor& one_hot, bool sum_bits = true) const;

  int64_t bits() const { return opts_.bits; }
  int64_t num_codes() const { return int64_t{1} << opts_.bits; }
  const BinaryMapperOptions& options() const { return opts_; }

 private:
  void check_logits(const Variable& logits, const char* what) const;

  BinaryMapperOptions opts_;
  Tensor* codes_ = nullptr;  // (2^bits, bits) f32 0/1, non-persistent ("codes")
  Generator* gen_;
};

void register_binary_mapper();

}  // namespace vq
