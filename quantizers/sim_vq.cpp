// SimVQ module (see sim_vq.h; SPEC.md section 13).
#include "quantizers/sim_vq.h"

#include <cmath>

#include "autograd/node.h"
#include "kernels/ops.h"
#include "kernels/ops_vq.h"
#include "nn/linear.h"
#include "nn/sequential.h"
#include "quantizers/functional.h"
#include "quantizers/options.h"
#include "quantizers/vq_callables.h"

namespace vq {

namespace {

// The reference's loss in one node: with m = mean((x - c)^2),
//   loss = cw * (m + w * m)        (mse(sg(x), c) + w * mse(x, sg(c)))
// d loss / dc = cw * 2 (c - x) / n, d loss / dx = cw * w * 2 (x - c) / n.
Variable sim_vq_commit_loss(const Variable& x, const Variable& c, double w, double cw) {
  Tensor d = ops::sub(x.value(), c.value());
  const double n = static_cast<double>(d.numel());
  Tensor norm = ops::norm(d);
  Tensor m = ops::div(ops::mul(norm, norm), n);
  Tensor loss = ops::mul(ops::add(m, ops::mul(m, w)), cw);
  return make_result("SimVQ.commit_loss", loss, {x, c}, {d}, [n, w, cw](const Tensor& g, const BackwardContext& ctx) {
    std::vector<Tensor> out(2);
    if (ctx.needs_grad(0)) out[0] = ops::mul(ctx.saved(0), ops::mul(g, 2.0 * w * cw / n));
    if (ctx.needs_grad(1)) out[1] = ops::mul(ctx.saved(0), ops::mul(g, -2.0 * cw / n));
    return out;
  });
}

// 'b d ... -> b ... d' (a permutation; a no-op for rank 2).
Variable channel_to_last(const Variable& x) {
  if (x.dim() <= 2) return x;
  std::vector<int64_t> perm{0};
  for (int64_t i = 2; i < x.dim(); ++i) perm.push_back(i);
  perm.push_back(1);
  return ag::permute(x, perm);
}

// 'b ... d -> b d ...'.
Variable last_to_channel(const Variable& x) {
  if (x.dim() <= 2) return x;
  std::vector<int64_t> perm{0, x.dim() - 1};
  for (int64_t i = 1; i < x.dim() - 1; ++i) perm.push_back(i);
  return ag::permute(x, perm);
}

}  // namespace

// ---------------- options ----------------

SimVQOptions SimVQOptions::from_json(const nlohmann::json& j) {
  SimVQOptions o;
  OptionReader r(j, "SimVQ");
  r.get("dim", o.dim);
  r.get("codebook_size", o.codebook_size);
  r.accept("codebook_transform");
  if (r.has("codebook_transform")) o.codebook_transform = j.at("codebook_transform");
  r.get("channel_first", o.channel_first);
  r.get("rotation_trick", o.rotation_trick);
  r.get("input_to_quantize_commit_loss_weight", o.input_to_quantize_commit_loss_weight);
  r.get("commitment_weight", o.commitment_weight);
  r.get("frozen_codebook_dim", o.frozen_codebook_dim);
  r.accept("init_fn");
  check<ConfigError>(!r.has("init_fn"), "SimVQ: option 'init_fn' is a Python callable; JSON configs cannot ",
                     "give it (C++ callers set SimVQOptions::init_fn)");
  r.finish();
  return o;
}

void SimVQOptions::validate() const {
  check<ConfigError>(dim >= 1, "SimVQ: option 'dim' must be >= 1, got ", dim);
  check<ConfigError>(codebook_size >= 1, "SimVQ: option 'codebook_size' must be >= 1, got ", codebook_size);
  check<ConfigError>(!frozen_codebook_dim || *frozen_codebook_dim >= 1,
                     "SimVQ: option 'frozen_codebook_dim' must be >= 1, got ", frozen_codebook_dim.value_or(0));
}

std::shared_ptr<nn::Layer> sim_vq_transform_from_json(const nlohmann::json& spec, int64_t in_dim, int64_t out_dim,
                                                      Generator& gen, const char* module) {
  const std::string what = std::string(module) + ".codebook_transform";
  check<ConfigError>(spec.is_object(), module, ": option 'codebook_transform' must be an object like ",
                     "{\"type\": \"mlp\", \"hidden\": [128]}, got ", spec.dump());
  return parse_layer_spec(spec, what).build(in_dim, out_dim, gen);
}

// ---------------- module ----------------

SimVQ::SimVQ(SimVQOptions o, Generator& gen) : opts_(std::move(o)) {
  opts_.validate();
  fd_ = opts_.frozen_codebook_dim.value_or(opts_.dim);
  init(gen);
  std::shared_ptr<nn::Layer> t;
  if (opts_.codebook_transform.is_null())
    t = std::make_shared<nn::Linear>(fd_, opts_.dim, false, gen);
  else
    t = sim_vq_transform_from_json(opts_.codebook_transform, fd_, opts_.dim, gen);
  transform_ = register_module("code_transform", t);
}

SimVQ::SimVQ(SimVQOptions o, std::shared_ptr<nn::Layer> code_transform, Generator& gen) : opts_(std::move(o)) {
  opts_.validate();
  check<ConfigError>(code_transform != nullptr, "SimVQ: code_transform module is null");
  fd_ = opts_.frozen_codebook_dim.value_or(opts_.dim);
  init(gen);
  transform_ = register_module("code_transform", std::move(code_transform));
}

void SimVQ::init(Generator& gen) {
  Tensor cb = ops::mul(Tensor::randn({opts_.codebook_size, fd_}, gen), 1.0 / std::sqrt(static_cast<double>(fd_)));
  if (opts_.init_fn) {
    cb = opts_.init_fn(cb);
    check<ShapeError>(cb.defined() && cb.shape() == Shape({opts_.codebook_size, fd_}),
                      "SimVQ: init_fn must return a (", opts_.codebook_size, ", ", fd_, ") tensor, got ",
                      cb.defined() ? shape_str(cb.shape()) : std::string("nothing"));
    cb = cb.to(DType::f32).contiguous();
  }
  frozen_ = register_buffer("frozen_codebook", cb, true);
}

Variable SimVQ::transformed() {
  Variable c = transform_->forward(Variable(*frozen_));
  check<ShapeError>(c.shape() == Shape({opts_.codebook_size, opts_.dim}), "SimVQ: code_transform must map the ",
                    "frozen codebook (", opts_.codebook_size, ", ", fd_, ") to (", opts_.codebook_size, ", ",
                    opts_.dim, "), got ", shape_str(c.shape()));
  return c;
}

bool SimVQ::cache_valid() const {
  if (!cache_.defined()) return false;
  std::vector<Tensor> src{*frozen_};
  for (const auto& p : transform_->parameters()) src.push_back(p.value());
  if (src.size() != cache_src_.size()) return false;
  for (size_t i = 0; i < src.size(); ++i)
    if (!src[i].same_storage(cache_src_[i]) || src[i].version() != cache_versions_[i]) return false;
  return true;
}

Variable SimVQ::codebook() {
  // With grad mode on the transform runs every call, and its result is returned when it
  // carries a graph (a gradient can reach the transform, in training and in eval, as in
  // the reference). Otherwise (no-grad inference, a frozen transform) the codebook is
  // cached until the transform's parameters or the frozen codebook change.
  Variable fresh;
  if (autograd::grad_enabled()) {
    fresh = transformed();
    if (fresh.requires_grad()) {
      cache_ = Tensor();
      cache_src_.clear();
      return fresh;
    }
  }
  if (!cache_valid()) {
    cache_ = (fresh.defined() ? fresh : transformed()).value().contiguous();
    cache_src_ = {*frozen_};
    for (const auto& p : transform_->parameters()) cache_src_.push_back(p.value());
    cache_versions_.clear();
    for (const auto& t : cache_src_) cache_versions_.push_back(t.version());
  }
  return Variable(cache_);
}

QuantizerOutput SimVQ::forward(const Variable& x_in) {
  check<DTypeError>(x_in.dtype() == DType::f32, "SimVQ: x must be f32, got ", dtype_name(x_in.dtype()));
  check<ShapeError>(x_in.dim() >= 2, "SimVQ: expected x of shape (b, ..., dim) (or (b, dim, ...) with ",
                    "channel_first), got x=", shape_str(x_in.shape()));
  Variable x = opts_.channel_first ? channel_to_last(x_in) : x_in;
  check<ShapeError>(x.size(-1) == opts_.dim, "SimVQ: expected dimension of ", opts_.dim, " but found dimension of ",
                    x.size(-1), " (x=", shape_str(x_in.shape()), ")");
  const Shape lead(x.shape().begin(), x.shape().end() - 1);  // (b, ...)
  Variable flat = ag::reshape(x, {-1, opts_.dim});           // (N, dim)

  Variable C = codebook();
  Tensor idx = ops::nearest_code(flat.value().contiguous(), C.value()).indices;  // (N,)
  Variable qsel = ag::index_select(C, 0, idx);                                   // (N, dim)
  Variable loss = sim_vq_commit_loss(flat, qsel, opts_.input_to_quantize_commit_loss_weight, opts_.commitment_weight);
  Variable q = opts_.rotation_trick ? qf::rotate_to(flat, qsel.value()) : qf::straight_through(flat, qsel.value());

  Shape out_shape = lead;
  out_shape.push_back(opts_.dim);
  q = ag::reshape(q, out_shape);
  if (opts_.channel_first) q = ag::contiguous(last_to_channel(q));
  QuantizerOutput res;
  res.quantized = q;
  res.indices = idx.reshape(lead);
  res.loss = loss;
  return res;
}

QuantizerOutput SimVQ::call(const QuantizerCall& c) {
  OptionReader r(c.kwargs, "SimVQ.forward");
  r.finish();
  for (const auto& kv : c.tensors) throw ConfigError("SimVQ: unknown input tensor '" + kv.first + "'");
  return forward(c.x);
}

Tensor SimVQ::indices_to_codes(const Tensor& indices) {
  NoGradGuard ng;
  check<ShapeError>(indices.defined() && indices.dim() >= 1, "SimVQ.indices_to_codes: expected indices (b, ...), got ",
                    indices.defined() ? shape_str(indices.shape()) : std::string("undefined"));
  Tensor C = codebook().value();
  Tensor idx = indices.to(DType::i64).to(C.device()).contiguous();
  if (idx.numel() > 0) {
    const bool bad =
        ops::any(ops::logical_or(ops::lt(idx, 0.0), ops::ge(idx, static_cast<double>(opts_.codebook_size))));
    check<ShapeError>(!bad, "SimVQ.indices_to_codes: indices must lie in [0, ", opts_.codebook_size,
                      "), got indices=", shape_str(indices.shape()), " with values outside");
  }
  Tensor codes = ops::index_select(C, 0, idx.reshape({-1}));
  Shape s = indices.shape();
  s.push_back(opts_.dim);
  codes = codes.reshape(s);
  if (opts_.channel_first) codes = last_to_channel(Variable(codes)).value();
  return codes.contiguous();
}

void register_sim_vq() {
  register_quantizer("SimVQ", [](const nlohmann::json& cfg) { return std::make_shared<SimVQ>(SimVQOptions::from_json(cfg)); });
}

}  // namespace vq
