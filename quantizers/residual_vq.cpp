// ResidualVQ: construction, layouts, the residual loop, the cross-entropy mode, the
// shared-codebook end of step, decoding (see residual_vq.h, SPEC.md 4). Beam search
// lives in residual_vq_beam.cpp.
#include "quantizers/residual_vq.h"

#include "kernels/ops.h"
#include "nn/linear.h"
#include "quantizers/functional.h"
#include "quantizers/options.h"
#include "quantizers/residual_vq_list.h"

namespace vq {

ResidualVQCall ResidualVQCall::from_json(const nlohmann::json& kw) {
  ResidualVQCall c;
  OptionReader r(kw, "ResidualVQ.forward");
  r.get("return_all_codes", c.return_all_codes);
  r.get("sample_codebook_temp", c.sample_codebook_temp);
  r.get("freeze_codebook", c.freeze_codebook);
  r.get("beam_size", c.beam_size);
  r.get("rand_quantize_dropout_fixed_seed", c.rand_quantize_dropout_fixed_seed);
  r.finish();
  return c;
}

ResidualVQ::ResidualVQ(ResidualVQOptions o, std::shared_ptr<dist::Comm> comm, Generator& gen)
    : opts_(std::move(o)), comm_(comm ? std::move(comm) : dist::default_comm()), gen_(&gen) {
  opts_.validate();
  if (opts_.diveq) opts_.quant_grad_frac = 1.0;  // SPEC 4.1 step 9: full gradient through the residuals
  const int64_t q = opts_.resolved_num_quantizers();
  codebook_dim_ = opts_.codebook_dim.value_or(opts_.dim);
  sizes_ = opts_.layer_codebook_sizes();
  uniform_ = true;
  for (int64_t k : sizes_) uniform_ = uniform_ && k == sizes_[0];
  has_projection_ = codebook_dim_ != opts_.dim;
  if (has_projection_) {
    project_in_ = register_module(
        "project_in", std::shared_ptr<nn::Layer>(std::make_shared<nn::Linear>(opts_.dim, codebook_dim_, true, gen)));
    project_out_ = register_module(
        "project_out", std::shared_ptr<nn::Layer>(std::make_shared<nn::Linear>(codebook_dim_, opts_.dim, true, gen)));
  }
  auto list = register_module("layers", std::make_shared<NumberedModules>());
  for (int64_t l = 0; l < q; ++l) {
    std::shared_ptr<Codebook> shared = (opts_.shared_codebook && l > 0) ? layers_[0]->codebook_ptr() : nullptr;
    layers_.push_back(list->add(std::make_shared<VectorQuantize>(opts_.layer_options(l), shared, comm_, gen)));
  }
  if (opts_.implicit_neural_codebook && q > 1) {
    auto mlps = register_module("mlps", std::make_shared<NumberedModules>());
    const bool l2 = layers_[0]->options().use_cosine_sim;
    for (int64_t l = 1; l < q; ++l)
      mlps_.push_back(
          mlps->add(std::make_shared<QincoMLP>(codebook_dim_, opts_.mlp_dim_hidden, opts_.mlp_depth, l2, gen)));
  }
  beam_weights_ = opts_.beam_score_quantizer_weights;
  if (beam_weights_.empty()) beam_weights_.assign(static_cast<size_t>(q), 1.0);
}

Variable ResidualVQ::frac_gradient(const Variable& q) const {
  const double f = opts_.quant_grad_frac;
  if (f <= 0) return q.detach();
  // f * t + (1 - f) * sg(t): the value is t (up to rounding), the gradient f.
  return ag::add(ag::mul(q, f), ag::mul(q.detach(), 1.0 - f));
}

Variable ResidualVQ::to_seq(const Variable& x_in, Shape& spatial) const {
  Variable x = x_in;
  spatial.clear();
  if (opts_.accept_image_fmap || opts_.accept_3d_fmap) {
    const int64_t want = opts_.accept_image_fmap ? 4 : 5;
    check<ShapeError>(x.dim() == want, "ResidualVQ: ", opts_.accept_image_fmap ? "accept_image_fmap" : "accept_3d_fmap",
                      " expects x of rank ", want, ", got x=", shape_str(x.shape()));
    spatial.assign(x.shape().begin() + 2, x.shape().end());
    x = ag::transpose(ag::reshape(x, {x.size(0), x.size(1), -1}), 1, 2);
  } else if (x.dim() == 2) {
    x = ag::unsqueeze(x, 1);
  } else if (!opts_.channel_last) {
    check<ShapeError>(x.dim() == 3,
                      "ResidualVQ: channel_last=false expects x (b, dim, n), got x=", shape_str(x.shape()));
    x = ag::transpose(x, 1, 2);
  }
  check<ShapeError>(x.dim() == 3 && x.size(-1) == opts_.dim, "ResidualVQ: input feature dim must equal dim=", opts_.dim,
                    ", got x=", shape_str(x_in.shape()));
  return x;
}

Variable ResidualVQ::from_seq(const Variable& q, const Shape& spatial, int64_t b) const {
  if (!spatial.empty()) {
    Shape full{b, opts_.dim};
    full.insert(full.end(), spatial.begin(), spatial.end());
    return ag::reshape(ag::transpose(q, 1, 2), full);
  }
  if (!opts_.channel_last && q.size(1) >= 1 && q.dim() == 3) return ag::transpose(q, 1, 2);
  return q;
}

Tensor ResidualVQ::from_seq_indices(const Tensor& idx, const Shape& spatial) const {
  if (spatial.empty()) return idx;
  Shape s{idx.size(0)};
  s.insert(s.end(), spatial.begin(), spatial.end());
  s.push_back(idx.size(-1));
  return idx.reshape(s);
}

ResidualVQ::Pass ResidualVQ::run_layers(const Variable& x, const Tensor& mask, const ResidualVQCall& c,
                                        std::optional<int64_t> last) {
  Pass p;
  const int64_t q = num_quantizers();
  const bool keep_residuals = is_training() && opts_.shared_codebook;
  Variable r = x;
  for (int64_t l = 0; l < q; ++l) {
    if (last && l > *last) {
      p.indices.push_back(Tensor::full({x.size(0), x.size(1)}, -1.0, DType::i64, x.device()));
      p.losses.push_back(Variable(Tensor::zeros({}, DType::f32, x.device())));
      continue;
    }
    if (keep_residuals) p.residuals.push_back(r.value());
    VectorQuantizeCall vc;
    vc.mask = mask;
    vc.sample_codebook_temp = c.sample_codebook_temp;
    vc.freeze_codebook = c.freeze_codebook;
    if (!mlps_.empty() && l > 0) {
      std::shared_ptr<QincoMLP> mlp = mlps_[static_cast<size_t>(l - 1)];
      Variable cond = p.out;
      vc.codebook_transform_fn = [mlp, cond](const Variable& E) { return mlp->forward(E, cond); };
    }
    QuantizerOutput o = layers_[static_cast<size_t>(l)]->forward(r, vc);
    r = ag::sub(r, frac_gradient(o.quantized));
    p.out = p.out.defined() ? ag::add(p.out, o.quantized) : o.quantized;
    p.indices.push_back(o.indices);
    p.losses.push_back(o.loss);
  }
  return p;
}

void ResidualVQ::end_of_step_shared(const Pass& p, const Tensor& mask, bool frozen) {
  // SPEC 4.2 step 7. vqcpp fixes (docs/deviations.md): nothing happens when the
  // codebook is frozen, the expiry draws from every batch element's valid tokens, and
  // the in-place codebook optimizer is stepped.
  if (frozen || p.residuals.empty()) return;
  NoGradGuard ng;
  VectorQuantize& shared = *layers_[0];
  if (shared.options().ema_update.value_or(true)) shared.update_ema();
  // SPEC 23.17 fix: the reference steps the in-place optimizer only inside the EMA
  // branch, i.e. never (it needs a learnable codebook, which excludes EMA).
  shared.update_in_place_optimizer();
  if (shared.options().threshold_ema_dead_code <= 0) return;
  std::vector<Tensor> flat, masks;
  for (const Tensor& r : p.residuals) {
    flat.push_back(r.reshape({-1, codebook_dim_}));
    if (mask.defined()) masks.push_back(mask.to(r.device()).to(DType::boolean).reshape({-1}));
  }
  Tensor all = ops::cat(flat, 0).unsqueeze(0).contiguous();
  Tensor m = mask.defined() ? ops::cat(masks, 0).unsqueeze(0).contiguous() : Tensor();
  shared.codebook_module().expire_codes_(all, m);
}

QuantizerOutput ResidualVQ::forward(const Variable& x_in, const ResidualVQCall& c) {
  Shape spatial;
  Variable x = to_seq(x_in, spatial);
  const bool single = x_in.dim() == 2 && spatial.empty();
  const int64_t b = x.size(0), n = x.size(1), q = num_quantizers();
  Tensor mask = c.mask;
  if (mask.defined()) {
    check<ConfigError>(!single && spatial.empty(), "ResidualVQ: mask is not allowed for single tokens or feature maps");
    check<ShapeError>(mask.shape() == Shape{b, n}, "ResidualVQ: mask must be (b, n) = ", shape_str({b, n}),
                      ", got mask=", shape_str(mask.shape()));
    mask = mask.to(x.device()).to(DType::boolean);
  }
  if (c.indices.defined()) return cross_entropy(x, mask, spatial, b, c);

  Variable xp = has_projection_ ? project_in_->forward(x) : x;
  const std::optional<int64_t> beam_opt =
      c.beam_size ? c.beam_size : (is_training() ? opts_.beam_size : opts_.eval_beam_size);
  const int64_t beam = beam_opt.value_or(1);
  check<ConfigError>(beam >= 1, "ResidualVQ: beam_size must be >= 1, got ", beam);
  std::optional<int64_t> last;
  if (is_training() && opts_.quantize_dropout.active(q)) {
    const int64_t seed = c.rand_quantize_dropout_fixed_seed ? *c.rand_quantize_dropout_fixed_seed
                                                            : draw_quantize_dropout_seed(*gen_, *comm_);
    check<ConfigError>(seed >= 0, "ResidualVQ: rand_quantize_dropout_fixed_seed must be >= 0, got ", seed);
    last = opts_.quantize_dropout.last_layer(static_cast<uint64_t>(seed), q);
  }

  Pass p = beam > 1 ? run_beam(xp, mask, c, last, beam) : run_layers(xp, mask, c, last);
  const bool frozen = c.freeze_codebook.value_or(layers_[0]->options().freeze_codebook);
  if (is_training() && opts_.shared_codebook) end_of_step_shared(p, mask, frozen);

  Variable out = p.out;
  // DiVeQ on the sum (SPEC 4.7); in training only (vqcpp fix of SPEC 23.18: eval is the plain sum).
  if (opts_.diveq && is_training()) out = qf::directional_reparam(xp, out, 5e-3, *gen_);
  if (has_projection_) out = project_out_->forward(out);
  Tensor idx = ops::stack(p.indices, -1);  // (b, n, q)
  if (mask.defined()) {
    Tensor keep = mask.unsqueeze(-1).expand(out.shape()).contiguous();
    Variable fill =
        opts_.return_zeros_for_masked_padding ? Variable(Tensor::zeros(out.shape(), DType::f32, out.device())) : x;
    out = ag::where(keep, out, fill);
    idx = ops::where(mask.unsqueeze(-1), idx, Tensor::full({}, -1.0, DType::i64, idx.device()));
  }

  QuantizerOutput res;
  res.loss = ag::stack(p.losses, 0);
  if (c.return_all_codes) {
    NoGradGuard ng;
    Tensor codes = get_codes_from_indices(idx);  // (q, b, n, d)
    if (single)
      codes = codes.squeeze(2);
    else if (!spatial.empty()) {
      Shape s{q, b};
      s.insert(s.end(), spatial.begin(), spatial.end());
      s.push_back(codebook_dim_);
      codes = codes.reshape(s);
    }
    res.all_codes = Variable(codes);
  }
  if (single) {
    res.quantized = ag::squeeze(out, 1);
    res.indices = idx.squeeze(1);
  } else {
    res.quantized = from_seq(out, spatial, b);
    res.indices = from_seq_indices(idx, spatial);
  }
  return res;
}

QuantizerOutput ResidualVQ::cross_entropy(const Variable& x, const Tensor& mask, const Shape& spatial, int64_t b,
                                          const ResidualVQCall& c) {
  // SPEC 4.5, the evident intent (the reference raises; docs/deviations.md): layer l
  // gets the cross-entropy of its similarities against indices[..., l]; the residual is
  // advanced with the given codes (teacher forcing); quantized is the output decoded
  // from the given indices; loss is the sum over layers.
  const int64_t q = num_quantizers(), n = x.size(1);
  check<ConfigError>(mlps_.empty(),
                     "ResidualVQ: the cross-entropy mode (indices=) is not supported with "
                     "implicit_neural_codebook");
  Tensor idx = c.indices.to(x.device()).to(DType::i64);
  check<ShapeError>(idx.dim() >= 2 && idx.size(-1) == q && idx.numel() == b * n * q,
                    "ResidualVQ: indices must be (b, n, q) = ", shape_str({b, n, q}),
                    ", got indices=", shape_str(c.indices.shape()));
  idx = idx.reshape({b, n, q});
  check<ConfigError>(!ops::any(ops::lt(idx, 0.0)),
                     "ResidualVQ: some of the residual vq indices were dropped out (-1); use indices from eval mode to "
                     "derive the cross entropy loss");
  Variable r = has_projection_ ? project_in_->forward(x) : x;
  Variable total;
  Variable out;
  for (int64_t l = 0; l < q; ++l) {
    Tensor il = idx.select(-1, l).contiguous();
    VectorQuantizeCall vc;
    vc.sample_codebook_temp = c.sample_codebook_temp;
    vc.freeze_codebook = c.freeze_codebook;
    vc.indices = mask.defined() ? ops::where(mask, il, Tensor::full({}, -1.0, DType::i64, il.device())) : il;
    QuantizerOutput o = layers_[static_cast<size_t>(l)]->forward(r, vc);
    total = total.defined() ? ag::add(total, o.loss) : o.loss;
    Tensor codes =
        ops::index_select(layers_[static_cast<size_t>(l)]->codebook_module().embed().select(0, 0), 0, il.reshape({-1}))
            .reshape({b, n, codebook_dim_});
    r = ag::sub(r, Variable(codes));
    out = out.defined() ? ag::add(out, Variable(codes)) : Variable(codes);
  }
  if (has_projection_) out = project_out_->forward(out);
  if (mask.defined() && opts_.return_zeros_for_masked_padding)
    out = ag::where(mask.unsqueeze(-1).expand(out.shape()).contiguous(), out,
                    Variable(Tensor::zeros(out.shape(), DType::f32, out.device())));
  QuantizerOutput res;
  res.loss = total;
  res.quantized = x.dim() == 3 && spatial.empty() && opts_.channel_last ? out : from_seq(out, spatial, b);
  res.indices = from_seq_indices(idx, spatial);
  return res;
}

QuantizerOutput ResidualVQ::call(const QuantizerCall& c) {
  ResidualVQCall rc = ResidualVQCall::from_json(c.kwargs);
  for (const auto& kv : c.tensors) {
    if (kv.first == "mask")
      rc.mask = kv.second;
    else if (kv.first == "indices")
      rc.indices = kv.second;
    else
      throw ConfigError("ResidualVQ: unknown input tensor '" + kv.first + "'");
  }
  return forward(c.x, rc);
}

Tensor ResidualVQ::get_codes_from_indices(const Tensor& indices_in) {
  NoGradGuard ng;
  const int64_t q = num_quantizers();
  check<ShapeError>(indices_in.dim() >= 2, "ResidualVQ: indices must be (b, ..., q), got ",
                    shape_str(indices_in.shape()));
  const int64_t qi = indices_in.size(-1);
  check<ShapeError>(qi <= q, "ResidualVQ: indices have ", qi, " quantizers but the module has num_quantizers=", q);
  check<ConfigError>(qi == q || opts_.quantize_dropout.active(q),
                     "ResidualVQ: quantize dropout must be enabled to reconstruct from fewer quantizers (indices ",
                     shape_str(indices_in.shape()), ", num_quantizers=", q, ")");
  Device dev = layers_[0]->codebook_module().embed().device();
  Tensor idx = indices_in.to(dev).to(DType::i64).reshape({-1, qi});  // (M, q')
  const int64_t M = idx.size(0), d = codebook_dim_;
  std::vector<Tensor> per;
  Tensor running = Tensor::zeros({M, d}, DType::f32, dev);  // QINCo condition: sum of decoded codes
  for (int64_t l = 0; l < q; ++l) {
    Tensor il = l < qi ? idx.select(1, l).contiguous() : Tensor::full({M}, -1.0, DType::i64, dev);
    Tensor dropped = ops::lt(il, 0.0);
    Tensor safe = ops::where(dropped, Tensor::zeros({}, DType::i64, dev), il);
    Tensor E = layers_[static_cast<size_t>(l)]->codebook_module().embed().select(0, 0);
    Tensor codes;
    if (!mlps_.empty() && l > 0) {
      // Layer by layer (SPEC 4.6): the MLP's per-token codes, conditioned on the running
      // sum, which includes the dummy code 0 of dropped layers (a suffix: harmless).
      Tensor TE = mlps_[static_cast<size_t>(l - 1)]->forward(Variable(E), Variable(running.unsqueeze(0))).value();
      Tensor gi = safe.reshape({1, M, 1, 1}).expand({1, M, 1, d}).contiguous();
      codes = ops::gather(TE, 2, gi).reshape({M, d});
    } else {
      codes = ops::index_select(E, 0, safe);
    }
    if (!mlps_.empty()) running = ops::add(running, codes);
    per.push_back(ops::where(dropped.unsqueeze(-1), Tensor::zeros({}, DType::f32, dev), codes));
  }
  Shape s{q};
  s.insert(s.end(), indices_in.shape().begin(), indices_in.shape().end() - 1);
  s.push_back(d);
  return ops::stack(per, 0).reshape(s);
}

Tensor ResidualVQ::get_output_from_indices(const Tensor& indices) {
  NoGradGuard ng;
  Tensor codes = get_codes_from_indices(indices);  // (q, b, ..., d)
  Tensor summed = ops::sum(codes, {0});
  Tensor out = has_projection_ ? project_out_->forward(Variable(summed)).value() : summed;
  const bool moved = opts_.accept_image_fmap || opts_.accept_3d_fmap || (!opts_.channel_last && out.dim() == 3);
  if (moved && out.dim() >= 3) {
    std::vector<int64_t> perm{0, out.dim() - 1};
    for (int64_t i = 1; i < out.dim() - 1; ++i) perm.push_back(i);
    out = out.permute(perm).contiguous();
  }
  return out;
}

Tensor ResidualVQ::codebooks() {
  check<ConfigError>(uniform_, "ResidualVQ: codebooks() needs the same codebook_size for every layer; use layer(l)");
  std::vector<Tensor> cbs;
  for (auto& l : layers_) cbs.push_back(l->codebook_module().embed().select(0, 0));
  return ops::stack(cbs, 0);
}

void register_residual_vq() {
  register_quantizer("ResidualVQ", [](const nlohmann::json& cfg) {
    return std::make_shared<ResidualVQ>(ResidualVQOptions::from_json(cfg));
  });
}

}  // namespace vq
