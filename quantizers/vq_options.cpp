// VectorQuantizeOptions: JSON reading, default resolution, validation.
#include "quantizers/vq_options.h"

#include "core/error.h"
#include "quantizers/options.h"

namespace vq {

VectorQuantizeOptions VectorQuantizeOptions::from_json(const nlohmann::json& j) {
  VectorQuantizeOptions o;
  OptionReader r(j, "VectorQuantize");
  check<ConfigError>(r.has("dim") && r.has("codebook_size"),
                     "VectorQuantize: options 'dim' and 'codebook_size' are required");
  r.get("dim", o.dim);
  r.get("codebook_size", o.codebook_size);
  r.get("codebook_dim", o.codebook_dim);
  r.get("heads", o.heads);
  r.get("separate_codebook_per_head", o.separate_codebook_per_head);
  r.get("decay", o.decay);
  r.get("eps", o.eps);
  r.get("freeze_codebook", o.freeze_codebook);
  r.get("kmeans_init", o.kmeans_init);
  r.get("kmeans_iters", o.kmeans_iters);
  r.get("sync_kmeans", o.sync_kmeans);
  r.get("use_cosine_sim", o.use_cosine_sim);
  r.get("layernorm_after_project_in", o.layernorm_after_project_in);
  r.get("threshold_ema_dead_code", o.threshold_ema_dead_code);
  r.get("channel_last", o.channel_last);
  r.get("accept_image_fmap", o.accept_image_fmap);
  r.get("accept_3d_fmap", o.accept_3d_fmap);
  r.get("commitment_weight", o.commitment_weight);
  r.get("commitment_use_cross_entropy_loss", o.commitment_use_cross_entropy_loss);
  r.get("orthogonal_reg_weight", o.orthogonal_reg_weight);
  r.get("orthogonal_reg_active_codes_only", o.orthogonal_reg_active_codes_only);
  r.get("orthogonal_reg_max_codes", o.orthogonal_reg_max_codes);
  r.get("codebook_diversity_loss_weight", o.codebook_diversity_loss_weight);
  r.get("codebook_diversity_temperature", o.codebook_diversity_temperature);
  r.get("stochastic_sample_codes", o.stochastic_sample_codes);
  r.get("sample_codebook_temp", o.sample_codebook_temp);
  r.get("straight_through", o.straight_through);
  r.get("rotation_trick", o.rotation_trick);
  r.get("directional_reparam", o.directional_reparam);
  r.get("directional_reparam_variance", o.directional_reparam_variance);
  r.get("sync_codebook", o.sync_codebook);
  r.get("sync_affine_param", o.sync_affine_param);
  r.get("ema_update", o.ema_update);
  r.get("manual_ema_update", o.manual_ema_update);
  r.get("learnable_codebook", o.learnable_codebook);
  r.get("affine_param", o.affine_param);
  r.get("affine_param_batch_decay", o.affine_param_batch_decay);
  r.get("affine_param_codebook_decay", o.affine_param_codebook_decay);
  r.get("sync_update_v", o.sync_update_v);
  r.get("return_zeros_for_masked_padding", o.return_zeros_for_masked_padding);
  r.get("route_gradients_to_input", o.route_gradients_to_input);
  r.accept("vq_bridge");
  if (r.has("vq_bridge")) o.vq_bridge = vq_bridge_from_json(j.at("vq_bridge"));
  r.accept("in_place_codebook_optimizer");
  if (r.has("in_place_codebook_optimizer"))
    o.in_place_codebook_optimizer = in_place_optimizer_from_json(j.at("in_place_codebook_optimizer"));
  r.get("manual_in_place_optimizer_update", o.manual_in_place_optimizer_update);
  check<ConfigError>(!r.has("codebook_transform_fn"),
                     "VectorQuantize: option 'codebook_transform_fn' takes a Python callable in the reference and is "
                     "not supported by vqcpp (ResidualVQ's implicit_neural_codebook builds it)");
  r.accept("codebook_transform_fn");
  r.finish();
  return o;
}

void VectorQuantizeOptions::resolve(bool distributed) {
  const bool bridge = static_cast<bool>(vq_bridge);
  if (!ema_update) ema_update = !directional_reparam && !bridge;
  if (!learnable_codebook) learnable_codebook = directional_reparam || bridge;
  if (!rotation_trick) rotation_trick = !directional_reparam && dim > 1;
  if (!sync_codebook) sync_codebook = distributed;
}

void VectorQuantizeOptions::validate() const {
  auto fail = [](const std::string& rule) { throw ConfigError("VectorQuantize: " + rule); };
  if (dim <= 0) fail("dim must be positive, got " + std::to_string(dim));
  if (codebook_size <= 0) fail("codebook_size must be positive, got " + std::to_string(codebook_size));
  if (heads <= 0) fail("heads must be positive, got " + std::to_string(heads));
  if (codebook_dim && *codebook_dim <= 0) fail("codebook_dim must be positive");
  if (decay < 0 || decay > 1) fail("decay must be in [0, 1]");
  if (use_cosine_sim && learnable_codebook.value_or(false))
    fail("learnable codebook not compatible with cosine similarity (use_cosine_sim and learnable_codebook)");
  int estimators = int(straight_through) + int(rotation_trick.value_or(false)) + int(directional_reparam);
  if (estimators > 1)
    fail("only one of straight_through, rotation_trick, directional_reparam can be true "
         "(rotation_trick defaults to true: pass rotation_trick=false)");
  if (directional_reparam && threshold_ema_dead_code <= 0)
    fail("directional_reparam requires threshold_ema_dead_code > 0");
  if (straight_through && learnable_codebook.value_or(false))
    fail("gumbel straight through not allowed when learning the codebook (straight_through and learnable_codebook)");
  if (ema_update.value_or(false) && learnable_codebook.value_or(false))
    fail("learnable codebook not compatible with EMA update (set ema_update=false)");
  if (vq_bridge && !learnable_codebook.value_or(false))
    fail("learnable_codebook must be set to True if vq_bridge is passed in");
  if (vq_bridge && ema_update.value_or(false)) fail("ema_update must be False if vq_bridge is passed in");
  if (sync_update_v < 0 || sync_update_v > 1) fail("sync_update_v must be in [0, 1]");
  if (sync_update_v > 0 && !learnable_codebook.value_or(false))
    fail("sync_update_v requires learnable_codebook");
  if (affine_param && use_cosine_sim) fail("affine_param is not compatible with use_cosine_sim");
  if (in_place_codebook_optimizer && !learnable_codebook.value_or(false) && !vq_bridge && orthogonal_reg_weight <= 0)
    fail("in_place_codebook_optimizer needs codebook parameters: set learnable_codebook=true (and ema_update=false) "
         "or pass a vq_bridge (torch: optimizer got an empty parameter list)");
  if (kmeans_init && sync_codebook.value_or(false) && separate_codebook_per_head && heads > 1)
    fail("kmeans init with multiple codebooks is not supported in distributed mode");
  if (orthogonal_reg_active_codes_only && separate_codebook_per_head && heads > 1 && orthogonal_reg_weight > 0)
    fail("orthogonal_reg_active_codes_only is not supported with separate codebooks per head");
}

}  // namespace vq
