// ResidualFSQ and GroupedResidualFSQ (see residual_fsq.h; SPEC.md section 9).
#include "quantizers/residual_fsq.h"

#include <cmath>

#include "kernels/ops.h"
#include "quantizers/options.h"
#include "quantizers/quantize_dropout.h"
#include "quantizers/residual_common.h"

namespace vq {

// ---------------- ResidualFSQ ----------------

ResidualFSQOptions ResidualFSQOptions::from_json(const nlohmann::json& j) {
  ResidualFSQOptions o;
  nlohmann::json mine;
  sq::split_keys(j,
                 {"levels", "num_quantizers", "dim", "is_channel_first", "quantize_dropout", "quantize_dropout_cutoff_index",
                  "quantize_dropout_multiple_of", "soft_clamp_input_value", "bound_hard_clamp"},
                 mine, o.fsq_kwargs, "ResidualFSQ");
  OptionReader r(mine, "ResidualFSQ");
  r.get("levels", o.levels);
  r.get("num_quantizers", o.num_quantizers);
  r.get("dim", o.dim);
  r.get("is_channel_first", o.is_channel_first);
  r.get("quantize_dropout", o.quantize_dropout);
  r.get("quantize_dropout_cutoff_index", o.quantize_dropout_cutoff_index);
  r.get("quantize_dropout_multiple_of", o.quantize_dropout_multiple_of);
  r.get("bound_hard_clamp", o.bound_hard_clamp);
  r.accept("soft_clamp_input_value");
  if (r.has("soft_clamp_input_value")) {
    const auto& v = mine.at("soft_clamp_input_value");
    if (v.is_number()) {
      o.soft_clamp_input_value = std::vector<float>{v.get<float>()};
    } else {
      std::vector<float> vals;
      r.get("soft_clamp_input_value", vals);
      o.soft_clamp_input_value = vals;
    }
  }
  r.finish();
  return o;
}

void ResidualFSQOptions::validate() const {
  check<ConfigError>(!levels.empty(), "ResidualFSQ: levels must be a non-empty list of ints");
  for (int64_t l : levels) check<ConfigError>(l > 1, "ResidualFSQ: every level must be > 1, got ", l);
  check<ConfigError>(num_quantizers >= 1, "ResidualFSQ: num_quantizers must be >= 1, got ", num_quantizers);
  QuantizeDropout{quantize_dropout, quantize_dropout_cutoff_index, quantize_dropout_multiple_of}.validate(
      "ResidualFSQ", num_quantizers);
  check<ConfigError>(!(bound_hard_clamp && soft_clamp_input_value),
                     "ResidualFSQ: soft_clamp_input_value must not be given with bound_hard_clamp=True ",
                     "(it is then 1 + 1 / (level - 1))");
  if (soft_clamp_input_value)
    check<ConfigError>(soft_clamp_input_value->size() == 1 || soft_clamp_input_value->size() == levels.size(),
                       "ResidualFSQ: soft_clamp_input_value must be a number or one value per level (",
                       levels.size(), "), got ", soft_clamp_input_value->size(), " values");
  for (const char* k : {"levels", "dim", "preserve_symmetry", "bound_hard_clamp"})
    check<ConfigError>(!fsq_kwargs.contains(k), "ResidualFSQ: got multiple values for FSQ keyword argument '", k, "'");
}

ResidualFSQCall ResidualFSQCall::from_json(const nlohmann::json& kw) {
  ResidualFSQCall c;
  sq::read_residual_call(kw, "ResidualFSQ", c.return_all_codes, c.rand_quantize_dropout_fixed_seed);
  return c;
}

ResidualFSQ::ResidualFSQ(ResidualFSQOptions o, std::shared_ptr<dist::Comm> comm, Generator& gen)
    : opts_(std::move(o)), comm_(comm ? comm : dist::default_comm()), gen_(&gen) {
  opts_.validate();
  c_ = static_cast<int64_t>(opts_.levels.size());
  dim_ = opts_.dim.value_or(c_);
  has_projections_ = dim_ != c_;
  if (has_projections_) {
    project_in_ = register_module("project_in", sq::linear_with_bias(dim_, c_, gen));
    project_out_ = register_module("project_out", sq::linear_with_bias(c_, dim_, gen));
  }
  auto list = register_module("layers", std::make_shared<sq::ModuleList>());
  nlohmann::json layer_cfg = opts_.fsq_kwargs;
  layer_cfg["levels"] = opts_.levels;
  layer_cfg["dim"] = c_;
  layer_cfg["preserve_symmetry"] = true;
  layer_cfg["bound_hard_clamp"] = opts_.bound_hard_clamp;
  for (int64_t l = 0; l < opts_.num_quantizers; ++l) {
    auto fsq = list->add(std::make_shared<FSQ>(FSQOptions::from_json(layer_cfg), gen));
    check<ConfigError>(!fsq->has_projections(), "ResidualFSQ: the FSQ layers must not need projections ",
                       "(num_codebooks must stay 1)");
    layers_.push_back(fsq);
    std::vector<float> s;
    for (int64_t L : opts_.levels) s.push_back(static_cast<float>(std::pow(static_cast<double>(L), -static_cast<double>(l))));
    scales_.push_back(s);
  }
  if (opts_.bound_hard_clamp) {
    for (int64_t L : opts_.levels) soft_clamp_.push_back(1.f + 1.f / static_cast<float>(L - 1));
  } else if (opts_.soft_clamp_input_value) {
    soft_clamp_ = *opts_.soft_clamp_input_value;
  }
}

QuantizerOutput ResidualFSQ::forward(const Variable& x_in, const ResidualFSQCall& call) {
  check<ShapeError>(opts_.is_channel_first || x_in.dim() == 3, "ResidualFSQ: expected x of shape (b, n, dim), got x=",
                    shape_str(x_in.shape()), " (channel-first inputs need is_channel_first=True)");
  sq::SeqLayout lay;
  Variable x = sq::to_sequence(x_in, opts_.is_channel_first, &lay, "ResidualFSQ");
  check<ShapeError>(x.size(-1) == dim_, "ResidualFSQ: expected dimension of ", dim_, ", got x=",
                    shape_str(x_in.shape()));
  const int64_t b = x.size(0), q = num_quantizers();
  if (has_projections_) x = project_in_->forward(x);
  if (!soft_clamp_.empty()) x = sq::soft_clamp(x, soft_clamp_, opts_.fsq_kwargs.value("exact_tanh", false));

  const QuantizeDropout qd{opts_.quantize_dropout, opts_.quantize_dropout_cutoff_index,
                           opts_.quantize_dropout_multiple_of};
  const int64_t last =
      sq::last_active_layer(qd, q, is_training(), call.rand_quantize_dropout_fixed_seed, *gen_, *comm_);
  sq::ResidualPass p = sq::run_residual_layers(x, q, last, false, [&](int64_t l, const Variable& residual) {
    sq::FsqResult r = layers_[l]->quantize_scaled(residual, scales_[l]);  // FSQ(r / s) * s
    return sq::LayerStep{r.codes, r.indices, Variable()};
  });
  Variable out = p.out;
  if (has_projections_) out = project_out_->forward(out);
  Tensor idx = ops::stack(p.indices, -1);  // (b, N, q)

  QuantizerOutput res;
  if (call.return_all_codes) {
    Tensor codes = codes_from_seq_indices(idx);  // (q, b, N, c)
    if (lay.moved) {
      Shape s{q, b};
      s.insert(s.end(), lay.spatial.begin(), lay.spatial.end());
      s.push_back(c_);
      codes = codes.reshape(s);
    }
    res.all_codes = Variable(codes);
  }
  res.quantized = sq::from_sequence(out, lay);
  // channel-first: (b, ..., q) -> (b, q, ...), as the reference (SPEC 23.28)
  res.indices = lay.moved ? sq::last_to_channel(sq::indices_from_sequence(idx, lay)) : idx;
  return res;
}

QuantizerOutput ResidualFSQ::call(const QuantizerCall& c) {
  ResidualFSQCall rc = ResidualFSQCall::from_json(c.kwargs);
  (void)sq::mask_input(c.tensors, false, "ResidualFSQ");
  return forward(c.x, rc);
}

Tensor ResidualFSQ::codes_from_seq_indices(const Tensor& idx_in) {
  const int64_t q = num_quantizers();
  Tensor idx = idx_in.to(DType::i64);
  const int64_t have = idx.size(-1);
  check<ShapeError>(have >= 1 && have <= q, "ResidualFSQ.get_codes_from_indices: expected at most ", q,
                    " quantizer indices per token, got indices=", shape_str(idx_in.shape()));
  idx = sq::pad_dropped_layers(idx, q, opts_.quantize_dropout, "ResidualFSQ");
  std::vector<Tensor> per;
  for (int64_t l = 0; l < q; ++l) {
    const Tensor il = idx.select(-1, l).contiguous();
    ops::FsqSpec s = layers_[l]->spec();
    if (!layers_[l]->options().orthogonal_rotation) {
      s.post_mul = scales_[l];
      per.push_back(ops::fsq_indices_to_codes(il, s));  // -1 -> zero code
    } else {  // decode through the layer (rotation), then scale; -1 -> zero
      Tensor codes = layers_[l]->indices_to_codes(ops::where(ops::lt(il, 0.0), ops::mul(il, 0.0), il));
      Tensor sc = Tensor::from_vector(scales_[l], {c_}).to(codes.device());
      Tensor keep = ops::ge(il, 0.0).unsqueeze(-1);
      per.push_back(ops::where(keep, ops::mul(codes, sc), Tensor::zeros({}, DType::f32, codes.device())));
    }
  }
  return ops::stack(per, 0);
}

Tensor ResidualFSQ::get_codes_from_indices(const Tensor& indices) {
  NoGradGuard ng;
  Tensor idx = indices;
  if (opts_.is_channel_first && idx.dim() >= 3) {  // (b, q, ...) -> (b, ..., q)
    std::vector<int64_t> perm{0};
    for (int64_t i = 2; i < idx.dim(); ++i) perm.push_back(i);
    perm.push_back(1);
    idx = idx.permute(perm).contiguous();
  }
  const Shape lead(idx.shape().begin(), idx.shape().end() - 1);
  Tensor flat = idx.reshape({lead.empty() ? 1 : lead[0], -1, idx.size(-1)});
  Tensor codes = codes_from_seq_indices(flat);  // (q, b, N, c)
  Shape s{num_quantizers()};
  s.insert(s.end(), lead.begin(), lead.end());
  s.push_back(c_);
  return codes.reshape(s);
}

Tensor ResidualFSQ::get_output_from_indices(const Tensor& indices) {
  NoGradGuard ng;
  Tensor codes = get_codes_from_indices(indices);  // (q, b, ..., c)
  Tensor sum = sq::sum_over_layers(codes);
  Tensor out = has_projections_ ? project_out_->forward(Variable(sum)).value() : sum;
  if (opts_.is_channel_first && out.dim() >= 3) out = sq::last_to_channel(out);
  return out;
}

Tensor ResidualFSQ::codebooks() {
  std::vector<Tensor> cbs;
  for (auto& l : layers_) cbs.push_back(l->implicit_codebook());
  return ops::stack(cbs, 0);
}

// ---------------- GroupedResidualFSQ ----------------

GroupedResidualFSQOptions GroupedResidualFSQOptions::from_json(const nlohmann::json& j) {
  return sq::grouped_options_from_json<GroupedResidualFSQOptions>(j, "GroupedResidualFSQ");
}

GroupedResidualFSQ::GroupedResidualFSQ(GroupedResidualFSQOptions o, std::shared_ptr<dist::Comm> comm, Generator& gen)
    : opts_(std::move(o)), comm_(comm ? comm : dist::default_comm()), gen_(&gen) {
  nlohmann::json cfg = sq::group_member_config(opts_.dim, opts_.groups, opts_.residual_kwargs, "GroupedResidualFSQ");
  if (opts_.accept_image_fmap) cfg["is_channel_first"] = true;
  auto list = register_module("rvqs", std::make_shared<sq::ModuleList>());
  for (int64_t g = 0; g < opts_.groups; ++g)
    groups_.push_back(list->add(std::make_shared<ResidualFSQ>(ResidualFSQOptions::from_json(cfg), comm_, gen)));
}

QuantizerOutput GroupedResidualFSQ::forward(const Variable& x, bool return_all_codes) {
  const int64_t split = opts_.accept_image_fmap ? 1 : -1;
  check<ShapeError>(x.dim() >= 2 && x.size(split) == opts_.dim, "GroupedResidualFSQ: expected dimension ", opts_.dim,
                    " on axis ", split, ", got x=", shape_str(x.shape()));
  std::vector<Variable> chunks = ag::chunk(x, opts_.groups, split);
  ResidualFSQCall call;
  call.return_all_codes = return_all_codes;
  call.rand_quantize_dropout_fixed_seed = sq::grouped_dropout_seed(is_training(), *gen_, *comm_);
  sq::GroupOutputs outs;
  for (int64_t g = 0; g < opts_.groups; ++g) {
    QuantizerOutput o = groups_[g]->forward(chunks[g], call);
    outs.add(o, o.indices);
  }
  return outs.stacked(ag::cat(outs.quantized, split));
}

QuantizerOutput GroupedResidualFSQ::call(const QuantizerCall& c) {
  const bool all = sq::read_grouped_call(c.kwargs, "GroupedResidualFSQ");
  (void)sq::mask_input(c.tensors, false, "GroupedResidualFSQ");
  return forward(c.x, all);
}

Tensor GroupedResidualFSQ::get_output_from_indices(const Tensor& indices) {
  sq::check_group_indices(indices, opts_.groups, 1, "GroupedResidualFSQ");
  std::vector<Tensor> outs;
  for (int64_t g = 0; g < opts_.groups; ++g) outs.push_back(groups_[g]->get_output_from_indices(indices.select(0, g)));
  return ops::cat(outs, opts_.accept_image_fmap ? 1 : -1);
}

Tensor GroupedResidualFSQ::get_codes_from_indices(const Tensor& indices) {
  return sq::stack_group_codes(groups_, indices);
}

void register_residual_fsq() {
  register_quantizer("ResidualFSQ", [](const nlohmann::json& cfg) {
    return std::make_shared<ResidualFSQ>(ResidualFSQOptions::from_json(cfg));
  });
  register_quantizer("GroupedResidualFSQ", [](const nlohmann::json& cfg) {
    return std::make_shared<GroupedResidualFSQ>(GroupedResidualFSQOptions::from_json(cfg));
  });
}

}  // namespace vq
