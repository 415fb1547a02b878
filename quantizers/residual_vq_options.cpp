// ResidualVQOptions: JSON reading (residual keys + forwarded layer keys), derived
// per-layer options and validation (SPEC.md 4.1).
#include "quantizers/residual_vq_options.h"

#include <algorithm>
#include <set>

#include "core/error.h"
#include "quantizers/options.h"

namespace vq {

namespace {

// Keys ResidualVQ consumes itself; every other key goes to the layers.
const char* const kResidualKeys[] = {"dim",
                                     "num_quantizers",
                                     "codebook_size",
                                     "codebook_dim",
                                     "shared_codebook",
                                     "diveq",
                                     "heads",
                                     "quantize_dropout",
                                     "quantize_dropout_cutoff_index",
                                     "quantize_dropout_multiple_of",
                                     "accept_image_fmap",
                                     "accept_3d_fmap",
                                     "channel_last",
                                     "implicit_neural_codebook",
                                     "mlp_kwargs",
                                     "beam_size",
                                     "eval_beam_size",
                                     "beam_score_quantizer_weights",
                                     "quant_grad_frac",
                                     "return_zeros_for_masked_padding",
                                     "beam_update_all_layers"};

}  // namespace

ResidualVQOptions ResidualVQOptions::from_json(const nlohmann::json& j) {
  ResidualVQOptions o;
  OptionReader r(j, "ResidualVQ");
  check<ConfigError>(r.has("dim") && r.has("codebook_size"),
                     "ResidualVQ: options 'dim' and 'codebook_size' are required");
  r.get("dim", o.dim);
  r.get("num_quantizers", o.num_quantizers);
  r.accept("codebook_size");
  const auto& cs = j.at("codebook_size");
  if (cs.is_number_integer()) {
    o.codebook_size = {cs.get<int64_t>()};
  } else {
    check<ConfigError>(cs.is_array() && !cs.empty(),
                       "ResidualVQ: option 'codebook_size' must be an int or a list of ints, got ", cs.dump());
    for (const auto& v : cs) {
      check<ConfigError>(v.is_number_integer(),
                         "ResidualVQ: option 'codebook_size' must be an int or a list of ints, got ", cs.dump());
      o.codebook_size.push_back(v.get<int64_t>());
    }
    // A list always fixes the depth (the reference's tuple); a single-element list too.
    if (!o.num_quantizers) o.num_quantizers = static_cast<int64_t>(o.codebook_size.size());
  }
  r.get("codebook_dim", o.codebook_dim);
  r.get("shared_codebook", o.shared_codebook);
  r.get("diveq", o.diveq);
  r.get("heads", o.heads);
  r.get("quantize_dropout", o.quantize_dropout.enabled);
  r.get("quantize_dropout_cutoff_index", o.quantize_dropout.cutoff_index);
  r.get("quantize_dropout_multiple_of", o.quantize_dropout.multiple_of);
  r.get("accept_image_fmap", o.accept_image_fmap);
  r.get("accept_3d_fmap", o.accept_3d_fmap);
  r.get("channel_last", o.channel_last);
  r.get("implicit_neural_codebook", o.implicit_neural_codebook);
  if (r.has("mlp_kwargs")) {
    OptionReader m(j.at("mlp_kwargs"), "ResidualVQ.mlp_kwargs");
    m.get("dim_hidden", o.mlp_dim_hidden);
    m.get("depth", o.mlp_depth);
    m.finish();
  }
  r.accept("mlp_kwargs");
  r.get("beam_size", o.beam_size);
  r.get("eval_beam_size", o.eval_beam_size);
  r.get("beam_score_quantizer_weights", o.beam_score_quantizer_weights);
  r.get("quant_grad_frac", o.quant_grad_frac);
  r.get("return_zeros_for_masked_padding", o.return_zeros_for_masked_padding);
  r.get("beam_update_all_layers", o.beam_update_all_layers);

  // The rest are layer options: read them as VectorQuantize options (which rejects
  // unknown keys), with placeholder sizes that the constructor overrides per layer.
  nlohmann::json layer = nlohmann::json::object();
  if (j.is_object()) {
    std::set<std::string> mine(std::begin(kResidualKeys), std::end(kResidualKeys));
    for (auto it = j.begin(); it != j.end(); ++it)
      if (!mine.count(it.key())) layer[it.key()] = it.value();
  }
  layer["dim"] = 1;
  layer["codebook_size"] = 1;
  try {
    o.vq = VectorQuantizeOptions::from_json(layer);
  } catch (const ConfigError& e) {
    throw ConfigError(std::string("ResidualVQ: layer option rejected: ") + e.what());
  }
  return o;
}

int64_t ResidualVQOptions::resolved_num_quantizers() const {
  if (num_quantizers) return *num_quantizers;
  return codebook_size.size() > 1 ? static_cast<int64_t>(codebook_size.size()) : 0;
}

std::vector<int64_t> ResidualVQOptions::layer_codebook_sizes() const {
  const int64_t q = resolved_num_quantizers();
  if (codebook_size.size() == 1)
    return std::vector<int64_t>(static_cast<size_t>(std::max<int64_t>(q, 0)), codebook_size[0]);
  return codebook_size;
}

void ResidualVQOptions::validate() const {
  auto fail = [](const std::string& rule) { throw ConfigError("ResidualVQ: " + rule); };
  if (dim <= 0) fail("dim must be positive, got " + std::to_string(dim));
  if (heads != 1)
    fail("residual vq is not compatible with multi-headed codes (heads must be 1, got " + std::to_string(heads) + ")");
  if (codebook_size.empty()) fail("codebook_size is required");
  const int64_t q = resolved_num_quantizers();
  if (q <= 0)
    fail("num_quantizers is required unless codebook_size is a list (got num_quantizers=" + std::to_string(q) + ")");
  if (codebook_size.size() > 1 && static_cast<int64_t>(codebook_size.size()) != q)
    fail("codebook_size has " + std::to_string(codebook_size.size()) +
         " entries but num_quantizers=" + std::to_string(q));
  for (int64_t k : codebook_size)
    if (k <= 0) fail("every codebook_size must be positive, got " + std::to_string(k));
  if (codebook_dim && *codebook_dim <= 0) fail("codebook_dim must be positive");
  int layouts = int(accept_image_fmap) + int(accept_3d_fmap) + int(!channel_last);
  if (layouts > 1) fail("at most one of accept_image_fmap, accept_3d_fmap, channel_last=false");
  quantize_dropout.validate("ResidualVQ", q);
  if (eval_beam_size && !beam_size) fail("eval_beam_size requires beam_size");
  if (beam_size && *beam_size < 1) fail("beam_size must be >= 1");
  if (eval_beam_size && *eval_beam_size < 1) fail("eval_beam_size must be >= 1");
  if (!beam_score_quantizer_weights.empty() && static_cast<int64_t>(beam_score_quantizer_weights.size()) != q)
    fail("beam_score_quantizer_weights has " + std::to_string(beam_score_quantizer_weights.size()) +
         " entries but num_quantizers=" + std::to_string(q));
  auto sizes = layer_codebook_sizes();
  bool uniform = true;
  for (int64_t k : sizes) uniform = uniform && k == sizes[0];
  if (shared_codebook && !uniform) fail("shared_codebook requires the same codebook_size for every layer");
  if (mlp_depth < 0) fail("mlp_kwargs.depth must be >= 0");
  if (mlp_dim_hidden && *mlp_dim_hidden <= 0) fail("mlp_kwargs.dim_hidden must be positive");
  if (quant_grad_frac < 0 || quant_grad_frac > 1) fail("quant_grad_frac must be in [0, 1]");
  const VectorQuantizeOptions l0 = layer_options(0);
  if (diveq && l0.ema_update.value_or(!l0.directional_reparam))
    fail("Only one of ema_update or diveq must be used for updating the codebook");
  const bool beam = (beam_size && *beam_size > 1) || (eval_beam_size && *eval_beam_size > 1);
  if (beam && (l0.commitment_weight <= 0 || l0.directional_reparam || l0.commitment_use_cross_entropy_loss))
    fail(
        "beam search scores candidates by their commitment loss: it needs commitment_weight > 0, "
        "no directional_reparam / diveq and no commitment_use_cross_entropy_loss");
  if (beam && implicit_neural_codebook) fail("beam search is not supported with implicit_neural_codebook");
}

VectorQuantizeOptions ResidualVQOptions::layer_options(int64_t l) const {
  VectorQuantizeOptions v = vq;
  const int64_t d = codebook_dim.value_or(dim);
  auto sizes = layer_codebook_sizes();
  v.dim = d;
  v.codebook_dim = d;
  v.codebook_size = sizes.empty() ? 0 : sizes[static_cast<size_t>(std::min<int64_t>(l, sizes.size() - 1))];
  v.heads = 1;
  v.accept_image_fmap = false;
  v.accept_3d_fmap = false;
  v.channel_last = true;
  v.return_zeros_for_masked_padding = return_zeros_for_masked_padding;
  if (implicit_neural_codebook) {
    v.learnable_codebook = true;
    v.ema_update = false;
  }
  if (shared_codebook) {
    v.manual_ema_update = true;
    v.manual_in_place_optimizer_update = true;  // stepped once per forward, after the loop
  }
  if (diveq) {
    v.ema_update = false;
    v.learnable_codebook = true;
    v.route_gradients_to_input = false;
    v.commitment_weight = 0.0;
  }
  return v;
}

}  // namespace vq
