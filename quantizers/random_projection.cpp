// RandomProjectionQuantizer: options, random projections, forward (see
// random_projection.h, SPEC.md 6).
#include "quantizers/random_projection.h"

#include <cmath>

#include "autograd/functions.h"
#include "nn/norm.h"
#include "quantizers/options.h"

namespace vq {

RandomProjectionQuantizerOptions RandomProjectionQuantizerOptions::from_json(const nlohmann::json& j) {
  RandomProjectionQuantizerOptions o;
  OptionReader r(j, "RandomProjectionQuantizer");
  check<ConfigError>(r.has("dim") && r.has("codebook_size") && r.has("codebook_dim"),
                     "RandomProjectionQuantizer: options 'dim', 'codebook_size' and 'codebook_dim' are required");
  r.get("dim", o.dim);
  r.get("codebook_size", o.codebook_size);
  r.get("codebook_dim", o.codebook_dim);
  r.get("num_codebooks", o.num_codebooks);
  r.get("norm", o.norm);
  r.get("forward_codebook_dim", o.forward_codebook_dim);
  const char* mine[] = {"dim", "codebook_size", "codebook_dim", "num_codebooks", "norm", "forward_codebook_dim"};
  nlohmann::json inner = nlohmann::json::object();
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool own = false;
    for (const char* k : mine) own = own || it.key() == k;
    if (own) continue;
    for (const char* fixed : {"heads", "use_cosine_sim", "separate_codebook_per_head"})
      check<ConfigError>(it.key() != fixed, "RandomProjectionQuantizer: option '", fixed,
                         "' is fixed by RandomProjectionQuantizer and cannot be passed");
    inner[it.key()] = it.value();
  }
  inner["dim"] = 1;
  inner["codebook_size"] = 1;
  try {
    o.vq = VectorQuantizeOptions::from_json(inner);
  } catch (const ConfigError& e) {
    throw ConfigError(std::string("RandomProjectionQuantizer: inner VectorQuantize option rejected: ") + e.what());
  }
  return o;
}

VectorQuantizeOptions RandomProjectionQuantizerOptions::inner_options() const {
  VectorQuantizeOptions v = vq;
  v.dim = codebook_dim * num_codebooks;
  v.heads = num_codebooks;
  v.codebook_size = codebook_size;
  v.use_cosine_sim = true;
  v.separate_codebook_per_head = true;
  if (forward_codebook_dim) v.codebook_dim = codebook_dim;
  return v;
}

RandomProjectionQuantizer::RandomProjectionQuantizer(RandomProjectionQuantizerOptions o,
                                                     std::shared_ptr<dist::Comm> comm, Generator& gen)
    : opts_(std::move(o)) {
  const int64_t D = opts_.dim, h = opts_.num_codebooks, cd = opts_.codebook_dim;
  check<ConfigError>(
      D > 0 && cd > 0 && h > 0 && opts_.codebook_size > 0,
      "RandomProjectionQuantizer: dim, codebook_size, codebook_dim and num_codebooks must be positive, got ", D, ", ",
      opts_.codebook_size, ", ", cd, ", ", h);
  // xavier_normal_ on (h, dim, cd): fan_in = dim * cd, fan_out = h * cd.
  const double std = std::sqrt(2.0 / static_cast<double>(D * cd + h * cd));
  rand_projs_ =
      register_buffer("rand_projs", Tensor::randn({h, D, cd}, gen, cpu_device(), 0.f, static_cast<float>(std)));
  if (opts_.norm)
    norm_ = register_module("norm", std::shared_ptr<nn::Layer>(std::make_shared<nn::LayerNorm>(Shape{D}, 1e-5, false)));
  vq_ = register_module("vq", std::make_shared<VectorQuantize>(opts_.inner_options(), comm, gen));
}

QuantizerOutput RandomProjectionQuantizer::forward(const Variable& x_in, const Tensor& indices) {
  const int64_t D = opts_.dim, h = opts_.num_codebooks, cd = opts_.codebook_dim;
  check<ShapeError>(x_in.dim() == 3 && x_in.size(-1) == D, "RandomProjectionQuantizer: x must be (b, n, dim=", D,
                    "), got x=", shape_str(x_in.shape()));
  const int64_t b = x_in.size(0), n = x_in.size(1);
  Variable x = norm_ ? norm_->forward(x_in) : x_in;
  // einsum('b n d, h d e -> b n (h e)'): one GEMM against the projections laid side by side.
  Tensor P = rand_projs_->permute({1, 0, 2}).contiguous().reshape({D, h * cd});
  x = ag::reshape(ag::matmul(ag::reshape(x, {b * n, D}), Variable(P)), {b, n, h * cd});
  vq_->eval();
  VectorQuantizeCall vc;
  vc.indices = indices;
  QuantizerOutput o = vq_->forward(x, vc);
  QuantizerOutput res;
  if (indices.defined()) res.loss = o.loss;
  // One codebook: (b, n) as the reference (VectorQuantize with separate codebooks and
  // one head returns a trailing axis of size 1 here).
  else
    res.indices = (h == 1 && o.indices.dim() == 3) ? o.indices.squeeze(-1) : o.indices;
  return res;
}

QuantizerOutput RandomProjectionQuantizer::call(const QuantizerCall& c) {
  check<ConfigError>(c.kwargs.is_null() || c.kwargs.empty(), "RandomProjectionQuantizer.forward: unknown option(s) ",
                     c.kwargs.dump());
  Tensor indices;
  for (const auto& kv : c.tensors) {
    if (kv.first == "indices")
      indices = kv.second;
    else
      throw ConfigError("RandomProjectionQuantizer: unknown input tensor '" + kv.first + "'");
  }
  return forward(c.x, indices);
}

Tensor RandomProjectionQuantizer::get_output_from_indices(const Tensor& indices) {
  return vq_->get_output_from_indices(indices);
}

void register_random_projection_quantizer() {
  register_quantizer("RandomProjectionQuantizer", [](const nlohmann::json& cfg) {
    return std::make_shared<RandomProjectionQuantizer>(RandomProjectionQuantizerOptions::from_json(cfg));
  });
}

}  // namespace vq
