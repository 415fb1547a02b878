// ResidualLFQ and GroupedResidualLFQ (see residual_lfq.h; SPEC.md section 11).
#include "quantizers/residual_lfq.h"

#include <cmath>

#include "kernels/ops.h"
#include "quantizers/options.h"
#include "quantizers/quantize_dropout.h"
#include "quantizers/residual_common.h"

namespace vq {

// ---------------- ResidualLFQ ----------------

ResidualLFQOptions ResidualLFQOptions::from_json(const nlohmann::json& j) {
  ResidualLFQOptions o;
  nlohmann::json mine;
  sq::split_keys(j,
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
  sq::read_residual_call(kw, "ResidualLFQ", c.return_all_codes, c.rand_quantize_dropout_fixed_seed);
  return c;
}

ResidualLFQ::ResidualLFQ(ResidualLFQOptions o, std::shared_ptr<dist::Comm> comm, Generator& gen)
    : opts_(std::move(o)), comm_(comm ? comm : dist::default_comm()), gen_(&gen) {
  opts_.validate();
  c_ = sq::log2_ceil(opts_.codebook_size);
  has_projections_ = c_ != opts_.dim;
  if (has_projections_) {
    project_in_ = register_module("project_in", sq::linear_with_bias(opts_.dim, c_, gen));
    project_out_ = register_module("project_out", sq::linear_with_bias(c_, opts_.dim, gen));
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
  const int64_t q = num_quantizers();
  Variable x = has_projections_ ? project_in_->forward(x_in) : x_in;
  const QuantizeDropout qd{opts_.quantize_dropout, opts_.quantize_dropout_cutoff_index,
                           opts_.quantize_dropout_multiple_of};
  const int64_t last =
      sq::last_active_layer(qd, q, is_training(), call.rand_quantize_dropout_fixed_seed, *gen_, *comm_);
  LFQCall lc;
  lc.mask = call.mask;
  sq::ResidualPass p = sq::run_residual_layers(x, q, last, true, [&](int64_t l, const Variable& residual) {
    QuantizerOutput o = layers_[l]->forward(residual, lc);
    return sq::LayerStep{o.quantized, o.indices, o.loss};
  });
  Variable out = p.out;
  if (has_projections_) out = project_out_->forward(out);
  QuantizerOutput res;
  res.quantized = out;
  res.indices = ops::stack(p.indices, -1);
  res.loss = ag::stack(p.losses, 0);
  if (call.return_all_codes) res.all_codes = Variable(get_codes_from_indices(res.indices));
  return res;
}

QuantizerOutput ResidualLFQ::call(const QuantizerCall& c) {
  ResidualLFQCall rc = ResidualLFQCall::from_json(c.kwargs);
  rc.mask = sq::mask_input(c.tensors, true, "ResidualLFQ");
  return forward(c.x, rc);
}

Tensor ResidualLFQ::get_codes_from_indices(const Tensor& indices) {
  NoGradGuard ng;
  const int64_t q = num_quantizers();
  Tensor idx = indices.to(DType::i64);
  const int64_t have = idx.size(-1);
  check<ShapeError>(idx.dim() >= 2 && have >= 1 && have <= q, "ResidualLFQ.get_codes_from_indices: expected (b, ..., q') with q' <= ",
                    q, ", got indices=", shape_str(indices.shape()));
  idx = sq::pad_dropped_layers(idx, q, opts_.quantize_dropout, "ResidualLFQ");
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
  Tensor sum = sq::sum_over_layers(codes);
  return has_projections_ ? project_out_->forward(Variable(sum)).value() : sum;
}

// ---------------- GroupedResidualLFQ ----------------

GroupedResidualLFQOptions GroupedResidualLFQOptions::from_json(const nlohmann::json& j) {
  return sq::grouped_options_from_json<GroupedResidualLFQOptions>(j, "GroupedResidualLFQ");
}

GroupedResidualLFQ::GroupedResidualLFQ(GroupedResidualLFQOptions o, std::shared_ptr<dist::Comm> comm, Generator& gen)
    : opts_(std::move(o)), comm_(comm ? comm : dist::default_comm()), gen_(&gen) {
  const nlohmann::json cfg =
      sq::group_member_config(opts_.dim, opts_.groups, opts_.residual_kwargs, "GroupedResidualLFQ");
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
  call.rand_quantize_dropout_fixed_seed = sq::grouped_dropout_seed(is_training(), *gen_, *comm_);
  sq::GroupOutputs outs;
  for (int64_t g = 0; g < opts_.groups; ++g) {
    QuantizerOutput o = groups_[g]->forward(chunks[g], call);
    outs.add(o, sq::indices_from_sequence(o.indices, lay));
  }
  return outs.stacked(sq::from_sequence(ag::cat(outs.quantized, -1), lay));
}

QuantizerOutput GroupedResidualLFQ::call(const QuantizerCall& c) {
  const bool all = sq::read_grouped_call(c.kwargs, "GroupedResidualLFQ");
  const Tensor mask = sq::mask_input(c.tensors, true, "GroupedResidualLFQ");
  return forward(c.x, mask, all);
}

Tensor GroupedResidualLFQ::get_output_from_indices(const Tensor& indices) {
  sq::check_group_indices(indices, opts_.groups, 2, "GroupedResidualLFQ");
  std::vector<Tensor> outs;
  for (int64_t g = 0; g < opts_.groups; ++g) {
    Tensor ig = indices.select(0, g);
    const Shape full = ig.shape();
    Tensor flat = ig.reshape({ig.size(0), -1, ig.size(-1)});
    Tensor o = groups_[g]->get_output_from_indices(flat);  // (b, N, dim / groups)
    Shape s(full.begin(), full.end() - 1);
    s.push_back(o.size(-1));
    o = o.reshape(s);
    outs.push_back(opts_.accept_image_fmap ? sq::last_to_channel(o) : o);
  }
  return ops::cat(outs, opts_.accept_image_fmap ? 1 : -1);
}

Tensor GroupedResidualLFQ::get_codes_from_indices(const Tensor& indices) {
  return sq::stack_group_codes(groups_, indices);
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
