// ResidualVQ (SPEC.md section 4): a stack of VectorQuantize layers where layer l
// quantizes what layers 0..l-1 left unexplained; the output is the sum of the layer
// outputs. Options: per-layer codebook sizes, residual-level projections when
// codebook_dim != dim, a shared codebook, quantize dropout (quantizers/
// quantize_dropout.h), beam search over the layer choices, gradient fraction into the
// next residual, DiVeQ on the sum, the cross-entropy mode (indices given), and image /
// video / channel-first layouts handled once at the residual level, and implicit neural
// codebooks (QINCo: layer l >= 1 searches codes transformed by an MLP conditioned on the
// running sum). State names follow the reference: project_in.*, project_out.*,
// layers.{l}.<VectorQuantize keys> (a shared codebook appears under every layer),
// mlps.{i}.* (QINCo; MLP i serves layer i + 1).
// https://arxiv.org/abs/2107.03312 (SoundStream, Algorithm 1)
#pragma once
#include <memory>
#include <optional>
#include <vector>

#include "nn/layer.h"
#include "quantizers/quantizer.h"
#include "quantizers/residual_vq_mlp.h"
#include "quantizers/residual_vq_options.h"
#include "quantizers/vector_quantize.h"

namespace vq {

// Per-call arguments (reference names). All optional.
struct ResidualVQCall {
  Tensor mask;     // bool (b, n), true = valid (sequence layouts only)
  Tensor indices;  // i64 (b, n, q): cross-entropy mode (SPEC 4.5; no -1 entries)
  bool return_all_codes = false;
  std::optional<double> sample_codebook_temp;
  std::optional<bool> freeze_codebook;                      // None -> the layers' option
  std::optional<int64_t> beam_size;                         // overrides beam_size / eval_beam_size
  std::optional<int64_t> rand_quantize_dropout_fixed_seed;  // the dropout seed (else drawn)

  // Reads the reference's forward keyword arguments; unknown keys throw ConfigError.
  static ResidualVQCall from_json(const nlohmann::json& kwargs);
};

class ResidualVQ : public Quantizer {
 public:
  // Throws ConfigError for invalid options (the reference's rule named). comm: the
  // communicator for codebook statistics and the dropout seed (default: the process
  // default); gen: parameters, codebooks and the dropout seed are drawn from it.
  explicit ResidualVQ(ResidualVQOptions opts, std::shared_ptr<dist::Comm> comm = nullptr,
                      Generator& gen = default_generator());

  // x: (b, n, dim), (b, dim), (b, dim, n) with channel_last=false, (b, dim, H, W) with
  // accept_image_fmap, (b, dim, T, H, W) with accept_3d_fmap. Returns quantized in the
  // input's layout; indices i64 (b, n, q) ((b, q), (b, H, W, q), ...; -1 for dropped
  // layers and masked tokens); loss: per-layer losses (q,) (0 for dropped layers and in
  // eval); all_codes (q, b, n, d) with return_all_codes. In cross-entropy mode
  // (call.indices) quantized is the output decoded from the given indices and loss the
  // scalar sum of the per-layer cross-entropies. Throws ShapeError for inputs that do
  // not fit the options, ConfigError for a mask with a fmap / single-token layout.
  QuantizerOutput forward(const Variable& x, const ResidualVQCall& call = {});

  std::string module_name() const override { return "ResidualVQ"; }
  QuantizerOutput call(const QuantizerCall& c) override;
  // indices (b, ..., q') with q' <= q (q' < q only with quantize_dropout: the missing
  // layers count as dropped); -1 = dropped (zero code). Returns the per-layer codes
  // (q, b, ..., d) in the residual (codebook) space, not projected.
  Tensor get_codes_from_indices(const Tensor& indices);
  // project_out(sum of the codes), in the input's layout (feature axis 1 for fmaps and
  // channel-first). Inverse of forward for every configuration (up to float rounding).
  Tensor get_output_from_indices(const Tensor& indices) override;

  int64_t num_quantizers() const { return static_cast<int64_t>(layers_.size()); }
  int64_t codebook_size() const { return sizes_[0]; }  // layer 0's
  const std::vector<int64_t>& codebook_sizes() const { return sizes_; }
  // (q, K, d) codes of every layer (uniform sizes); ConfigError otherwise (use layer(l)).
  Tensor codebooks();
  VectorQuantize& layer(int64_t l) { return *layers_.at(static_cast<size_t>(l)); }
  // QINCo: the MLP that transforms layer l's codes (nullptr for layer 0 or without QINCo).
  QincoMLP* implicit_codebook_mlp(int64_t l) {
    return (l >= 1 && l <= static_cast<int64_t>(mlps_.size())) ? mlps_[static_cast<size_t>(l - 1)].get() : nullptr;
  }
  const ResidualVQOptions& options() const { return opts_; }

 private:
  // State of a residual pass over (b, n, d) sequences.
  struct Pass {
    Variable out;                   // running sum of layer outputs (b, n, d)
    std::vector<Tensor> indices;    // per layer (b, n)
    std::vector<Variable> losses;   // per layer: scalar
    std::vector<Tensor> residuals;  // per processed layer: its input (b, n, d), for expiry
  };
  Variable frac_gradient(const Variable& q) const;
  Variable to_seq(const Variable& x, Shape& spatial) const;  // input layout -> (b, n, D)
  Variable from_seq(const Variable& q, const Shape& spatial, int64_t b) const;
  Tensor from_seq_indices(const Tensor& idx, const Shape& spatial) const;
  Pass run_layers(const Variable& x, const Tensor& mask, const ResidualVQCall& c, std::optional<int64_t> last);
  Pass run_beam(const Variable& x, const Tensor& mask, const ResidualVQCall& c, std::optional<int64_t> last,
                int64_t beam);
  QuantizerOutput cross_entropy(const Variable& x_seq, const Tensor& mask, const Shape& spatial, int64_t b,
                                const ResidualVQCall& c);
  void end_of_step_shared(const Pass& p, const Tensor& mask, bool frozen);

  ResidualVQOptions opts_;
  std::shared_ptr<dist::Comm> comm_;
  Generator* gen_;
  int64_t codebook_dim_;
  std::vector<int64_t> sizes_;
  bool uniform_;
  bool has_projection_;
  std::shared_ptr<nn::Layer> project_in_, project_out_;
  std::vector<std::shared_ptr<VectorQuantize>> layers_;
  std::vector<std::shared_ptr<QincoMLP>> mlps_;  // QINCo: mlps_[i] serves layer i + 1
  std::vector<double> beam_weights_;
};

void register_residual_vq();

}  // namespace vq
