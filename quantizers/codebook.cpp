// Codebook: search, quantization, EMA statistics, k-means init, dead-code expiry,
// affine re-parameterization (see codebook.h and SPEC.md section 2).
#include "quantizers/codebook.h"

#include <cmath>

#include "kernels/ops.h"
#include "kernels/ops_vq.h"
#include "quantizers/functional.h"

namespace vq {

namespace {

ops::VqMetric metric_of(bool cosine) { return cosine ? ops::VqMetric::inner_product : ops::VqMetric::euclidean; }

Tensor scalar_bool(bool v) { return Tensor::full({}, v ? 1.0 : 0.0, DType::boolean); }

// old * decay + value * (1 - decay), written into old.
void ema_assign(Tensor& old, const Tensor& value, double decay) {
  old.copy_(ops::add(ops::mul(old, decay), ops::mul(value, 1.0 - decay)));
}

Tensor std_of(const Tensor& var) { return ops::sqrt(ops::clamp(var, 1e-5, std::nullopt)); }

// Rows of flat (h, N, d) whose mask (h, N) is set, regrouped to (h, M, d) (the mask is
// identical for every codebook row, as the reference builds it).
Tensor masked_rows(const Tensor& flat, const Tensor& mask) {
  if (!mask.defined()) return flat;
  auto m = mask.select(0, 0).to(cpu_device()).to(DType::u8).to_vector<uint8_t>();
  std::vector<int64_t> keep;
  for (size_t i = 0; i < m.size(); ++i)
    if (m[i]) keep.push_back(static_cast<int64_t>(i));
  Tensor idx = Tensor::from_vector(keep, {static_cast<int64_t>(keep.size())}, flat.device());
  return ops::index_select(flat, 1, idx);
}

// m row indices into [0, n): without replacement when n >= m, else with replacement.
Tensor sample_rows(int64_t n, int64_t m, Generator& gen, Device dev) {
  if (n >= m) return ops::randperm(n, gen, dev).narrow(0, 0, m).contiguous();
  Tensor u = Tensor::rand({m}, gen, dev);
  return ops::clamp(ops::floor(ops::mul(u, static_cast<double>(n))), 0.0, n - 1.0).to(DType::i64);
}

}  // namespace

Codebook::Codebook(const CodebookOptions& o, std::shared_ptr<dist::Comm> comm, Generator& gen)
    : opts_(o), comm_(std::move(comm)), gen_(&gen) {
  check<ConfigError>(o.dim > 0 && o.codebook_size > 0 && o.num_codebooks > 0,
                     "Codebook: dim, codebook_size and num_codebooks must be positive, got ", o.dim, ", ",
                     o.codebook_size, ", ", o.num_codebooks);
  check<ConfigError>(!(o.use_ddp && o.num_codebooks > 1 && o.kmeans_init),
                     "Codebook: kmeans init is not compatible with multiple codebooks in distributed mode");
  const int64_t h = o.num_codebooks, K = o.codebook_size, d = o.dim;
  Tensor embed;
  if (o.kmeans_init) {
    embed = Tensor::zeros({h, K, d});
  } else {
    // kaiming_uniform_ on (h, K, d): fan_in = K * d (SPEC.md 1.13).
    float bound = static_cast<float>(std::sqrt(6.0 / static_cast<double>(K * d)));
    embed = Tensor::rand({h, K, d}, gen, cpu_device(), -bound, bound);
    if (o.use_cosine_sim) embed = qf::l2norm(embed, 1e-6);
  }
  initted_ = register_buffer("initted", scalar_bool(!o.kmeans_init));
  cluster_size_ = register_buffer("cluster_size", Tensor::ones({h, K}));
  embed_avg_ = register_buffer("embed_avg", embed.clone());
  if (o.learnable_codebook) embed_param_ = register_parameter("embed", embed);
  else embed_buf_ = register_buffer("embed", embed);
  if (o.vq_bridge) register_module("vq_bridge", o.vq_bridge);
  if (o.affine_param) {
    codebook_mean_needs_init_ = register_buffer("codebook_mean_needs_init", scalar_bool(true));
    codebook_mean_ = register_buffer("codebook_mean", Tensor::zeros({h, 1, d}));
    codebook_variance_needs_init_ = register_buffer("codebook_variance_needs_init", scalar_bool(true));
    codebook_variance_ = register_buffer("codebook_variance", Tensor::zeros({h, 1, d}));
    batch_mean_ = register_buffer("batch_mean", Tensor());
    batch_variance_ = register_buffer("batch_variance", Tensor());
  }
}

Tensor& Codebook::embed() { return opts_.learnable_codebook ? embed_param_.value() : *embed_buf_; }

Variable Codebook::embed_variable() {
  return opts_.learnable_codebook ? embed_param_ : Variable(*embed_buf_);
}

Tensor Codebook::expand_mask(const Tensor& mask, int64_t h, int64_t N) const {
  check<ShapeError>(mask.dim() == 2 && N % mask.numel() == 0 && mask.numel() > 0,
                    "Codebook: mask ", shape_str(mask.shape()), " does not fit ", N, " vectors");
  const int64_t b = mask.size(0), n = mask.size(1), r = N / (b * n);
  Tensor m = mask.to(DType::boolean).unsqueeze(1).expand({b, r, n}).reshape({N});
  return m.unsqueeze(0).expand({h, N}).contiguous();
}

Variable Codebook::effective_codes() {
  Variable E = embed_variable();
  if (opts_.vq_bridge) {
    const Shape in = E.shape();
    E = opts_.vq_bridge->forward(E);
    check<ShapeError>(E.shape() == in, "Codebook: vq_bridge must preserve the codebook shape ", shape_str(in),
                      ", returned ", shape_str(E.shape()));
  }
  if (!opts_.affine_param || !batch_mean_->defined()) return E;
  Tensor scale = ops::div(std_of(*batch_variance_), std_of(*codebook_variance_));
  return ag::add(ag::mul(ag::sub(E, Variable(*codebook_mean_)), Variable(scale)), Variable(*batch_mean_));
}

Tensor Codebook::to_code_space(const Tensor& flat) const {
  Tensor scale = ops::div(std_of(*codebook_variance_), std_of(*batch_variance_));
  return ops::add(ops::mul(ops::sub(flat, *batch_mean_), scale), *codebook_mean_);
}

void Codebook::update_affine(const Tensor& flat, const Tensor& mask) {
  if (is_training()) {
    Tensor cm = ops::mean(embed(), {1}, true);
    Tensor cv = ops::var(embed(), {1}, false, true);
    if (codebook_mean_needs_init_->item<uint8_t>()) {
      codebook_mean_->copy_(cm);
      codebook_mean_needs_init_->fill_(0);
    } else {
      ema_assign(*codebook_mean_, cm, opts_.affine_param_codebook_decay);
    }
    if (codebook_variance_needs_init_->item<uint8_t>()) {
      codebook_variance_->copy_(cv);
      codebook_variance_needs_init_->fill_(0);
    } else {
      ema_assign(*codebook_variance_, cv, opts_.affine_param_codebook_decay);
    }
  }
  Tensor data = masked_rows(flat, mask);
  Tensor bm, bv;
  if (opts_.sync_affine_param) {
    Tensor count = Tensor::full({}, static_cast<double>(data.size(1)), DType::f32, data.device());
    comm_->all_reduce_sum(count);
    Tensor sum = ops::sum(data, {1}, true);
    comm_->all_reduce_sum(sum);
    bm = ops::div(sum, count);
    Tensor sq = ops::sum(ops::pow(ops::sub(data, bm), 2.0), {1}, true);
    comm_->all_reduce_sum(sq);
    bv = ops::div(sq, count);
  } else {
    bm = ops::mean(data, {1}, true);
    bv = ops::var(data, {1}, false, true);
  }
  if (!batch_mean_->defined()) *batch_mean_ = bm.contiguous();
  else ema_assign(*batch_mean_, bm, opts_.affine_param_batch_decay);
  if (!batch_variance_->defined()) *batch_variance_ = bv.contiguous();
  else ema_assign(*batch_variance_, bv, opts_.affine_param_batch_decay);
}

void Codebook::init_embed_(const Tensor& flat, const Tensor& mask) {
  const int64_t K = opts_.codebook_size;
  Tensor data = masked_rows(flat, mask).contiguous();  // (h, M, d)
  const int64_t h = data.size(0), M = data.size(1);
  check<ShapeError>(M > 0, "Codebook: k-means init needs at least one unmasked vector");
  std::vector<Tensor> init;
  for (int64_t i = 0; i < h; ++i)
    init.push_back(ops::index_select(data.select(0, i), 0, sample_rows(M, K, *gen_, data.device())));
  Tensor means = ops::stack(init, 0);
  if (opts_.use_ddp && opts_.sync_kmeans) comm_->broadcast(means, 0);
  Tensor counts = Tensor::zeros({h, K}, DType::f32, data.device());
  for (int64_t it = 0; it < opts_.kmeans_iters; ++it) {
    Tensor idx = ops::nearest_code(data, means, metric_of(opts_.use_cosine_sim)).indices;
    ops::CodeStats st = ops::code_stats(idx, data, K);
    if (opts_.use_ddp && opts_.sync_kmeans) comm_->all_reduce_sum(st.counts);
    Tensor zero = ops::eq(st.counts, 0.0);
    Tensor safe = ops::where(zero, Tensor::ones({}, DType::f32, data.device()), st.counts);
    Tensor fresh = ops::div(st.sums, safe.unsqueeze(-1));
    if (opts_.use_ddp && opts_.sync_kmeans) comm_->all_reduce_sum(fresh);
    if (opts_.use_cosine_sim) fresh = qf::l2norm(fresh, 1e-6);
    means = ops::where(zero.unsqueeze(-1), means, fresh);
    counts = st.counts;
  }
  embed_avg_->copy_(ops::mul(means, counts.unsqueeze(-1)));
  cluster_size_->copy_(counts);
  update_ema();
  initted_->fill_(1);
}

void Codebook::update_ema() {
  const double eps = opts_.eps, K = static_cast<double>(opts_.codebook_size);
  Tensor total = ops::sum(*cluster_size_, {-1}, true);
  Tensor smooth = ops::mul(ops::div(ops::add(*cluster_size_, eps), ops::add(total, K * eps)), total);
  Tensor e = ops::div(*embed_avg_, smooth.unsqueeze(-1));
  if (opts_.use_cosine_sim) e = qf::l2norm(e, 1e-6);
  embed().copy_untracked_(e);  // the reference writes embed.data (SPEC 2.6)
}

void Codebook::update_codebook(const Tensor& flat, const Tensor& indices, const Tensor& mask,
                               std::optional<double> weight, bool accum, std::optional<bool> ema_update,
                               const Tensor& weight_tensor) {
  const bool ema = ema_update.value_or(opts_.ema_update);
  if (!ema && opts_.threshold_ema_dead_code <= 0) return;
  Tensor data = opts_.affine_param && batch_mean_->defined() ? to_code_space(flat) : flat;
  std::optional<Tensor> m;
  if (mask.defined()) m = mask;
  ops::CodeStats st = ops::code_stats(indices, data, opts_.codebook_size, std::nullopt, m);
  if (opts_.use_ddp) {
    comm_->all_reduce_sum(st.counts);
    comm_->all_reduce_sum(st.sums);
  }
  if (accum) {
    accum_counts_ = accum_counts_.defined() ? ops::add(accum_counts_, st.counts) : st.counts;
    accum_sums_ = accum_sums_.defined() ? ops::add(accum_sums_, st.sums) : st.sums;
    return;
  }
  if (accum_counts_.defined()) {
    st.counts = ops::add(st.counts, accum_counts_);
    st.sums = ops::add(st.sums, accum_sums_);
    accum_counts_ = Tensor();
    accum_sums_ = Tensor();
  }
  if (weight_tensor.defined()) {
    // ema_inplace with a per-code weight (SPEC 1.5): old += (1 - decay) * w * (new - old).
    Tensor w = weight_tensor.to(cluster_size_->device()).to(DType::f32);
    if (w.dim() == 1) w = w.unsqueeze(0);
    check<ShapeError>(w.dim() == 2 && w.size(-1) == opts_.codebook_size &&
                          (w.size(0) == 1 || w.size(0) == cluster_size_->size(0)),
                      "Codebook: ema_update_weight must be (K,) or (h, K) with K=", opts_.codebook_size,
                      ", got ", shape_str(weight_tensor.shape()));
    w = ops::mul(w, 1.0 - opts_.decay);
    cluster_size_->copy_(ops::add(*cluster_size_, ops::mul(w, ops::sub(st.counts, *cluster_size_))));
    embed_avg_->copy_(ops::add(*embed_avg_, ops::mul(w.unsqueeze(-1), ops::sub(st.sums, *embed_avg_))));
  } else {
    const double w = (1.0 - opts_.decay) * weight.value_or(1.0);
    ops::lerp_(*cluster_size_, st.counts, w);
    ops::lerp_(*embed_avg_, st.sums, w);
  }
  if (ema && !opts_.manual_ema_update) update_ema();
  expire_codes_(flat, mask);
}

void Codebook::expire_codes_(const Tensor& flat_in, const Tensor& mask) {
  if (opts_.threshold_ema_dead_code <= 0 || !is_training()) return;
  Tensor dead = ops::lt(*cluster_size_, opts_.threshold_ema_dead_code);
  if (!ops::any(dead)) return;
  Tensor flat = opts_.use_cosine_sim ? qf::l2norm(flat_in, 1e-6) : flat_in;
  const double reset = opts_.reset_cluster_size.value_or(opts_.threshold_ema_dead_code);
  const int64_t h = cluster_size_->size(0);
  for (int64_t i = 0; i < h; ++i) {
    auto dead_row = dead.select(0, i).to(DType::u8).to_vector<uint8_t>();
    std::vector<int64_t> codes;
    for (size_t k = 0; k < dead_row.size(); ++k)
      if (dead_row[k]) codes.push_back(static_cast<int64_t>(k));
    if (codes.empty()) continue;
    Tensor cand = flat.select(0, std::min<int64_t>(i, flat.size(0) - 1));
    if (mask.defined()) cand = masked_rows(cand.unsqueeze(0), mask.select(0, 0).unsqueeze(0)).select(0, 0);
    if (cand.size(0) == 0) continue;
    const int64_t m = static_cast<int64_t>(codes.size());
    Tensor drawn = ops::index_select(cand, 0, sample_rows(cand.size(0), m, *gen_, cand.device()));
    if (opts_.use_ddp && opts_.sync_kmeans) comm_->broadcast(drawn, 0);
    Tensor e = embed().select(0, i), avg = embed_avg_->select(0, i), cs = cluster_size_->select(0, i);
    for (int64_t j = 0; j < m; ++j) {
      Tensor row = drawn.select(0, j);
      e.select(0, codes[j]).copy_untracked_(row);
      avg.select(0, codes[j]).copy_(ops::mul(row, reset));
      cs.select(0, codes[j]).fill_(reset);
    }
  }
}

CodebookResult Codebook::forward(const Variable& x, const CodebookCall& call) {
  check<ShapeError>(x.dim() == 4, "Codebook: expected input (h, b, n, d), got ", shape_str(x.shape()));
  const int64_t h = x.size(0), b = x.size(1), n = x.size(2), d = x.size(3), N = b * n;
  const int64_t K = opts_.codebook_size;
  check<ShapeError>(d == opts_.dim && h == cluster_size_->size(0), "Codebook: input ", shape_str(x.shape()),
                    " does not match ", cluster_size_->size(0), " codebooks of width ", opts_.dim);
  Variable flat = ag::reshape(x, {h, N, d});
  Tensor flat_t = flat.value().contiguous();
  Tensor mask = call.mask.defined() ? expand_mask(call.mask, h, N) : Tensor();

  if (!initted_->item<uint8_t>()) init_embed_(flat_t, mask);
  if (opts_.affine_param) update_affine(flat_t, mask);
  Variable E = effective_codes();

  const double temp = call.sample_codebook_temp.value_or(opts_.sample_codebook_temp);
  const bool stochastic = is_training() && opts_.stochastic_sample_codes && temp > 0;
  const bool gumbel_st = is_training() && opts_.straight_through && temp > 0 && !call.topk;
  CodebookResult res;
  Variable TE;  // per-token codes (h, N, K, d) under a codebook transform
  if (call.codebook_transform_fn) {
    TE = call.codebook_transform_fn(E);
    check<ShapeError>(TE.numel() == h * N * K * d, "Codebook: codebook_transform_fn returned ", shape_str(TE.shape()),
                      ", expected ", shape_str({h, b, n, K, d}));
    TE = ag::reshape(TE, {h, N, K, d});
    Variable xf = ag::unsqueeze(flat, 2);
    if (opts_.use_cosine_sim) {
      TE = qf::l2norm(TE, 1e-6);
      res.sims = ag::sum(ag::mul(xf, TE), {-1});
    } else {  // -pairwise_distance: -|x - c + 1e-6|
      res.sims = ag::neg(ag::sqrt(ag::sum(ag::pow(ag::add(ag::sub(xf, TE), 1e-6), 2.0), {-1})));
    }
  } else if (call.need_similarities || stochastic || gumbel_st) {
    res.sims = qf::similarity(flat, E, opts_.use_cosine_sim);
  }

  Tensor indices;
  if (stochastic) {
    Tensor u = Tensor::rand(res.sims.shape(), *gen_, flat_t.device());
    Tensor g = ops::neg(ops::log(ops::clamp(ops::neg(ops::log(ops::clamp(u, 1e-20, std::nullopt))), 1e-20, std::nullopt)));
    Tensor logits = ops::add(ops::div(res.sims.value(), temp), g);
    indices = call.topk ? ops::topk(logits, *call.topk, -1).second : ops::argmax(logits, -1);
  } else if (res.sims.defined()) {
    indices = call.topk ? ops::topk(res.sims.value(), *call.topk, -1).second : ops::argmax(res.sims.value(), -1);
  } else {
    auto metric = metric_of(opts_.use_cosine_sim);
    indices = call.topk ? ops::nearest_code_topk(flat_t, E.value(), *call.topk, metric).indices
                        : ops::nearest_code(flat_t, E.value(), metric).indices;
  }

  // Quantize: row gather (the reference's one-hot product, bit-identical); its backward
  // scatter-adds into the codes when they are learnable.
  Tensor offsets = ops::mul(Tensor::arange(h, DType::i64, flat_t.device()), static_cast<double>(K));
  Tensor gidx = ops::add(indices, call.topk ? offsets.view({h, 1, 1}) : offsets.view({h, 1}));
  Variable q;
  if (TE.defined()) {
    const int64_t kk = call.topk ? *call.topk : 1;
    Tensor gi = indices.reshape({h, N, kk, 1}).expand({h, N, kk, d}).contiguous();
    q = ag::gather(TE, 2, gi);  // (h, N, kk, d)
    if (gumbel_st) {
      Variable P = ag::softmax(ag::div(res.sims, temp), -1);  // (h, N, K)
      q = ag::add(ag::reshape(q, {h, N, d}), ag::sum(ag::mul(ag::unsqueeze(ag::sub(P, P.detach()), -1), TE), {2}));
    }
  } else {
    q = ag::index_select(ag::reshape(E, {h * K, d}), 0, gidx.reshape({-1}));
    if (gumbel_st) {
      Variable P = ag::softmax(ag::div(res.sims, temp), -1);
      q = ag::add(ag::reshape(q, {h, N, d}), ag::matmul(ag::sub(P, P.detach()), E));
    }
  }
  Shape qshape = call.topk ? Shape{h, b, n, *call.topk, d} : Shape{h, b, n, d};
  res.quantized = ag::reshape(q, qshape);

  if (!call.topk) {
    Tensor counted = mask.defined() ? ops::where(mask, gidx, Tensor::full({}, -1.0, DType::i64, gidx.device())) : gidx;
    Tensor valid = ops::ge(counted, 0.0);
    Tensor safe = ops::where(valid, counted, Tensor::zeros({}, DType::i64, gidx.device()));
    last_counts_ = ops::bincount(safe.reshape({-1}), h * K, valid.to(DType::f32).reshape({-1})).view({h, K});
    if (opts_.use_ddp) comm_->all_reduce_sum(last_counts_);
  }
  if (is_training() && call.update_usage && !call.freeze_codebook && !call.topk)
    update_codebook(flat_t, indices, mask, call.ema_update_weight, call.accum_ema_update, call.ema_update,
                    call.ema_update_weight_tensor);

  res.indices = call.topk ? indices.view({h, b, n, *call.topk}) : indices.view({h, b, n});
  if (res.sims.defined()) res.sims = ag::reshape(res.sims, {h, b, n, K});
  return res;
}

CodebookHealth Codebook::health() const {
  CodebookHealth hl;
  if (!last_counts_.defined()) return hl;
  Tensor total = ops::clamp(ops::sum(last_counts_, {-1}, true), 1e-12, std::nullopt);
  Tensor p = ops::div(last_counts_, total);
  Tensor ent = ops::neg(ops::sum(ops::mul(p, ops::log(ops::clamp(p, 1e-12, std::nullopt))), {-1}));
  hl.perplexity = ops::exp(ent);
  hl.active_codes = ops::sum(ops::gt(last_counts_, 0.0).to(DType::f32), {-1});
  hl.dead_codes = opts_.threshold_ema_dead_code > 0
                      ? ops::sum(ops::lt(*cluster_size_, opts_.threshold_ema_dead_code).to(DType::f32), {-1})
                      : Tensor::zeros({cluster_size_->size(0)}, DType::f32, cluster_size_->device());
  return hl;
}

}  // namespace vq
