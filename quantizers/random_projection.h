// RandomProjectionQuantizer (SPEC.md section 6): BEST-RQ's target generator. Inputs
// are normalized (parameter-free LayerNorm), projected by frozen Xavier-normal random
// matrices (one per codebook) and quantized by a cosine-similarity VectorQuantize with
// one codebook per head, always in eval mode (argmax, no updates, no losses). Forward
// returns the code indices, or the cross-entropy of the similarities against given
// indices. State: rand_projs (h, dim, codebook_dim), vq.*.
// https://arxiv.org/abs/2202.01855 (BEST-RQ)
#pragma once
#include <memory>

#include "nn/layer.h"
#include "quantizers/vector_quantize.h"

namespace vq {

struct RandomProjectionQuantizerOptions {
  int64_t dim = 0;            // required: input width
  int64_t codebook_size = 0;  // required: K
  int64_t codebook_dim = 0;   // required: width of each random projection
  int64_t num_codebooks = 1;  // h
  bool norm = true;           // LayerNorm(dim) without affine parameters (eps 1e-5)
  // vqcpp extension. The reference does not pass codebook_dim to its inner
  // VectorQuantize, so for h > 1 that VQ has a random project_in (h*cd -> h*h*cd) and
  // codebooks h*cd wide (SPEC 23.8). false (default) reproduces that, so reference
  // checkpoints load; true gives the evident intent: codebooks cd wide, no projection.
  bool forward_codebook_dim = false;
  // The reference's **kwargs for the inner VectorQuantize (e.g. kmeans_init); dim,
  // heads, codebook_size, use_cosine_sim and separate_codebook_per_head are set here.
  VectorQuantizeOptions vq;

  // Reads the reference's keyword arguments; every key it does not consume itself is an
  // inner VectorQuantize option. Unknown keys / wrong types throw ConfigError, so do the
  // keys the reference fixes (heads, use_cosine_sim, separate_codebook_per_head).
  static RandomProjectionQuantizerOptions from_json(const nlohmann::json& j);
  // The inner VectorQuantize's options.
  VectorQuantizeOptions inner_options() const;
};

class RandomProjectionQuantizer : public Quantizer {
 public:
  // Throws ConfigError for non-positive sizes or invalid inner options. rand_projs and
  // the codebooks are drawn from gen.
  explicit RandomProjectionQuantizer(RandomProjectionQuantizerOptions opts, std::shared_ptr<dist::Comm> comm = nullptr,
                                     Generator& gen = default_generator());

  // x (b, n, dim) f32. Without indices: out.indices i64 (b, n, h) for h > 1, (b, n) for
  // h = 1, out.quantized left undefined. With indices ((b, n[, h]) i64, -1 ignored):
  // out.loss is the mean cross-entropy of the cosine similarities (differentiable in x).
  // Puts the inner VQ in eval mode on every call. ShapeError for a wrong width.
  QuantizerOutput forward(const Variable& x, const Tensor& indices = Tensor());

  std::string module_name() const override { return "RandomProjectionQuantizer"; }
  QuantizerOutput call(const QuantizerCall& c) override;
  // The code vectors of the targets, as the inner VQ decodes them: (b, n, h * width)
  // in the projected space (not an inverse of the random projection).
  Tensor get_output_from_indices(const Tensor& indices) override;

  const Tensor& rand_projs() const { return *rand_projs_; }
  VectorQuantize& vq() { return *vq_; }
  const RandomProjectionQuantizerOptions& options() const { return opts_; }

 private:
  RandomProjectionQuantizerOptions opts_;
  Tensor* rand_projs_;
  std::shared_ptr<nn::Layer> norm_;
  std::shared_ptr<VectorQuantize> vq_;
};

void register_random_projection_quantizer();

}  // namespace vq
