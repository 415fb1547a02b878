// Codebook: the code vectors behind VectorQuantize (SPEC.md section 2): nearest-code
// search through the fused kernels (the N x K similarities are built only when a
// loss or Gumbel sampling needs them), EMA statistics by scatter-add (no one-hot),
// Laplace-smoothed code recomputation, k-means init, dead-code expiry, affine
// re-parameterization, accumulated EMA, and codebook health. Statistics that must
// agree across processes go through the injected Comm at the points SPEC.md 18.2
// lists. State names follow the reference: embed, embed_avg, cluster_size, initted,
// and with affine_param codebook_mean, codebook_variance, *_needs_init, batch_mean,
// batch_variance; a vq_bridge's parameters under vq_bridge.*.
#pragma once
#include <functional>
#include <memory>
#include <optional>

#include "dist/comm.h"
#include "nn/layer.h"
#include "nn/module.h"

namespace vq {

struct CodebookOptions {
  int64_t dim = 0;             // d
  int64_t codebook_size = 0;   // K
  int64_t num_codebooks = 1;   // h
  bool kmeans_init = false;
  int64_t kmeans_iters = 10;
  bool sync_kmeans = true;
  double decay = 0.8;
  double eps = 1e-5;
  double threshold_ema_dead_code = 2;
  std::optional<double> reset_cluster_size;  // None -> threshold_ema_dead_code
  bool use_ddp = false;
  bool learnable_codebook = false;
  double sample_codebook_temp = 1.0;
  bool stochastic_sample_codes = false;
  bool straight_through = false;
  bool ema_update = true;
  bool manual_ema_update = false;
  bool affine_param = false;
  bool sync_affine_param = false;
  double affine_param_batch_decay = 0.99;
  double affine_param_codebook_decay = 0.9;
  bool use_cosine_sim = false;
  // FVQ bridge (SPEC 2.3 step 7): applied to the codes (h, K, d) -> (h, K, d) before
  // the affine map and the search; registered as the child "vq_bridge" (state keys
  // vq_bridge.*). Null = none.
  std::shared_ptr<nn::Layer> vq_bridge;
};

// Per-call arguments of Codebook::forward (reference names).
struct CodebookCall {
  Tensor mask;                          // bool (b, n) or undefined
  bool freeze_codebook = false;
  std::optional<double> sample_codebook_temp;
  std::optional<double> ema_update_weight;
  Tensor ema_update_weight_tensor;      // (K,) or (h, K) per-code weights (overrides the scalar)
  bool accum_ema_update = false;
  std::optional<bool> ema_update;
  std::optional<int64_t> topk;
  bool update_usage = true;
  bool need_similarities = false;       // a loss consumes S
  // Implicit neural codebook (QINCo, SPEC 2.3 step 8): maps the codes (h, K, d) to
  // per-token codes (h, b, n, K, d); the search and the quantized rows then use them.
  std::function<Variable(const Variable&)> codebook_transform_fn;
};

struct CodebookResult {
  Variable quantized;  // (h, b, n, [k,] d)
  Tensor indices;      // i64 (h, b, n[, k])
  Variable sims;       // (h, b, n, K), only when requested or sampled
};

// Cheap usage statistics of the last forward, per codebook (f32 [h]).
struct CodebookHealth {
  Tensor active_codes;  // codes used at least once in the last batch
  Tensor perplexity;    // exp(entropy of the batch code distribution)
  Tensor dead_codes;    // codes whose EMA cluster size is below threshold_ema_dead_code
};

class Codebook : public nn::Module {
 public:
  Codebook(const CodebookOptions& opts, std::shared_ptr<dist::Comm> comm, Generator& gen);

  // x: (h, b, n, d) with h == num_codebooks (or 1 broadcast over one codebook).
  CodebookResult forward(const Variable& x, const CodebookCall& call);
  // Statistics update from externally chosen indices (h, N) for flat (h, N, d).
  // weight: scalar, or a (K,) / (h, K) tensor of per-code weights when defined.
  void update_codebook(const Tensor& flat, const Tensor& indices, const Tensor& mask,
                       std::optional<double> weight, bool accum, std::optional<bool> ema_update,
                       const Tensor& weight_tensor = Tensor());
  void update_ema();
  // Replaces codes whose EMA cluster size is below the threshold by sampled inputs.
  void expire_codes_(const Tensor& flat, const Tensor& mask);

  // The stored codes (h, K, d) (a parameter when learnable).
  Tensor& embed();
  Variable embed_variable();  // differentiable handle when learnable, else a constant
  // The codes the search uses: embed, through the vq_bridge and the affine map.
  Variable effective_codes();
  const CodebookOptions& options() const { return opts_; }
  CodebookHealth health() const;

 private:
  void init_embed_(const Tensor& flat, const Tensor& mask);
  void update_affine(const Tensor& flat, const Tensor& mask);
  Tensor to_code_space(const Tensor& flat) const;

 public:
  // (b, n) mask -> (h, N) for N = b * r * n vectors (r heads folded into the batch).
  Tensor expand_mask(const Tensor& mask, int64_t h, int64_t N) const;

 private:
  CodebookOptions opts_;
  std::shared_ptr<dist::Comm> comm_;
  Generator* gen_;
  Variable embed_param_;
  Tensor* embed_buf_ = nullptr;
  Tensor* embed_avg_;
  Tensor* cluster_size_;
  Tensor* initted_;
  Tensor* codebook_mean_ = nullptr;
  Tensor* codebook_variance_ = nullptr;
  Tensor* codebook_mean_needs_init_ = nullptr;
  Tensor* codebook_variance_needs_init_ = nullptr;
  Tensor* batch_mean_ = nullptr;
  Tensor* batch_variance_ = nullptr;
  Tensor accum_counts_, accum_sums_;  // pending accumulated EMA statistics
  Tensor last_counts_;                // (h, K) counts of the last forward
};

}  // namespace vq
