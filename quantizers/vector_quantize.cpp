// VectorQuantize forward, losses and helpers (see vector_quantize.h, SPEC.md 3).
#include "quantizers/vector_quantize.h"

#include "autograd/node.h"
#include "kernels/ops.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "nn/sequential.h"
#include "quantizers/functional.h"
#include "quantizers/options.h"

namespace vq {

namespace {

// mean((c - x)^2) against constant codes c (the detached quantized values): one graph
// node instead of sub / pow / mean, so a training step sweeps the N x d rows twice in
// the forward (difference, sum of squares) and once in the backward instead of six
// times (vqcpp bench: `vq bench vq --rows step`). d loss / dx = -2 (c - x) / numel.
Variable commitment_mse(const Tensor& c, const Variable& x) {
  Tensor d = ops::sub(c, x.value());
  const double n = static_cast<double>(d.numel());
  Tensor norm = ops::norm(d);
  Tensor loss = ops::div(ops::mul(norm, norm), n);
  return make_result("commitment_mse", loss, {x}, {d}, [n](const Tensor& g, const BackwardContext& ctx) {
    return std::vector<Tensor>{ops::mul(ctx.saved(0), ops::mul(g, -2.0 / n))};
  });
}

}  // namespace

VectorQuantizeCall VectorQuantizeCall::from_json(const nlohmann::json& kw) {
  VectorQuantizeCall c;
  OptionReader r(kw, "VectorQuantize.forward");
  bool breakdown = false;
  r.get("return_loss_breakdown", breakdown);
  r.get("topk", c.topk);
  r.get("sample_codebook_temp", c.sample_codebook_temp);
  r.get("freeze_codebook", c.freeze_codebook);
  r.get("ema_update_weight", c.ema_update_weight);
  r.get("accum_ema_update", c.accum_ema_update);
  r.get("ema_update", c.ema_update);
  r.finish();
  return c;
}

VectorQuantize::VectorQuantize(VectorQuantizeOptions o, std::shared_ptr<dist::Comm> comm, Generator& gen)
    : VectorQuantize(std::move(o), nullptr, std::move(comm), gen) {}

VectorQuantize::VectorQuantize(VectorQuantizeOptions o, std::shared_ptr<Codebook> shared,
                               std::shared_ptr<dist::Comm> comm, Generator& gen)
    : opts_(std::move(o)), gen_(&gen) {
  if (!comm) comm = dist::default_comm();
  comm_ = comm;
  opts_.resolve(comm->distributed());
  opts_.validate();
  codebook_dim_ = opts_.resolved_codebook_dim();
  heads_ = opts_.heads;
  const int64_t inner = codebook_dim_ * heads_;
  has_projection_ = inner != opts_.dim;
  if (has_projection_) {
    auto lin_in = std::make_shared<nn::Linear>(opts_.dim, inner, true, gen);
    if (opts_.layernorm_after_project_in) {
      auto seq = std::make_shared<nn::Sequential>();
      seq->add(lin_in);
      seq->add(std::make_shared<nn::LayerNorm>(Shape{inner}));
      project_in_ = register_module("project_in", std::shared_ptr<nn::Layer>(seq));
    } else {
      project_in_ = register_module("project_in", std::shared_ptr<nn::Layer>(lin_in));
    }
    project_out_ = register_module("project_out",
                                   std::shared_ptr<nn::Layer>(std::make_shared<nn::Linear>(inner, opts_.dim, true, gen)));
  }
  CodebookOptions co;
  co.dim = codebook_dim_;
  co.codebook_size = opts_.codebook_size;
  co.num_codebooks = opts_.separate_codebook_per_head ? heads_ : 1;
  co.kmeans_init = opts_.kmeans_init;
  co.kmeans_iters = opts_.kmeans_iters;
  co.sync_kmeans = opts_.sync_kmeans;
  co.decay = opts_.decay;
  co.eps = opts_.eps;
  co.threshold_ema_dead_code = opts_.threshold_ema_dead_code;
  co.use_ddp = *opts_.sync_codebook;
  co.learnable_codebook = *opts_.learnable_codebook || opts_.orthogonal_reg_weight > 0;
  co.sample_codebook_temp = opts_.sample_codebook_temp;
  co.stochastic_sample_codes = opts_.stochastic_sample_codes;
  co.straight_through = opts_.straight_through;
  co.ema_update = *opts_.ema_update;
  co.manual_ema_update = opts_.manual_ema_update;
  co.affine_param = opts_.affine_param;
  co.sync_affine_param = opts_.sync_affine_param;
  co.affine_param_batch_decay = opts_.affine_param_batch_decay;
  co.affine_param_codebook_decay = opts_.affine_param_codebook_decay;
  co.use_cosine_sim = opts_.use_cosine_sim;
  if (opts_.vq_bridge && !shared) co.vq_bridge = opts_.vq_bridge(codebook_dim_, gen);
  if (shared) {
    const auto& so = shared->options();
    check<ConfigError>(so.dim == co.dim && so.codebook_size == co.codebook_size && so.num_codebooks == co.num_codebooks,
                       "VectorQuantize: shared codebook (dim ", so.dim, ", codebook_size ", so.codebook_size,
                       ", num_codebooks ", so.num_codebooks, ") does not match the options (", co.dim, ", ",
                       co.codebook_size, ", ", co.num_codebooks, ")");
    codebook_ = register_module("_codebook", shared);
  } else {
    codebook_ = register_module("_codebook", std::make_shared<Codebook>(co, comm, gen));
  }
  if (opts_.in_place_codebook_optimizer) {
    std::vector<Variable> params = codebook_->parameters();
    check<ConfigError>(!params.empty(), "VectorQuantize: in_place_codebook_optimizer needs codebook parameters "
                       "(the codebook has none)");
    in_place_opt_ = opts_.in_place_codebook_optimizer(std::move(params));
    check<ConfigError>(in_place_opt_ != nullptr, "VectorQuantize: in_place_codebook_optimizer returned no optimizer");
  }
}

Variable VectorQuantize::project_in(const Variable& x) { return has_projection_ ? project_in_->forward(x) : x; }
Variable VectorQuantize::project_out(const Variable& x) { return has_projection_ ? project_out_->forward(x) : x; }

QuantizerOutput VectorQuantize::forward(const Variable& x_in, const VectorQuantizeCall& c) {
  const auto& o = opts_;
  const bool frozen = c.freeze_codebook.value_or(o.freeze_codebook);
  const bool image = o.accept_image_fmap, video = o.accept_3d_fmap;
  const bool channel_first = !o.channel_last && !image && !video;
  const bool single = x_in.dim() == 2;
  const bool in_place = in_place_opt_ && is_training();
  check<ConfigError>(!(c.topk && in_place), "VectorQuantize: topk codes only supported for single-head codebooks "
                     "without cross entropy commitment loss or in-place codebook optimizer");
  Tensor mask = c.mask;
  check<ConfigError>(!(c.mask.defined() && c.lens.defined()), "VectorQuantize: pass either mask or lens, not both");
  if (c.lens.defined()) {
    check<ShapeError>(c.lens.dim() == 1 && c.lens.size(0) == x_in.size(0), "VectorQuantize: lens must be (b,), got lens=",
                      shape_str(c.lens.shape()), " for x=", shape_str(x_in.shape()));
    Tensor t = Tensor::arange(x_in.size(1), DType::i64, x_in.device());
    mask = ops::lt(t.unsqueeze(0), c.lens.to(x_in.device()).to(DType::i64).unsqueeze(1));
  }
  check<ConfigError>(!(mask.defined() && (single || image || video)),
                     "VectorQuantize: mask is not allowed for single tokens or feature maps");

  // ---- layout -> (b, n, dim) ----
  Variable x = x_in;
  Shape spatial;
  if (image || video) {
    const int64_t want = image ? 4 : 5;
    check<ShapeError>(x.dim() == want, "VectorQuantize: ", image ? "accept_image_fmap" : "accept_3d_fmap",
                      " expects x of rank ", want, ", got x=", shape_str(x.shape()));
    spatial.assign(x.shape().begin() + 2, x.shape().end());
    x = ag::transpose(ag::reshape(x, {x.size(0), x.size(1), -1}), 1, 2);
  } else if (single) {
    x = ag::unsqueeze(x, 1);
  } else if (channel_first) {
    x = ag::transpose(x, 1, 2);
  }
  check<ShapeError>(x.dim() == 3 && x.size(-1) == o.dim, "VectorQuantize: input feature dim must equal dim=", o.dim,
                    ", got x=", shape_str(x_in.shape()));
  const Variable x_seq = x;  // (b, n, dim): the reference's x0 for the masked losses
  const int64_t b = x.size(0), n = x.size(1), h = heads_, d = codebook_dim_;
  if (mask.defined())
    check<ShapeError>(mask.shape() == Shape{b, n}, "VectorQuantize: mask must be (b, n) = ", shape_str({b, n}),
                      ", got mask=", shape_str(mask.shape()));

  x = heads_from_seq(x);

  CodebookCall cc;
  cc.mask = mask;
  cc.freeze_codebook = frozen;
  cc.sample_codebook_temp = c.sample_codebook_temp;
  cc.ema_update_weight = c.ema_update_weight;
  cc.ema_update_weight_tensor = c.ema_update_weight_tensor;
  cc.accum_ema_update = c.accum_ema_update;
  cc.ema_update = c.topk ? std::optional<bool>(false) : c.ema_update;
  cc.topk = c.topk;
  cc.codebook_transform_fn = c.codebook_transform_fn;
  const bool commit_active = o.commitment_weight > 0 && !o.directional_reparam;
  cc.need_similarities = c.indices.defined() ||
                         (is_training() && ((commit_active && o.commitment_use_cross_entropy_loss) ||
                                            o.codebook_diversity_loss_weight > 0));
  CodebookResult cb = codebook_->forward(x, cc);
  Variable inplace_loss;
  if (in_place && !frozen) inplace_loss = in_place_optimize(x, cc, mask, cb);
  Variable q = cb.quantized;

  const bool learnable = *o.learnable_codebook;
  Variable commit_q = q;
  if (is_training()) {
    if (!learnable || frozen) commit_q = q.detach();
    Variable xr = c.topk ? ag::expand(ag::unsqueeze(x, -2), {x.size(0), x.size(1), x.size(2), *c.topk, d}) : x;
    if (xr.requires_grad() && o.route_gradients_to_input) {
      if (*o.rotation_trick) q = qf::rotate_to(xr, q.value());
      else if (o.directional_reparam) q = qf::directional_reparam(xr, q, o.directional_reparam_variance, *gen_);
      else q = qf::straight_through(xr, q.value());
    }
    if (o.sync_update_v > 0) q = qf::scale_gradient(q, o.sync_update_v);
  }

  QuantizerOutput out;
  if (c.indices.defined()) {  // cross-entropy path: internal layout, no projection out
    Variable logits = ag::reshape(ag::permute(cb.sims, {1, 2, 0, 3}), {-1, o.codebook_size});
    out.quantized = q;
    out.loss = qf::cross_entropy(logits, c.indices.to(x.device()).reshape({-1}));
    return out;
  }

  // ---- index layout ----
  Tensor idx = cb.indices;  // (h', b', n[, k])
  if (o.separate_codebook_per_head) idx = c.topk ? idx.permute({1, 2, 0, 3}) : idx.permute({1, 2, 0});
  else if (h > 1) idx = idx.reshape({b, h, n}).permute({0, 2, 1});
  else idx = idx.squeeze(0);
  idx = idx.contiguous();

  out.loss = losses(x, x_seq, cb, idx, mask, frozen, c.topk, out.breakdown);
  if (inplace_loss.defined()) out.breakdown["inplace_optimize"] = inplace_loss;

  // ---- merge heads, project out, undo layout ----
  if (o.separate_codebook_per_head) {
    q = c.topk ? ag::reshape(ag::permute(q, {1, 2, 3, 0, 4}), {b, n, *c.topk, h * d})
               : ag::reshape(ag::permute(q, {1, 2, 0, 3}), {b, n, h * d});
  } else if (h > 1) {
    q = ag::reshape(ag::permute(ag::reshape(q, {b, h, n, d}), {0, 2, 1, 3}), {b, n, h * d});
  } else {
    q = ag::squeeze(q, 0);
  }
  q = project_out(q);
  if (image || video) {
    Shape full{b, o.dim};
    full.insert(full.end(), spatial.begin(), spatial.end());
    q = ag::reshape(ag::transpose(q, 1, 2), full);
    Shape ishape{b};
    ishape.insert(ishape.end(), spatial.begin(), spatial.end());
    for (int64_t k = 2; k < idx.dim(); ++k) ishape.push_back(idx.size(k));
    idx = idx.reshape(ishape);
  } else if (single) {
    q = ag::squeeze(q, 1);
    idx = idx.squeeze(1);
  } else if (channel_first) {
    q = ag::transpose(q, 1, 2);
  }
  if (mask.defined() && !c.topk) {
    Tensor keep = mask.to(x_in.device()).unsqueeze(-1).expand(q.shape());
    Variable fill = o.return_zeros_for_masked_padding ? Variable(Tensor::zeros(q.shape(), DType::f32, q.device())) : x_in;
    q = ag::where(keep, q, fill);
    Tensor mk = mask.to(idx.device());
    while (mk.dim() < idx.dim()) mk = mk.unsqueeze(-1);
    idx = ops::where(mk, idx, Tensor::full({}, -1.0, DType::i64, idx.device()));
  }
  out.quantized = q;
  out.indices = idx;
  return out;
}

Variable VectorQuantize::losses(const Variable& x, const Variable& x0, const CodebookResult& cb, const Tensor& idx_out,
                                const Tensor& mask, bool frozen, std::optional<int64_t> topk,
                                std::map<std::string, Variable>& bd) {
  const auto& o = opts_;
  auto zero = [&] { return Variable(Tensor::zeros({}, DType::f32, x.device())); };
  bd["commitment"] = zero();
  bd["codebook_diversity"] = zero();
  bd["orthogonal_reg"] = zero();
  bd["inplace_optimize"] = zero();
  Variable loss = zero();
  const bool commit_active = o.commitment_weight > 0 && !o.directional_reparam;
  // Top-k: per-candidate MSE against the processed input repeated k times, (b, n, k)
  // (single head); computed in eval too, as the reference does.
  auto topk_commit = [&](const Variable& cq_in) {
    Variable cq = heads_ == 1 ? ag::squeeze(cq_in, 0) : cq_in;
    Variable xs = heads_ == 1 ? ag::squeeze(x, 0) : x;
    Variable xr = ag::expand(ag::unsqueeze(xs, -2), cq.shape());
    Variable c = ag::mean(ag::pow(ag::sub(cq, xr), 2.0), {-1});
    if (mask.defined())
      c = ag::masked_fill(c, ops::logical_not(mask.to(x.device())).unsqueeze(-1).expand(c.shape()).contiguous(), 0.0);
    return c;
  };
  if (!is_training()) {
    if (!topk) return loss;
    Variable c = topk_commit(cb.quantized);
    return commit_active ? ag::mul(c, o.commitment_weight) : c;
  }

  if (o.codebook_diversity_loss_weight > 0) {
    Variable P = ag::softmax(ag::mul(cb.sims, o.codebook_diversity_temperature), -1);  // (h, b, n, K)
    Variable avg = ag::mean(P, {0, 1});                                                // (n, K)
    Variable div = ag::neg(ag::mean(qf::entropy(avg, 1e-5)));
    bd["codebook_diversity"] = div;
    loss = ag::add(loss, ag::mul(div, o.codebook_diversity_loss_weight));
  }

  const bool learnable = *o.learnable_codebook;
  Variable commit_q = (!learnable || frozen) ? cb.quantized.detach() : cb.quantized;
  if (commit_active) {
    Variable commit;
    if (o.commitment_use_cross_entropy_loss) {
      Tensor targets = cb.indices;  // (h', b', n)
      if (mask.defined()) {
        Tensor mk = mask.to(targets.device());
        if (o.separate_codebook_per_head) mk = mk.unsqueeze(0).expand(targets.shape());
        else mk = mk.unsqueeze(1).expand({mask.size(0), heads_, mask.size(1)}).reshape(targets.shape());
        targets = ops::where(mk, targets, Tensor::full({}, -1.0, DType::i64, targets.device()));
      }
      Variable logits = ag::reshape(cb.sims, {-1, o.codebook_size});
      commit = qf::cross_entropy(logits, targets.reshape({-1}));
    } else if (topk) {
      commit = topk_commit(commit_q);
    } else if (mask.defined()) {
      // Mean over the entries of valid tokens. The reference compares with the original
      // input; where that is not shape-compatible (projection / heads) we use the
      // processed input (docs/deviations.md).
      Variable cq = ag::reshape(commit_q, {-1, commit_q.size(-1)});
      Variable target = (x0.size(-1) == commit_q.size(-1) && heads_ == 1) ? x0 : x;
      Variable tg = ag::reshape(target, {-1, target.size(-1)});
      Tensor mk = mask.to(x.device());
      const int64_t mb = mask.size(0), mn = mask.size(1);
      if (target.same(x) && o.separate_codebook_per_head) mk = mk.unsqueeze(0).expand({heads_, mb, mn});
      else if (target.same(x) && heads_ > 1) mk = mk.unsqueeze(1).expand({mb, heads_, mn});
      Tensor rows = mk.contiguous().reshape({-1});
      Variable sq = ag::pow(ag::sub(cq, tg), 2.0);
      Tensor w = rows.to(DType::f32).unsqueeze(-1).expand(sq.shape()).contiguous();
      double count = ops::sum(w).item<float>();
      commit = ag::div(ag::sum(ag::mul(sq, Variable(w))), std::max(count, 1.0));
    } else if (!commit_q.requires_grad() && x.value().numel() > 0) {
      commit = commitment_mse(commit_q.value(), x);
    } else {
      commit = ag::mean(ag::pow(ag::sub(commit_q, x), 2.0));
    }
    bd["commitment"] = commit;
    loss = ag::add(loss, ag::mul(commit, o.commitment_weight));
  }

  if (o.orthogonal_reg_weight > 0) {
    Variable C = codebook_->embed_variable();  // (h, K, d)
    if (o.orthogonal_reg_active_codes_only) {
      Tensor used = ops::unique(idx_out.reshape({-1})).values;
      used = ops::where(ops::lt(used, 0.0), ops::add(used, static_cast<double>(o.codebook_size)), used);
      C = ag::index_select(C, 1, ops::unique(used).values);
    }
    const int64_t kept = C.size(1);
    if (o.orthogonal_reg_max_codes && kept > *o.orthogonal_reg_max_codes) {
      Tensor sel = ops::randperm(kept, *gen_, C.device()).narrow(0, 0, *o.orthogonal_reg_max_codes).contiguous();
      C = ag::index_select(C, 1, sel);
    }
    Variable Cn = qf::l2norm(C, 1e-6);
    Variable G = ag::bmm(Cn, Cn, false, true);
    const double hh = static_cast<double>(Cn.size(0)), nn = static_cast<double>(Cn.size(1));
    Variable orth = ag::sub(ag::div(ag::sum(ag::mul(G, G)), hh * nn * nn), 1.0 / nn);
    bd["orthogonal_reg"] = orth;
    loss = ag::add(loss, ag::mul(orth, o.orthogonal_reg_weight));
  }
  return loss;
}

QuantizerOutput VectorQuantize::call(const QuantizerCall& c) {
  VectorQuantizeCall vc = VectorQuantizeCall::from_json(c.kwargs);
  for (const auto& kv : c.tensors) {
    if (kv.first == "mask") vc.mask = kv.second;
    else if (kv.first == "lens") vc.lens = kv.second;
    else if (kv.first == "indices") vc.indices = kv.second;
    else throw ConfigError("VectorQuantize: unknown input tensor '" + kv.first + "'");
  }
  return forward(c.x, vc);
}

Variable VectorQuantize::to_codebook_layout(const Variable& x_in, int64_t& b, int64_t& n) {
  const auto& o = opts_;
  Variable x = x_in;
  if (o.accept_image_fmap || o.accept_3d_fmap) x = ag::transpose(ag::reshape(x, {x.size(0), x.size(1), -1}), 1, 2);
  else if (x.dim() == 2) x = ag::unsqueeze(x, 1);
  else if (!o.channel_last) x = ag::transpose(x, 1, 2);
  check<ShapeError>(x.dim() == 3 && x.size(-1) == o.dim, "VectorQuantize: input feature dim must equal dim=", o.dim,
                    ", got x=", shape_str(x_in.shape()));
  b = x.size(0);
  n = x.size(1);
  return heads_from_seq(x);
}

Variable VectorQuantize::heads_from_seq(const Variable& x_seq) {
  const int64_t b = x_seq.size(0), n = x_seq.size(1), h = heads_, d = codebook_dim_;
  Variable x = project_in(x_seq);
  if (opts_.separate_codebook_per_head) x = ag::permute(ag::reshape(x, {b, n, h, d}), {2, 0, 1, 3});
  else if (h > 1) x = ag::reshape(ag::permute(ag::reshape(x, {b, n, h, d}), {0, 2, 1, 3}), {1, b * h, n, d});
  else x = ag::unsqueeze(x, 0);
  if (opts_.use_cosine_sim) x = qf::l2norm(x, 1e-6);
  return x;
}

void VectorQuantize::update_indices(const Variable& x_in, const Tensor& indices, const Tensor& mask,
                                    std::optional<double> weight, bool accum) {
  NoGradGuard ng;
  int64_t b = 0, n = 0;
  Variable x = to_codebook_layout(x_in.detach(), b, n);
  const int64_t hp = x.size(0), N = x.size(1) * x.size(2), h = heads_;
  Tensor flat = x.value().reshape({hp, N, codebook_dim_}).contiguous();
  // Indices to the codebook layout (h', N); -1 entries (masked) are dropped via the mask.
  Tensor idx = indices.to(flat.device()).to(DType::i64).reshape({b, n, h});
  if (opts_.separate_codebook_per_head) idx = idx.permute({2, 0, 1});
  else idx = idx.permute({0, 2, 1}).reshape({1, b * h, n});
  idx = idx.contiguous().reshape({hp, N});
  Tensor valid = ops::ge(idx, 0.0);
  if (mask.defined()) valid = ops::logical_and(valid, codebook_->expand_mask(mask.to(flat.device()), hp, N));
  idx = ops::where(valid, idx, Tensor::zeros({}, DType::i64, idx.device()));
  codebook_->update_codebook(flat, idx, valid, weight, accum, std::nullopt);
}

void VectorQuantize::expire_codes_(const Variable& x_in) {
  NoGradGuard ng;
  int64_t b = 0, n = 0;
  Variable x = to_codebook_layout(x_in.detach(), b, n);
  codebook_->expire_codes_(x.value().reshape({x.size(0), -1, codebook_dim_}).contiguous(), Tensor());
}

Tensor VectorQuantize::get_codes_from_indices(const Tensor& indices_in) {
  const int64_t K = opts_.codebook_size, d = codebook_dim_;
  Tensor E = codebook_->embed();  // (h', K, d)
  Tensor idx = indices_in.to(E.device()).to(DType::i64);
  idx = ops::where(ops::lt(idx, 0.0), ops::add(idx, static_cast<double>(K)), idx);  // -1 -> last code
  const bool multi = heads_ > 1;
  Shape lead(idx.shape().begin(), idx.shape().end() - (multi ? 1 : 0));
  Tensor codes;
  if (opts_.separate_codebook_per_head) {
    Tensor flat = idx.reshape({-1, heads_});  // (M, h)
    std::vector<Tensor> per;
    for (int64_t i = 0; i < heads_; ++i)
      per.push_back(ops::index_select(E.select(0, i), 0, flat.select(1, i).contiguous()));
    codes = ops::cat(per, -1);  // (M, h*d)
  } else {
    codes = ops::index_select(E.select(0, 0), 0, idx.reshape({-1})).reshape({-1, heads_ * d});
  }
  Shape shp = lead;
  shp.push_back(heads_ * d);
  return codes.reshape(shp);
}

Tensor VectorQuantize::get_output_from_indices(const Tensor& indices) {
  NoGradGuard ng;
  Tensor codes = get_codes_from_indices(indices);  // (..., h*d), feature last
  Tensor out = project_out(Variable(codes)).value();
  const bool fmap = opts_.accept_image_fmap || opts_.accept_3d_fmap;
  if (fmap || !opts_.channel_last) {
    std::vector<int64_t> perm{0, out.dim() - 1};
    for (int64_t i = 1; i < out.dim() - 1; ++i) perm.push_back(i);
    out = out.permute(perm).contiguous();
  }
  return out;
}

Tensor VectorQuantize::codebook() {
  Tensor E = codebook_->embed();
  return opts_.separate_codebook_per_head ? E : E.select(0, 0);
}

void VectorQuantize::set_codebook(const Tensor& codes) {
  Tensor& E = codebook_->embed();
  Tensor src = opts_.separate_codebook_per_head ? codes : codes.unsqueeze(0);
  check<ShapeError>(src.shape() == E.shape(), "VectorQuantize: codebook must have shape ",
                    shape_str(opts_.separate_codebook_per_head ? E.shape() : Shape{E.size(1), E.size(2)}),
                    ", got ", shape_str(codes.shape()));
  E.copy_(src);
}

void register_vector_quantize() {
  register_quantizer("VectorQuantize", [](const nlohmann::json& cfg) {
    return std::make_shared<VectorQuantize>(VectorQuantizeOptions::from_json(cfg));
  });
}

}  // namespace vq
