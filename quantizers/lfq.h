// LFQ: lookup-free quantization (SPEC.md section 10), "Language Model Beats Diffusion:
// Tokenizer is Key to Visual Generation", https://arxiv.org/abs/2310.05737; spherical
// mode = BSQ, https://arxiv.org/abs/2406.07548; orthogonal rotation from
// https://arxiv.org/abs/2307.13304v2. Each dimension is quantized to +-codebook_scale;
// the entropy aux loss is computed without materializing tokens x codes (per-bit
// factorization + a split-bit GEMM for the batch term; kernels/cpu/lfq_entropy.h) or,
// with entropy_mode="exact", by enumerating all codes as the reference does.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "dist/comm.h"
#include "nn/layer.h"
#include "quantizers/quantizer.h"
#include "quantizers/scalar_common.h"

namespace vq {

// The reference's keyword arguments and defaults (SPEC 10.1), plus three extensions.
struct LFQOptions {
  std::optional<int64_t> dim;            // None -> log2(codebook_size) * num_codebooks
  std::optional<int64_t> codebook_size;  // None -> 2^dim; must be a power of two
  double entropy_loss_weight = 0.1;
  double commitment_loss_weight = 0.0;
  double diversity_gamma = 1.0;
  // A torch activation class name ("Identity", "Tanh", "Sigmoid", "ReLU", "SiLU", "GELU").
  std::string straight_through_activation = "Identity";
  int64_t num_codebooks = 1;
  std::optional<bool> keep_num_codebooks_dim;  // None -> num_codebooks > 1
  double codebook_scale = 1.0;
  double frac_per_sample_entropy = 1.0;        // in (0, 1]
  std::optional<bool> has_projections;         // None -> dim != log2(K) * num_codebooks
  bool projection_has_bias = true;
  std::optional<double> soft_clamp_input_value;  // >= codebook_scale
  bool cosine_sim_project_in = false;
  std::optional<double> cosine_sim_project_in_scale;  // None -> codebook_scale
  std::optional<bool> channel_first;           // None -> input rank >= 4
  bool experimental_softplus_entropy_loss = false;
  double entropy_loss_offset = 5.0;
  bool spherical = false;
  bool force_quantization_f32 = true;
  bool orthogonal_rotation = false;
  // Extensions (not in the reference):
  // "factorized" (default): the reference's clamped per-sample entropy from the codes with
  // P >= 1e-5 only, the batch entropy by the split-bit GEMM (never tokens x codes);
  // "exact": all 2^c codes enumerated per token, as the reference does; "unclamped":
  // per-sample entropy = sum of per-bit binary entropies (the true entropy, without the
  // 1e-5 clamp; cheapest). docs/quantizers/lfq.md.
  std::string entropy_mode = "factorized";
  bool exact_tanh = false;  // the soft clamp's tanh correctly rounded
  // With a per-token (b, n) mask the reference's batch entropy degenerates to the
  // per-sample entropy (SPEC 23.19, fixed here: tokens are averaged); true reproduces it.
  bool reference_token_mask_quirk = false;

  static LFQOptions from_json(const nlohmann::json& j);
  void validate() const;
  int64_t resolved_codebook_size() const;
  int64_t codebook_dim() const;  // log2(codebook_size)
};

// Per-call arguments (reference names).
struct LFQCall {
  double inv_temperature = 100.0;
  Tensor mask;  // bool (b,) or (b, n): tokens used for the entropy and commitment terms
  static LFQCall from_json(const nlohmann::json& kwargs);  // inv_temperature, return_loss_breakdown
};

class LFQ : public Quantizer {
 public:
  // Throws ConfigError for invalid options. comm: the entropy's avg_probs are averaged
  // across processes (the reference's maybe_distributed_mean).
  explicit LFQ(LFQOptions opts, std::shared_ptr<dist::Comm> comm = nullptr,
               Generator& gen = default_generator());

  // x: (b, n, dim), or (b, dim, ...) when channel_first (auto for rank >= 4). Returns
  // quantized (x's layout), indices (b, n[, h]) / (b, ...[, h]) i64, loss = entropy aux
  // loss (scalar; 0 in eval) and the breakdown per_sample_entropy, batch_entropy,
  // commitment (unweighted; 0 in eval).
  QuantizerOutput forward(const Variable& x, const LFQCall& call = {});

  std::string module_name() const override { return "LFQ"; }
  QuantizerOutput call(const QuantizerCall& c) override;
  Tensor get_output_from_indices(const Tensor& indices) override { return indices_to_codes(indices); }
  // SPEC 10.3: bits -> +-scale, spherical normalization, rotation back, projection out
  // (optional), channel axis restored. Bit-exact with the forward output.
  Tensor indices_to_codes(const Tensor& indices, bool project_out = true);

  int64_t codebook_size() const { return K_; }
  int64_t codebook_dim() const { return c_; }
  int64_t dim() const { return dim_; }
  bool has_projections() const { return has_projections_; }
  const LFQOptions& options() const { return opts_; }
  const ops::LfqSpec& spec() const { return spec_; }

 private:
  Variable project_in(const Variable& x);
  Variable rotate(const Variable& x, bool inverse) const;
  // Rows of the (b * n) token matrix selected by mask (undefined = all).
  Tensor mask_rows(const Tensor& mask, int64_t b, int64_t n) const;

  LFQOptions opts_;
  ops::LfqSpec spec_;
  int64_t dim_, c_, h_, K_;
  bool keep_, has_projections_;
  sq::SteActivation act_;
  std::shared_ptr<nn::Layer> project_in_, project_out_;
  Variable cos_weight_;  // cosine-sim project_in weight (dim, c * h)
  Tensor* mask_buf_ = nullptr;  // persistent "mask" buffer: 2^(c-1) .. 1 (int64)
  Tensor* rot_ = nullptr;
  std::shared_ptr<dist::Comm> comm_;
  Generator* gen_;
};

void register_lfq();

}  // namespace vq
