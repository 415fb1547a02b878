// The reference's Fashion-MNIST autoencoders (vector-quantize-pytorch
// examples/autoencoder.py, autoencoder_fsq.py, autoencoder_lfq.py; SPEC.md section 21)
// as one module: a small conv encoder, one quantizer, a small conv decoder. Children
// and state_dict keys follow the examples' `utils.Sequential(...)` ("fns.0.weight",
// "fns.5._codebook.embed", ...), so a checkpoint maps one-to-one onto the reference's
// model.state_dict().
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/generator.h"
#include "nn/layer.h"
#include "quantizers/quantizer.h"

namespace vq::app {

enum class QuantizerKind { vq, fsq, lfq };

// "vq", "fsq", "lfq" <-> QuantizerKind; parse throws ConfigError naming the choices.
QuantizerKind parse_quantizer_kind(const std::string& s);
const char* quantizer_kind_name(QuantizerKind k);

struct ModelOptions {
  QuantizerKind quantizer = QuantizerKind::vq;
  int64_t codebook_size = 256;             // vq and lfq (lfq: a power of 2)
  std::vector<int64_t> levels = {8, 6, 5};  // fsq
  bool rotation_trick = true;               // vq: rotation trick, else straight-through

  // Throws ConfigError naming the option (codebook_size < 2 or > 65536, lfq size not a
  // power of two, fsq levels empty / < 2 / > 16 entries / product > 65536).
  void validate() const;
  // The quantizer's constructor keyword arguments in the reference's names, exactly as
  // the examples pass them, and the registry name ("VectorQuantize", "FSQ", "LFQ").
  nlohmann::json quantizer_config() const;
  std::string quantizer_module() const;
  // Number of codes: codebook_size, or prod(levels) for fsq.
  int64_t num_codes() const;
  // Weight of the quantizer's loss in the total loss: 10 (vq: rec + 10 commit),
  // 0 (fsq: rec only), 1 (lfq: rec + entropy aux loss).
  double aux_weight() const;
  // The latent width the quantizer sees: 32 (vq), len(levels) (fsq), log2(K) (lfq).
  int64_t latent_dim() const;

  nlohmann::json to_json() const;
  // Inverse of to_json (ConfigError on missing or mistyped keys).
  static ModelOptions from_json(const nlohmann::json& j);
};

class AutoEncoder : public nn::Module {
 public:
  struct Output {
    Variable reconstruction;  // f32 [B, 1, 28, 28], clamped to [-1, 1]
    Tensor indices;           // i64 [B, 7, 7] code indices (vq/fsq/lfq: one code per position)
    Variable aux_loss;        // scalar quantizer loss (unweighted); zeros for fsq
  };

  // Draws the parameters from `gen` (layers: PyTorch's default init; quantizers: their
  // own init). Throws ConfigError for invalid options, or when the quantizer the
  // options name is not built into this version (its registry error).
  AutoEncoder(const ModelOptions& opts, Generator& gen);

  // x: f32 [B, 1, 28, 28] on the model's device (errors from the layers otherwise).
  Output forward(const Variable& x);
  // Encoder then quantizer only: the indices for x (no decoder), i64 [B, 7, 7].
  Tensor encode_indices(const Variable& x);

  const ModelOptions& options() const { return opts_; }
  Quantizer& quantizer() { return *quantizer_; }
  // Whether the decoder runs each "Upsample then Conv3x3" pair as one
  // upsample2x_conv3x3 (upsample_conv.h; the default) or as the two layers.
  void set_fuse_upsample(bool on) { fuse_upsample_ = on; }
  bool fuse_upsample() const { return fuse_upsample_; }

 private:
  Variable encode(const Variable& x);
  Variable decode(const Variable& z);

  ModelOptions opts_;
  std::vector<std::shared_ptr<nn::Layer>> encoder_, decoder_;
  std::shared_ptr<Quantizer> quantizer_;
  bool fuse_upsample_ = true;
};

// The examples' training loss on one batch x (f32 [B, 1, 28, 28]):
//   rec = mean |clamp(out, -1, 1) - x|,  total = rec + aux_weight * quantizer loss
// (aux_weight: ModelOptions::aux_weight). Runs model.forward once.
struct TrainingLoss {
  Variable total;             // what the examples back-propagate
  Variable rec;               // the reconstruction term alone
  AutoEncoder::Output output; // the forward's outputs (indices, aux loss, reconstruction)
};
TrainingLoss training_loss(AutoEncoder& model, const Variable& x);

}  // namespace vq::app
