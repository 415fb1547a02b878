// VectorQuantize (SPEC.md section 3): input layouts (sequence, single token,
// channel-first, image and 3-D feature maps), projections, heads (shared or separate
// codebooks), the gradient estimators (rotation trick by default, straight-through,
// DiVeQ, sync_update_v), the losses (commitment MSE or cross-entropy, codebook
// diversity, orthogonal regularization), masks and lens, top-k, the indices=
// cross-entropy path, and decode helpers. Codebook maintenance lives in Codebook.
// https://arxiv.org/abs/1711.00937 (VQ-VAE)
#pragma once
#include <memory>
#include <optional>

#include "nn/layer.h"
#include "optim/optimizer.h"
#include "quantizers/codebook.h"
#include "quantizers/quantizer.h"
#include "quantizers/vq_options.h"

namespace vq {

// Per-call arguments (reference names). All optional.
struct VectorQuantizeCall {
  Tensor indices;  // i64: cross-entropy path (returns quantized in the internal layout + CE loss)
  Tensor mask;     // bool (b, n), true = valid
  Tensor lens;     // i64 (b,)
  std::optional<int64_t> topk;
  std::optional<double> sample_codebook_temp;
  std::optional<bool> freeze_codebook;
  std::optional<double> ema_update_weight;
  Tensor ema_update_weight_tensor;  // per-code weights (K,) or (h, K)
  bool accum_ema_update = false;
  std::optional<bool> ema_update;
  // Implicit neural codebook (ResidualVQ's QINCo): (h, K, d) codes -> (h, b, n, K, d).
  std::function<Variable(const Variable&)> codebook_transform_fn;

  // Reads the reference's forward keyword arguments (return_loss_breakdown is
  // accepted: the breakdown is always returned). Unknown keys throw ConfigError.
  static VectorQuantizeCall from_json(const nlohmann::json& kwargs);
};

class VectorQuantize : public Quantizer {
 public:
  // Throws ConfigError for invalid options (the reference's rule named). comm: the
  // communicator for codebook statistics (default: the process default).
  explicit VectorQuantize(VectorQuantizeOptions opts, std::shared_ptr<dist::Comm> comm = nullptr,
                          Generator& gen = default_generator());
  // Same, but using `shared` as its codebook (registered as its own _codebook child, so
  // it appears in this module's state too), e.g. ResidualVQ's shared_codebook. Throws
  // ConfigError when shared's width, size or codebook count differ from the options'.
  VectorQuantize(VectorQuantizeOptions opts, std::shared_ptr<Codebook> shared,
                 std::shared_ptr<dist::Comm> comm = nullptr, Generator& gen = default_generator());

  // x: (b, n, dim), (b, dim), (b, dim, n) with channel_last=false, (b, dim, H, W) with
  // accept_image_fmap, (b, dim, T, H, W) with accept_3d_fmap. Returns quantized in the
  // input's layout, indices ((b, n), (b, n, heads), (b, H, W), ...; -1 where masked),
  // loss (scalar; (b, n, k) with topk) and the breakdown terms commitment,
  // codebook_diversity, orthogonal_reg, inplace_optimize (unweighted). With an
  // in_place_codebook_optimizer, a training forward that is not frozen first takes
  // the in-place step (SPEC 3.6; ConfigError with topk).
  QuantizerOutput forward(const Variable& x, const VectorQuantizeCall& call = {});

  std::string module_name() const override { return "VectorQuantize"; }
  QuantizerOutput call(const QuantizerCall& c) override;
  // Codes for indices in the output layout (heads merged), projected out.
  Tensor get_output_from_indices(const Tensor& indices) override;
  Tensor get_codes_from_indices(const Tensor& indices);

  // Statistics update (EMA, code recomputation, expiry) from externally chosen indices
  // (e.g. after top-k / beam search), x in the forward's input layout, indices in its
  // output layout ((b, n) or (b, n, heads); -1 entries are ignored). Training mode.
  void update_indices(const Variable& x, const Tensor& indices, const Tensor& mask = Tensor(),
                      std::optional<double> ema_update_weight = std::nullopt, bool accum_ema_update = false);
  // Refills dead codes from x (sequence layout (b, n, dim)); the reference's expire_codes_.
  void expire_codes_(const Variable& x);
  // Recomputes codes from the EMA statistics (for manual_ema_update).
  void update_ema() { codebook_->update_ema(); }
  // SPEC 3.6 step 3 (for manual_in_place_optimizer_update): under sync_codebook every
  // Codebook parameter gradient is all-reduced (sum) through the Comm and divided by
  // the number of processes; then one optimizer step; then the gradients are cleared.
  // No-op without an in_place_codebook_optimizer.
  void update_in_place_optimizer();
  // The in-place codebook optimizer (over _codebook's parameters), or nullptr.
  optim::Optimizer* in_place_optimizer() const { return in_place_opt_.get(); }

  // (K, d) for a shared codebook, (h, K, d) for separate ones.
  Tensor codebook();
  void set_codebook(const Tensor& codes);
  Codebook& codebook_module() { return *codebook_; }
  std::shared_ptr<Codebook> codebook_ptr() const { return codebook_; }
  const VectorQuantizeOptions& options() const { return opts_; }
  CodebookHealth health() const { return codebook_->health(); }

 private:
  // Layout, projection, head split and normalization: x -> (h', b', n, d); also returns
  // the (b, n) sequence shape and, for masks from lens, the mask.
  Variable to_codebook_layout(const Variable& x, int64_t& b, int64_t& n);
  // Projection, head split and normalization of a (b, n, dim) sequence -> (h', b', n, d).
  Variable heads_from_seq(const Variable& x_seq);
  Variable project_in(const Variable& x);
  Variable project_out(const Variable& x);
  // SPEC 3.6: L_ip = mean((q - sg(x))^2) (valid tokens only under a mask), backward
  // into the Codebook's parameters, step unless manual, then the Codebook forward
  // again without statistics update, replacing cb. Returns L_ip (detached).
  Variable in_place_optimize(const Variable& x, CodebookCall cc, const Tensor& mask, CodebookResult& cb);
  Variable losses(const Variable& x, const Variable& x0_seq, const CodebookResult& cb,
                  const Tensor& idx_out, const Tensor& mask, bool frozen, std::optional<int64_t> topk,
                  std::map<std::string, Variable>& breakdown);

  VectorQuantizeOptions opts_;
  int64_t codebook_dim_, heads_;
  bool has_projection_;
  std::shared_ptr<nn::Layer> project_in_, project_out_;
  std::shared_ptr<Codebook> codebook_;
  std::unique_ptr<optim::Optimizer> in_place_opt_;
  std::shared_ptr<dist::Comm> comm_;
  Generator* gen_;
};

void register_vector_quantize();

}  // namespace vq
