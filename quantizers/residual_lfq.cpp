// ResidualLFQ and GroupedResidualLFQ (see residual_lfq.h; SPEC.md section 11).
#include "quantizers/residual_lfq.h"

#include <set>

#include "kernels/ops.h"
#include "nn/linear.h"
#include "quantizers/quantize_dropout.h"
#include "quantizers/options.h"

namespace vq {

namespace {

void split_keys(const nlohmann::json& j, const std::set<std::string>& known, nlohmann::json& mine,
                nlohmann::json& rest, const char* module) {
  check<ConfigError>(j.is_object() || j.is_null(), module, ": config must be a JSON object, got ", j.dump());
  mine = nlohmann::json::object();
  rest = nlohmann::json::object();
  if (!j.is_object()) return;
  for (auto it = j.begin(); it != j.end(); ++it) (known.count(it.key()) ? mine : rest)[it.key()] = it.value();
}

int64_t log2_of(int64_t k) {
  int64_t c = 0;
  while ((int64_t{1} << c) < k) ++c;
  return c;
}

}  // namespace

// ---------------- ResidualLFQ ----------------

ResidualLFQOptions ResidualLFQOptions::from_json(const nlohmann::json& j) {
  ResidualLFQOptions o;
  nlohmann::json mine;
  split_keys(j,
             {"dim", "num_quantizers", "codebook_size", "quantize_dropout", "quantize_dropout_cutoff_index",
              "quantize_dropout_multiple_of", "soft_clamp_input_value"},
             mine, o.lfq_kwargs, "ResidualLFQ");
  OptionReader r(mine, "ResidualLFQ");
  r.get("dim", o.dim);
  r.get("num_quantizers", o.num_quantizers);
  r.get("codebook_size", o.codebook_size);
  r.get("quantize_dropout", o.quantize_dropout);
  r.get("quantize_dropout_cutoff_index", o.quantize_dropout_cutoff_index);
  r.get("quantize_dropout_multiple_of", o.quantize_dropout_multiple_of);
  r.get("soft_clamp_input_value", o.soft_clamp_input_value);
  r.finish();
  return o;
}

void ResidualLFQOptions::validate() const {
  check<ConfigError>(dim >= 1, "ResidualLFQ: dim must be >= 1, got ", dim);
  check<ConfigError>(num_quantizers >= 1, "ResidualLFQ: num_quantizers must be >= 1, got ", num_quantizers);
  check<ConfigError>(codebook_size >= 2 && (codebook_size & (codebook_size - 1)) == 0,
                     "ResidualLFQ: codebook_size must be a power of 2, got ", codebook_size);
  QuantizeDropout{quantize_dropout, quantize_dropout_cutoff_index, quantize_dropout_multiple_of}.validate(
      "ResidualLFQ", num_quantizers);
  for (const char* k : {"dim", "codebook_scale", "soft_clamp_input_value", "codebook_size"})
    check<ConfigError>(!lfq_kwargs.contains(k), "ResidualLFQ: got multiple values for LFQ keyword argument '", k, "'");
}

ResidualLFQCall ResidualLFQCall::from_json(const nlohmann::json& kw) {
  ResidualLFQCall c;
  OptionReader r(kw, "ResidualLFQ.forward");
  r.get("return_all_codes", c.return_all_codes);
  r.get("rand_quantize_dropout_fixed_seed", c.rand_quantize_dropout_fixed_seed);
  r.finish();
  return c;
}

ResidualLFQ::ResidualLFQ(ResidualLFQOptions o, std::shared_ptr<dist::Comm> comm, Generator& gen)
    : opts_(std::move(o)), comm_(comm ? comm : dist::default_comm()), gen_(&gen) {
  opts_.validate();
  c_ = log2_of(opts_.codebook_size);
  has_projections_ = c_ != opts_.dim;
  if (has_projections_) {
    project_in_ = register_module("project_in", std::shared_ptr<nn::Layer>(std::make_shared<nn::Linear>(opts_.dim, c_, true, gen)));
    project_out_ = register_module("project_out", std::shared_ptr<nn::Layer>(std::make_shared<nn::Linear>(c_, opts_.dim, true, gen)));
  }
  auto list = register_module("layers", std::make_shared<sq::ModuleList>());
  std::optional<double> soft = opts_.soft_clamp_input_value;
  for (int64_t l = 0; l < opts_.num_quantizers; ++l) {
    nlohmann::json cfg = opts_.lfq_kwargs;
    cfg["dim"] = c_;
    cfg["codebook_size"] = opts_.codebook_size;
    cfg["codebook_scale"] = std::ldexp(1.0, -static_cast<int>(l));
    if (soft) cfg["soft_clamp_input_value"] = *soft;
    auto lfq = list->add(std::make_shared<LFQ>(LFQOptions::from_json(cfg), comm_, gen));
    check<ConfigError>(!lfq->has_projections(), "ResidualLFQ: the LFQ layers must not need projections ",
                       "(num_codebooks must stay 1)");
    layers_.push_back(lfq);
    if (soft) *soft *= 0.5;
  }
}

QuantizerOutput ResidualLFQ::forward(const Variable& x_in, const ResidualLFQCall& call) {
  check<ShapeError>(x_in.dim() == 3 && x_in.size(-1) == opts_.dim, "ResidualLFQ: expected x of shape (b, n, dim=",
                    opts_.dim, "), got x=", shape_str(x_in.shape()));
  const int64_t b = x_in.size(0), n = x_in.size(1), q = num_quantizers();
  Variable x = has_projections_ ? project_in_->forward(x_in) : x_in;
  const QuantizeDropout qd{opts_.quantize_dropout, opts_.quantize_dropout_cutoff_index,
                           opts_.quantize_dropout_multiple_of};
  int64_t last = q - 1;
  if (is_training() && qd.active(q) && autograd::grad_enabled()) {  // SPEC 4.4
    const uint64_t seed = call.rand_quantize_dropout_fixed_seed
                              ? *call.rand_quantize_dropout_fixed_seed
                              : static_cast<uint64_t>(draw_quantize_dropout_seed(*gen_, *comm_));
    last = qd.last_layer(seed, q);
  }
  Variable out, residual = x;
  std::vector<Tensor> indices;
  std::vector<Variable> losses;
  LFQCall lc;
  lc.mask = call.mask;
  for (int64_t l = 0; l < q; ++l) {
    if (l > last) {
      indices.push_back(Tensor::full({b, n}, -1.0, DType::i64, x.device()));
      losses.push_back(Variable(Tensor::zeros({}, DType::f32, x.device())));
      continue;
    }
    QuantizerOutput o = layers_[l]->forward(residual, lc);
    residual = ag::sub(residual, o.quantized.detach());
    out = out.defined() ? ag::add(out, o.quantized) : o.quantized;
    indices.push_back(o.indices.reshape({b, n}));
    losses.push_back(o.loss);
  }
  if (has_projections_) out = project_out_->forward(out);
  QuantizerOutput res;
  res.quantized = out;
  res.indices = ops::stack(indices, -1);
  res.loss = ag::stack(losses, 0);
  if (call.return_all_codes) res.all_codes = Variable(get_codes_from_indices(res.indices));
  return res;
}

QuantizerOutput ResidualLFQ::call(const QuantizerCall& c) {
  ResidualLFQCall rc = ResidualLFQCall::from_json(c.kwargs);
  for (const auto& kv : c.tensors) {
    if (kv.first == "mask") rc.mask = kv.second;
    else throw ConfigError("ResidualLFQ: unknown input tensor '" + kv.first + "'");
  }
  return forward(c.x, rc);
}

Tensor ResidualLFQ::get_codes_from_indices(const Tensor& indices) {
  NoGradGuard ng;
  const int64_t q = num_quantizers();
  Tensor idx = indices.to(DType::i64);
  const int64_t have = idx.size(-1);
  check<ShapeError>(idx.dim() >= 2 && have >= 1 && have <= q, "ResidualLFQ.get_codes_from_indices: expected (b, ..., q') with q' <= ",
                    q, ", got indices=", shape_str(indices.shape()));
  if (have < q) {
    check<ConfigError>(opts_.quantize_dropout,
                       "ResidualLFQ: quantize dropout must be enabled to reconstruct from fewer quantizers");
    idx = ops::pad(idx, {0, q - have}, -1.0);
  }
  std::vector<Tensor> per;
  for (int64_t l = 0; l < q; ++l) {
    const Tensor il = idx.select(-1, l).contiguous();
    // decode through the layer (spherical / rotation honored); -1 decodes to a zero code
    Shape s = il.shape();
    s.push_back(c_);
    per.push_back(layers_[l]->indices_to_codes(il.reshape({-1}), false).reshape(s));
  }
  return ops::stack(per, 0);
}

Tensor ResidualLFQ::get_output_from_indices(const Tensor& indices) {
  NoGradGuard ng;
  Tensor codes = get_codes_from_indices(indices);
  Tensor sum = codes.select(0, 0);
  for (int64_t l = 1; l < codes.size(0); ++l) sum = ops::add(sum, codes.select(0, l));
  sum = sum.contiguous();
  return has_projections_ ? project_out_->forward(Variable(sum)).value() : sum;
}

// ---------------- GroupedResidualLFQ ----------------

GroupedResidualLFQOptions GroupedResidualLFQOptions::from_json(const nlohmann::json& j) {
  GroupedResidualLFQOptions o;
  nlohmann::json mine;
  split_keys(j, {"dim", "groups", "accept_image_fmap"}, mine, o.residual_kwargs, "GroupedResidualLFQ");
  OptionReader r(mine, "GroupedResidualLFQ");
  r.get("dim", o.dim);
  r.get("groups", o.groups);
  r.get("accept_image_fmap", o.accept_image_fmap);
  r.finish();
  return o;
}

GroupedResidualLFQ::GroupedResidualLFQ(GroupedResidualLFQOptions o, std::shared_ptr<dist::Comm> comm, Generator& gen)
    : opts_(std::move(o)), comm_(comm ? comm : dist::default_comm()), gen_(&gen) {
  check<ConfigError>(opts_.groups >= 1 && opts_.dim >= 1 && opts_.dim % opts_.groups == 0,
                     "GroupedResidualLFQ: dim (", opts_.dim, ") must be divisible by groups (", opts_.groups, ")");
  check<ConfigError>(!opts_.residual_kwargs.contains("dim"), "GroupedResidualLFQ: got multiple values for 'dim'");
  nlohmann::json cfg = opts_.residual_kwargs;
  cfg["dim"] = opts_.dim / opts_.groups;
  auto list = register_module("rvqs", std::make_shared<sq::ModuleList>());
  for (int64_t g = 0; g < opts_.groups; ++g)
    groups_.push_back(list->add(std::make_shared<ResidualLFQ>(ResidualLFQOptions::from_json(cfg), comm_, gen)));
}

QuantizerOutput GroupedResidualLFQ::forward(const Variable& x_in, const Tensor& mask, bool return_all_codes) {
  const int64_t split = opts_.accept_image_fmap ? 1 : -1;
  check<ShapeError>(x_in.dim() >= 3 && x_in.size(split) == opts_.dim, "GroupedResidualLFQ: expected dimension ",
                    opts_.dim, " on axis ", split, ", got x=", shape_str(x_in.shape()));
  sq::SeqLayout lay;
  Variable x = sq::to_sequence(x_in, opts_.accept_image_fmap, &lay, "GroupedResidualLFQ");
  std::vector<Variable> chunks = ag::chunk(x, opts_.groups, -1);
  ResidualLFQCall call;
  call.mask = mask;
  call.return_all_codes = return_all_codes;
  if (is_training())
    call.rand_quantize_dropout_fixed_seed = static_cast<uint64_t>(draw_quantize_dropout_seed(*gen_, *comm_));
  std::vector<Variable> outs, losses, codes;
  std::vector<Tensor> idx;
  for (int64_t g = 0; g < opts_.groups; ++g) {
    QuantizerOutput o = groups_[g]->forward(chunks[g], call);
    outs.push_back(o.quantized);
    idx.push_back(sq::indices_from_sequence(o.indices, lay));
    losses.push_back(o.loss);
    if (return_all_codes) codes.push_back(o.all_codes);
  }
  QuantizerOutput res;
  res.quantized = sq::from_sequence(ag::cat(outs, -1), lay);
  res.indices = ops::stack(idx, 0);
  res.loss = ag::stack(losses, 0);
  if (return_all_codes) res.all_codes = ag::stack(codes, 0);
  return res;
}

QuantizerOutput GroupedResidualLFQ::call(const QuantizerCall& c) {
  OptionReader r(c.kwargs, "GroupedResidualLFQ.forward");
  bool all = false;
  r.get("return_all_codes", all);
  r.finish();
  Tensor mask;
  for (const auto& kv : c.tensors) {
    if (kv.first == "mask") mask = kv.second;
    else throw ConfigError("GroupedResidualLFQ: unknown input tensor '" + kv.first + "'");
  }
  return forward(c.x, mask, all);
}

Tensor GroupedResidualLFQ::get_output_from_indices(const Tensor& indices) {
  check<ShapeError>(indices.dim() >= 2 && indices.size(0) == opts_.groups, "GroupedResidualLFQ: indices must be (groups=",
                    opts_.groups, ", ...), got ", shape_str(indices.shape()));
  std::vector<Tensor> outs;
  for (int64_t g = 0; g < opts_.groups; ++g) {
    Tensor ig = indices.select(0, g);
    const Shape full = ig.shape();
    Tensor flat = ig.reshape({ig.size(0), -1, ig.size(-1)});
    Tensor o = groups_[g]->get_output_from_indices(flat);  // (b, N, dim / groups)
    if (opts_.accept_image_fmap) {
      Shape s(full.begin(), full.end() - 1);
      s.push_back(o.size(-1));
      o = sq::last_to_channel(o.reshape(s));
    } else {
      Shape s(full.begin(), full.end() - 1);
      s.push_back(o.size(-1));
      o = o.reshape(s);
    }
    outs.push_back(o);
  }
  return ops::cat(outs, opts_.accept_image_fmap ? 1 : -1);
}

Tensor GroupedResidualLFQ::get_codes_from_indices(const Tensor& indices) {
  std::vector<Tensor> codes;
  for (int64_t g = 0; g < opts_.groups; ++g) codes.push_back(groups_[g]->get_codes_from_indices(indices.select(0, g)));
  return ops::stack(codes, 0);
}

void register_residual_lfq() {
  register_quantizer("ResidualLFQ", [](const nlohmann::json& cfg) {
    return std::make_shared<ResidualLFQ>(ResidualLFQOptions::from_json(cfg));
  });
  register_quantizer("GroupedResidualLFQ", [](const nlohmann::json& cfg) {
    return std::make_shared<GroupedResidualLFQ>(GroupedResidualLFQOptions::from_json(cfg));
  });
}

}  // namespace vq
