// Options of ResidualVQ (SPEC.md 4.1) with the reference's names and defaults, plus
// the per-layer VectorQuantize options (the reference's **vq_kwargs). Residual
// quantization: SoundStream, https://arxiv.org/abs/2107.03312 (Algorithm 1); QINCo
// implicit neural codebooks: https://arxiv.org/abs/2401.14732; structured quantize
// dropout: EnCodec, https://arxiv.org/abs/2210.13438; DiVeQ:
// https://arxiv.org/abs/2509.26469.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "quantizers/quantize_dropout.h"
#include "quantizers/vq_options.h"

namespace vq {

struct ResidualVQOptions {
  int64_t dim = 0;                        // required: input width D
  std::optional<int64_t> num_quantizers;  // q; None -> codebook_size.size()
  std::vector<int64_t> codebook_size;     // required: one size (repeated q times) or q sizes
  std::optional<int64_t> codebook_dim;    // None -> dim; != dim adds project_in/out
  bool shared_codebook = false;           // every layer uses layer 0's Codebook
  bool diveq = false;                     // DiVeQ on the summed output (SPEC 4.7)
  int64_t heads = 1;                      // must be 1
  QuantizeDropout quantize_dropout;       // quantize_dropout, _cutoff_index, _multiple_of
  // Layouts, handled once at the residual level (the layers always see (b, n, d)):
  bool accept_image_fmap = false;                    // x (b, D, H, W)
  bool accept_3d_fmap = false;                       // x (b, D, T, H, W)
  bool channel_last = true;                          // false: x (b, D, n)
  bool implicit_neural_codebook = false;             // QINCo (SPEC 4.6)
  std::optional<int64_t> mlp_dim_hidden;             // mlp_kwargs.dim_hidden (None -> codebook_dim)
  int64_t mlp_depth = 4;                             // mlp_kwargs.depth
  std::optional<int64_t> beam_size;                  // > 1: beam search in training
  std::optional<int64_t> eval_beam_size;             // None -> beam_size (eval)
  std::vector<double> beam_score_quantizer_weights;  // empty -> all 1.0; else length q
  double quant_grad_frac = 0.0;                      // gradient fraction from a layer into the next residual
  bool return_zeros_for_masked_padding = true;       // also forwarded to the layers
  // vqcpp extension (not in the reference): after beam search update every processed
  // layer from its own input residual (the reference updates only layer 0; SPEC 23.2).
  bool beam_update_all_layers = false;
  // Per-layer VectorQuantize options; dim, codebook_size, codebook_dim and the layout
  // flags are set by ResidualVQ for each layer.
  VectorQuantizeOptions vq;

  // Reads the reference's keyword arguments: the residual-level keys above (mlp_kwargs
  // as an object, codebook_size as an int or a list) and every other key as a layer
  // option. Unknown keys and wrong types throw ConfigError naming the key.
  static ResidualVQOptions from_json(const nlohmann::json& j);
  // Resolved number of layers and per-layer sizes.
  int64_t resolved_num_quantizers() const;
  std::vector<int64_t> layer_codebook_sizes() const;
  // Throws ConfigError for each combination the reference rejects (heads != 1, size
  // list length, eval_beam_size without beam_size, beam weights length, shared codebook
  // with non-uniform sizes, EMA with diveq, beam search without a per-candidate
  // commitment loss, dropout cutoff).
  void validate() const;
  // The options of layer l after the reference's derived rules (SPEC 4.1 steps 2-4, 6).
  VectorQuantizeOptions layer_options(int64_t l) const;
};

}  // namespace vq
