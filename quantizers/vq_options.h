// Options of VectorQuantize (SPEC.md 3.1), with the reference's names and defaults.
// Optional fields whose reference default is None resolve in resolve() exactly as the
// reference derives them; validate() rejects the combinations the reference asserts
// against, naming the rule. Paper links: VQ-VAE https://arxiv.org/abs/1711.00937,
// rotation trick https://arxiv.org/abs/2410.06424, DiVeQ / directional reparam
// https://arxiv.org/abs/2509.26469, affine re-parameterization and sync_update_v
// (vqtorch) https://arxiv.org/abs/2305.08842, orthogonal regularization
// https://arxiv.org/abs/2112.00384.
#pragma once
#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

#include "quantizers/vq_callables.h"

namespace vq {

struct VectorQuantizeOptions {
  int64_t dim = 0;                       // required
  int64_t codebook_size = 0;             // required
  std::optional<int64_t> codebook_dim;   // None -> dim
  int64_t heads = 1;
  bool separate_codebook_per_head = false;
  double decay = 0.8;
  double eps = 1e-5;
  bool freeze_codebook = false;
  bool kmeans_init = false;
  int64_t kmeans_iters = 10;
  bool sync_kmeans = true;
  bool use_cosine_sim = false;
  bool layernorm_after_project_in = false;
  double threshold_ema_dead_code = 0;
  bool channel_last = true;
  bool accept_image_fmap = false;
  bool accept_3d_fmap = false;
  double commitment_weight = 1.0;
  bool commitment_use_cross_entropy_loss = false;
  double orthogonal_reg_weight = 0.0;
  bool orthogonal_reg_active_codes_only = false;
  std::optional<int64_t> orthogonal_reg_max_codes;
  double codebook_diversity_loss_weight = 0.0;
  double codebook_diversity_temperature = 100.0;
  bool stochastic_sample_codes = false;
  double sample_codebook_temp = 1.0;
  bool straight_through = false;
  std::optional<bool> rotation_trick;    // None -> not directional_reparam and dim > 1
  bool directional_reparam = false;
  double directional_reparam_variance = 5e-3;
  std::optional<bool> sync_codebook;     // None -> distributed (Comm size > 1)
  bool sync_affine_param = false;
  std::optional<bool> ema_update;        // None -> not directional_reparam and no vq_bridge
  bool manual_ema_update = false;
  std::optional<bool> learnable_codebook;  // None -> directional_reparam or a vq_bridge
  // FVQ: a layer applied to the whole codebook (h, K, d) in every Codebook forward
  // (not in the decode helpers, as the reference). Requires learnable_codebook and
  // ema_update off. Empty = None. JSON: a spec of vq_callables.h.
  VqBridgeFactory vq_bridge;
  // One optimizer step on the Codebook's parameters inside each training forward
  // (SPEC.md 3.6), created at construction over embed and the bridge parameters
  // (needs some: learnable_codebook, a bridge or orthogonal_reg_weight > 0). Empty =
  // None. JSON: a spec of vq_callables.h.
  InPlaceOptimizerFactory in_place_codebook_optimizer;
  // Accumulate the in-place gradients; the caller runs update_in_place_optimizer().
  bool manual_in_place_optimizer_update = false;
  bool affine_param = false;
  double affine_param_batch_decay = 0.99;
  double affine_param_codebook_decay = 0.9;
  double sync_update_v = 0.0;
  bool return_zeros_for_masked_padding = true;
  bool route_gradients_to_input = true;

  // Reads the reference's keyword arguments; unknown keys and wrong types throw
  // ConfigError naming the key. vq_bridge and in_place_codebook_optimizer take the
  // JSON specs of vq_callables.h; codebook_transform_fn (a Python callable) is
  // rejected with a message saying so.
  static VectorQuantizeOptions from_json(const nlohmann::json& j);
  // Fills the None defaults (distributed: whether the communicator has > 1 rank).
  void resolve(bool distributed);
  // Throws ConfigError for each combination the reference rejects.
  void validate() const;

  int64_t resolved_codebook_dim() const { return codebook_dim.value_or(dim); }
};

}  // namespace vq
