// ResidualSimVQ module (see residual_sim_vq.h; SPEC.md section 14).
#include "quantizers/residual_sim_vq.h"

#include <set>

#include "kernels/ops.h"
#include "quantizers/options.h"
#include "quantizers/quantize_dropout.h"
#include "quantizers/scalar_common.h"

namespace vq {

namespace {

const std::set<std::string>& own_keys() {
  static const std::set<std::string> k{"dim",
                                       "num_quantizers",
                                       "codebook_size",
                                       "heads",
                                       "quantize_dropout",
                                       "quantize_dropout_cutoff_index",
                                       "quantize_dropout_multiple_of",
                                       "channel_first",
                                       "rotation_trick"};
  return k;
}

// (q, b, ..., d) -> (q, b, d, ...).
Tensor codes_last_to_two(const Tensor& t) {
  if (t.dim() <= 3) return t;
  std::vector<int64_t> perm{0, 1, t.dim() - 1};
  for (int64_t i = 2; i < t.dim() - 1; ++i) perm.push_back(i);
  return t.permute(perm).contiguous();
}

}  // namespace

ResidualSimVQOptions ResidualSimVQOptions::from_json(const nlohmann::json& j) {
  ResidualSimVQOptions o;
  check<ConfigError>(j.is_object() || j.is_null(), "ResidualSimVQ: config must be a JSON object, got ", j.dump());
  nlohmann::json mine = nlohmann::json::object();
  if (j.is_object())
    for (auto it = j.begin(); it != j.end(); ++it) (own_keys().count(it.key()) ? mine : o.sim_vq_kwargs)[it.key()] = it.value();
  OptionReader r(mine, "ResidualSimVQ");
  r.get("dim", o.dim);
  r.get("num_quantizers", o.num_quantizers);
  r.get("codebook_size", o.codebook_size);
  r.get("heads", o.heads);
  r.get("quantize_dropout", o.quantize_dropout);
  r.get("quantize_dropout_cutoff_index", o.quantize_dropout_cutoff_index);
  r.get("quantize_dropout_multiple_of", o.quantize_dropout_multiple_of);
  r.get("channel_first", o.channel_first);
  r.get("rotation_trick", o.rotation_trick);
  r.finish();
  return o;
}

void ResidualSimVQOptions::validate() const {
  check<ConfigError>(heads == 1, "ResidualSimVQ: option 'heads' must be 1 (residual vq is not compatible with ",
                     "multi-headed codes), got ", heads);
  check<ConfigError>(num_quantizers >= 1, "ResidualSimVQ: option 'num_quantizers' must be >= 1, got ", num_quantizers);
  check<ConfigError>(dim >= 1, "ResidualSimVQ: option 'dim' must be >= 1, got ", dim);
  check<ConfigError>(codebook_size >= 1, "ResidualSimVQ: option 'codebook_size' must be >= 1, got ", codebook_size);
  QuantizeDropout{quantize_dropout, quantize_dropout_cutoff_index, quantize_dropout_multiple_of}.validate(
      "ResidualSimVQ", num_quantizers);
}

ResidualSimVQCall ResidualSimVQCall::from_json(const nlohmann::json& kw) {
  ResidualSimVQCall c;
  OptionReader r(kw, "ResidualSimVQ.forward");
  r.get("return_all_codes", c.return_all_codes);
  int64_t seed = 0;
  r.get("rand_quantize_dropout_fixed_seed", seed);
  if (r.has("rand_quantize_dropout_fixed_seed")) {
    check<ConfigError>(seed >= 0, "ResidualSimVQ: rand_quantize_dropout_fixed_seed must be >= 0, got ", seed);
    c.rand_quantize_dropout_fixed_seed = static_cast<uint64_t>(seed);
  }
  r.finish();
  return c;
}

ResidualSimVQ::ResidualSimVQ(ResidualSimVQOptions o, std::shared_ptr<dist::Comm> comm, Generator& gen)
    : opts_(std::move(o)), comm_(comm ? comm : dist::default_comm()), gen_(&gen) {
  opts_.validate();
  nlohmann::json cfg = opts_.sim_vq_kwargs;
  cfg["dim"] = opts_.dim;
  cfg["codebook_size"] = opts_.codebook_size;
  cfg["channel_first"] = opts_.channel_first;
  cfg["rotation_trick"] = opts_.rotation_trick;
  SimVQOptions layer_opts = SimVQOptions::from_json(cfg);  // ConfigError for unknown layer keys
  layer_opts.validate();
  // one codebook_transform spec = one module shared by every layer (SPEC 14: the reference
  // passes the same Python module to each layer)
  std::shared_ptr<nn::Layer> shared;
  if (!layer_opts.codebook_transform.is_null())
    shared = sim_vq_transform_from_json(layer_opts.codebook_transform,
                                        layer_opts.frozen_codebook_dim.value_or(opts_.dim), opts_.dim, gen,
                                        "ResidualSimVQ");
  auto list = register_module("layers", std::make_shared<sq::ModuleList>());
  for (int64_t l = 0; l < opts_.num_quantizers; ++l)
    layers_.push_back(list->add(shared ? std::make_shared<SimVQ>(layer_opts, shared, gen)
                                       : std::make_shared<SimVQ>(layer_opts, gen)));
}

QuantizerOutput ResidualSimVQ::forward(const Variable& x, const ResidualSimVQCall& call) {
  const int64_t q = num_quantizers();
  const QuantizeDropout qd{opts_.quantize_dropout, opts_.quantize_dropout_cutoff_index,
                           opts_.quantize_dropout_multiple_of};
  int64_t last = q - 1;
  if (is_training() && qd.active(q)) {  // SPEC 4.4
    const uint64_t seed = call.rand_quantize_dropout_fixed_seed
                              ? *call.rand_quantize_dropout_fixed_seed
                              : static_cast<uint64_t>(draw_quantize_dropout_seed(*gen_, *comm_));
    last = qd.last_layer(seed, q);
  }
  Variable out, residual = x;
  std::vector<Tensor> indices;
  std::vector<Variable> losses;
  Shape null_shape;
  for (int64_t l = 0; l < q && l <= last; ++l) {
    QuantizerOutput o = layers_[l]->forward(residual);
    residual = ag::sub(residual, o.quantized.detach());
    out = out.defined() ? ag::add(out, o.quantized) : o.quantized;
    indices.push_back(o.indices);
    losses.push_back(o.loss);
    null_shape = o.indices.shape();
  }
  // dropped layers: index -1 and loss 0 (the indices take the layers' shape (b, ...),
  // also where the reference's x.shape[:2] would not fit, e.g. channel-last images)
  for (int64_t l = last + 1; l < q; ++l) {
    indices.push_back(Tensor::full(null_shape, -1.0, DType::i64, x.device()));
    losses.push_back(Variable(Tensor::zeros({}, DType::f32, x.device())));
  }
  QuantizerOutput res;
  res.quantized = out;
  res.indices = ops::stack(indices, -1);
  res.loss = ag::stack(losses, 0);
  if (call.return_all_codes) res.all_codes = Variable(get_codes_from_indices(res.indices));
  return res;
}

QuantizerOutput ResidualSimVQ::call(const QuantizerCall& c) {
  ResidualSimVQCall rc = ResidualSimVQCall::from_json(c.kwargs);
  for (const auto& kv : c.tensors) throw ConfigError("ResidualSimVQ: unknown input tensor '" + kv.first + "'");
  return forward(c.x, rc);
}

Tensor ResidualSimVQ::get_codes_from_indices(const Tensor& indices) {
  NoGradGuard ng;
  const int64_t q = num_quantizers();
  check<ShapeError>(indices.defined() && indices.dim() >= 2, "ResidualSimVQ.get_codes_from_indices: expected ",
                    "indices (b, ..., q), got ", indices.defined() ? shape_str(indices.shape()) : std::string("undefined"));
  const int64_t have = indices.size(-1);
  check<ShapeError>(have >= 1 && have <= q, "ResidualSimVQ.get_codes_from_indices: expected at most ", q,
                    " quantizer indices per token, got indices=", shape_str(indices.shape()));
  Tensor idx = indices.to(DType::i64);
  if (have < q) {
    check<ConfigError>(opts_.quantize_dropout && q > 1, "ResidualSimVQ: quantize dropout must be enabled to ",
                       "reconstruct from a signal with less fine quantizations (indices=", shape_str(indices.shape()),
                       ", num_quantizers=", q, ")");
    idx = ops::pad(idx, {0, q - have}, -1.0);
  }
  std::vector<Tensor> per;
  for (int64_t l = 0; l < q; ++l) {
    Tensor il = idx.select(-1, l).contiguous();
    Tensor C = layers_[l]->codebook().value();  // (K, dim)
    il = il.to(C.device());
    Tensor keep = ops::ge(il, 0.0);
    Tensor safe = ops::where(keep, il, Tensor::zeros({}, DType::i64, il.device()));
    Tensor codes = ops::index_select(C, 0, safe.reshape({-1}));
    Shape s = il.shape();
    s.push_back(opts_.dim);
    codes = codes.reshape(s);
    per.push_back(ops::where(keep.unsqueeze(-1), codes, Tensor::zeros({}, DType::f32, codes.device())));
  }
  Tensor all = ops::stack(per, 0);  // (q, b, ..., dim)
  return opts_.channel_first ? codes_last_to_two(all) : all;
}

Tensor ResidualSimVQ::get_output_from_indices(const Tensor& indices) {
  NoGradGuard ng;
  Tensor codes = get_codes_from_indices(indices);
  Tensor sum = codes.select(0, 0);
  for (int64_t l = 1; l < codes.size(0); ++l) sum = ops::add(sum, codes.select(0, l));
  return sum.contiguous();
}

Tensor ResidualSimVQ::codebooks() {
  NoGradGuard ng;
  std::vector<Tensor> cbs;
  for (auto& l : layers_) cbs.push_back(l->codebook().value());
  return ops::stack(cbs, 0);
}

void register_residual_sim_vq() {
  register_quantizer("ResidualSimVQ", [](const nlohmann::json& cfg) {
    return std::make_shared<ResidualSimVQ>(ResidualSimVQOptions::from_json(cfg));
  });
}

}  // namespace vq
