// LatentQuantize module (see latent_quantize.h; SPEC.md section 12).
#include "quantizers/latent_quantize.h"

#include <cmath>
#include <limits>

#include "autograd/node.h"
#include "kernels/ops.h"
#include "nn/linear.h"
#include "quantizers/functional.h"
#include "quantizers/options.h"

namespace vq {

namespace {

// The reference's nn.ParameterList (or plain list) of value tables: children "0", "1", ...
class ValueTables : public nn::Module {
 public:
  Variable add_parameter(const std::string& name, Tensor v) { return register_parameter(name, std::move(v)); }
  Tensor* add_buffer(const std::string& name, Tensor v) { return register_buffer(name, std::move(v), false); }
};

// loss = wc * m + wq * m with m = mean((x - out)^2): commitment mse(sg(x), out) and
// quantization mse(sg(out), x) in one node. d/d out = wc 2 (out - x) / n,
// d/dx = wq 2 (x - out) / n.
Variable latent_losses(const Variable& x, const Variable& out, double wc, double wq) {
  Tensor d = ops::sub(x.value(), out.value());
  const double n = static_cast<double>(d.numel());
  Tensor norm = ops::norm(d);
  Tensor m = ops::div(ops::mul(norm, norm), n);
  Tensor loss = ops::add(ops::mul(m, wc), ops::mul(m, wq));
  return make_result("LatentQuantize.losses", loss, {x, out}, {d}, [n, wc, wq](const Tensor& g, const BackwardContext& ctx) {
    std::vector<Tensor> r(2);
    if (ctx.needs_grad(0)) r[0] = ops::mul(ctx.saved(0), ops::mul(g, 2.0 * wq / n));
    if (ctx.needs_grad(1)) r[1] = ops::mul(ctx.saved(0), ops::mul(g, -2.0 * wc / n));
    return r;
  });
}

std::vector<int64_t> channel_last_perm(int64_t rank) {
  std::vector<int64_t> perm{0};
  for (int64_t i = 2; i < rank; ++i) perm.push_back(i);
  perm.push_back(1);
  return perm;
}
std::vector<int64_t> last_channel_perm(int64_t rank) {
  std::vector<int64_t> perm{0, rank - 1};
  for (int64_t i = 1; i < rank - 1; ++i) perm.push_back(i);
  return perm;
}

}  // namespace

std::vector<float> latent_value_table(int64_t L) {
  std::vector<float> v(static_cast<size_t>(L));
  if (L % 2 == 1) {  // torch.linspace: start + step * i below the middle, end - step * (L-1-i) from it (fused)
    const float step = (0.5f - (-0.5f)) / static_cast<float>(L - 1);
    const int64_t half = L / 2;
    for (int64_t i = 0; i < L; ++i)
      v[i] = i < half ? std::fma(step, static_cast<float>(i), -0.5f)
                      : std::fma(-step, static_cast<float>(L - 1 - i), 0.5f);
  } else {
    for (int64_t k = 0; k < L; ++k) v[k] = static_cast<float>(k) / static_cast<float>(L) - 0.5f;
  }
  return v;
}

// ---------------- options ----------------

LatentQuantizeOptions LatentQuantizeOptions::from_json(const nlohmann::json& j) {
  LatentQuantizeOptions o;
  OptionReader r(j, "LatentQuantize");
  r.get("dim", o.dim);
  r.get("commitment_loss_weight", o.commitment_loss_weight);
  r.get("quantization_loss_weight", o.quantization_loss_weight);
  r.get("num_codebooks", o.num_codebooks);
  r.get("codebook_dim", o.codebook_dim);
  r.get("keep_num_codebooks_dim", o.keep_num_codebooks_dim);
  r.get("optimize_values", o.optimize_values);
  r.accept("in_place_codebook_optimizer");
  check<ConfigError>(!r.has("in_place_codebook_optimizer"), "LatentQuantize: option 'in_place_codebook_optimizer' ",
                     "is not supported (the reference's in-place branch raises whenever it is used in training, ",
                     "and the value tables never receive gradients; SPEC 23.22)");
  r.accept("levels");
  if (r.has("levels") && j.at("levels").is_number_integer()) {
    const int64_t L = j.at("levels").get<int64_t>();
    check<ConfigError>(o.codebook_dim > 0, "LatentQuantize: option 'levels' is an int (", L,
                       "); give codebook_dim > 0 to repeat it (codebook_dim=", o.codebook_dim, ")");
    o.levels.assign(static_cast<size_t>(o.codebook_dim), L);
  } else {
    r.get("levels", o.levels);
  }
  r.finish();
  return o;
}

void LatentQuantizeOptions::validate() const {
  check<ConfigError>(!levels.empty(), "LatentQuantize: option 'levels' must be a non-empty list of ints");
  for (int64_t L : levels) check<ConfigError>(L >= 2, "LatentQuantize: option 'levels': every level must be >= 2, got ", L);
  check<ConfigError>(codebook_dim <= 0 || codebook_dim == static_cast<int64_t>(levels.size()),
                     "LatentQuantize: option 'codebook_dim' (", codebook_dim, ") must equal len(levels) (",
                     levels.size(), ") when both are given");
  check<ConfigError>(dim >= 1, "LatentQuantize: option 'dim' must be >= 1, got ", dim);
  check<ConfigError>(num_codebooks >= 1, "LatentQuantize: option 'num_codebooks' must be >= 1, got ", num_codebooks);
  int64_t K = 1;
  for (int64_t L : levels) {
    check<ConfigError>(K <= std::numeric_limits<int32_t>::max() / L, "LatentQuantize: option 'levels': prod(levels) ",
                       "must fit int32 (the reference's index dtype)");
    K *= L;
  }
}

// ---------------- module ----------------

LatentQuantize::LatentQuantize(LatentQuantizeOptions o, Generator& gen) : opts_(std::move(o)) {
  opts_.validate();
  c_ = static_cast<int64_t>(opts_.levels.size());
  h_ = opts_.num_codebooks;
  keep_ = (opts_.keep_num_codebooks_dim && *opts_.keep_num_codebooks_dim) || h_ > 1;
  int64_t b = 1;
  for (int64_t L : opts_.levels) {
    basis_.push_back(b);
    b *= L;
  }
  codebook_size_ = b;
  const int64_t eff = c_ * h_;
  has_projections_ = opts_.dim != eff;
  if (has_projections_) {
    project_in_ = register_module("project_in", std::shared_ptr<nn::Layer>(std::make_shared<nn::Linear>(opts_.dim, eff, true, gen)));
    project_out_ = register_module("project_out", std::shared_ptr<nn::Layer>(std::make_shared<nn::Linear>(eff, opts_.dim, true, gen)));
  }
  auto tables = std::make_shared<ValueTables>();
  for (int64_t i = 0; i < c_; ++i) {
    std::vector<float> v = latent_value_table(opts_.levels[i]);
    Tensor t = Tensor::from_vector(v, {opts_.levels[i]});
    if (opts_.optimize_values)
      param_tables_.push_back(tables->add_parameter(std::to_string(i), t));
    else
      buffer_tables_.push_back(tables->add_buffer(std::to_string(i), t));
  }
  tables_ = register_module("values_per_latent", std::shared_ptr<nn::Module>(tables));
}

Tensor LatentQuantize::values(int64_t i) const {
  check<ShapeError>(i >= 0 && i < c_, "LatentQuantize.values: dimension ", i, " out of range [0, ", c_, ")");
  return opts_.optimize_values ? param_tables_[i].value() : *buffer_tables_[i];
}

Tensor LatentQuantize::codes_to_indices(const Tensor& codes_in) {
  check<ShapeError>(codes_in.dim() >= 1 && codes_in.size(-1) == c_, "LatentQuantize.codes_to_indices: last dim ",
                    "must be codebook_dim=", c_, ", got codes=", shape_str(codes_in.shape()));
  Tensor codes = codes_in.to(DType::f32);
  Tensor acc;
  for (int64_t i = 0; i < c_; ++i) {  // level = z * 2 * (L//2) + L//2; acc += level * basis (f32, as torch)
    const double half = static_cast<double>(opts_.levels[i] / 2);
    Tensor level = ops::add(ops::mul(ops::mul(codes.select(-1, i), 2.0), half), half);
    Tensor term = ops::mul(level, static_cast<double>(basis_[i]));
    acc = acc.defined() ? ops::add(acc, term) : term;
  }
  return acc.to(DType::i64);  // truncation, as the reference's .to(int32)
}

QuantizerOutput LatentQuantize::forward(const Variable& z_in) {
  check<DTypeError>(z_in.dtype() == DType::f32, "LatentQuantize: z must be f32, got ", dtype_name(z_in.dtype()));
  check<ShapeError>(z_in.dim() >= 2 && z_in.size(1) == opts_.dim, "LatentQuantize: expected z of shape (b, ",
                    opts_.dim, ", ...) (channel-first), got z=", shape_str(z_in.shape()));
  const int64_t b = z_in.size(0);
  Shape spatial(z_in.shape().begin() + 2, z_in.shape().end());
  Variable z = z_in.dim() > 2 ? ag::permute(z_in, channel_last_perm(z_in.dim())) : z_in;
  z = ag::reshape(z, {b, -1, opts_.dim});  // (b, N, dim)
  const int64_t N = z.size(1);
  if (has_projections_) z = project_in_->forward(z);
  Variable z4 = ag::reshape(z, {b, N, h_, c_});

  // per-dimension nearest table value (first on ties), straight-through
  std::vector<Tensor> qs;
  const Tensor zv = z4.value();
  for (int64_t i = 0; i < c_; ++i) {
    Tensor V = values(i).to(zv.device());
    Tensor zi = zv.select(-1, i).contiguous().unsqueeze(-1);  // (b, N, h, 1)
    Tensor idx = ops::argmin(ops::abs(ops::sub(zi, V)), -1);  // (b, N, h)
    qs.push_back(ops::index_select(V, 0, idx.reshape({-1})).reshape({b, N, h_}));
  }
  Tensor q = ops::stack(qs, -1);  // (b, N, h, c)
  Variable zq = qf::straight_through(z4, q);
  Tensor idx = codes_to_indices(zq.value());  // (b, N, h)

  Variable out = ag::reshape(zq, {b, N, h_ * c_});
  if (has_projections_) out = project_out_->forward(out);
  Shape os{b};
  os.insert(os.end(), spatial.begin(), spatial.end());
  os.push_back(opts_.dim);
  out = ag::reshape(out, os);
  if (out.dim() > 2) out = ag::contiguous(ag::permute(out, last_channel_perm(out.dim())));

  Shape is{b};
  is.insert(is.end(), spatial.begin(), spatial.end());
  if (keep_) is.push_back(h_);
  QuantizerOutput res;
  res.quantized = out;
  res.indices = idx.reshape(is).contiguous();
  const double wc = opts_.commitment_loss_weight, wq = opts_.quantization_loss_weight;
  if (is_training() && (wc != 0.0 || wq != 0.0))
    res.loss = latent_losses(z_in, out, wc, wq);
  else
    res.loss = Variable(Tensor::zeros({}, DType::f32, z_in.device()));
  return res;
}

QuantizerOutput LatentQuantize::call(const QuantizerCall& c) {
  OptionReader r(c.kwargs, "LatentQuantize.forward");
  r.finish();
  for (const auto& kv : c.tensors) throw ConfigError("LatentQuantize: unknown input tensor '" + kv.first + "'");
  return forward(c.x);
}

Tensor LatentQuantize::indices_to_codes(const Tensor& indices, bool project_out) {
  NoGradGuard ng;
  check<ShapeError>(indices.defined() && indices.dim() >= 1, "LatentQuantize.indices_to_codes: expected indices ",
                    "(b, ...[, num_codebooks]), got ", indices.defined() ? shape_str(indices.shape()) : std::string("undefined"));
  if (keep_)
    check<ShapeError>(indices.size(-1) == h_, "LatentQuantize.indices_to_codes: last dim must be num_codebooks=", h_,
                      ", got indices=", shape_str(indices.shape()));
  const Device dev = indices.device();
  const std::vector<int64_t> idx = indices.to(DType::i64).to(cpu_device()).contiguous().to_vector<int64_t>();
  std::vector<float> codes(idx.size() * static_cast<size_t>(c_));
  for (size_t t = 0; t < idx.size(); ++t)
    for (int64_t i = 0; i < c_; ++i) {
      const int64_t L = opts_.levels[i], half = L / 2;
      int64_t q = idx[t] / basis_[i];  // Python floor division and modulo
      if (idx[t] % basis_[i] != 0 && idx[t] < 0) --q;
      int64_t level = q % L;
      if (level < 0) level += L;
      codes[t * c_ + i] = static_cast<float>(level - half) / static_cast<float>(half) / 2.f;
    }
  Shape s = indices.shape();
  if (keep_) s.back() = h_ * c_;  // '... c d -> ... (c d)'
  else s.push_back(c_);
  Tensor out = Tensor::from_vector(codes, s).to(dev);
  if (project_out && has_projections_) out = project_out_->forward(Variable(out.to(project_out_->parameters()[0].device()))).value();
  if (out.dim() > 2) out = out.permute(last_channel_perm(out.dim())).contiguous();
  return out;
}

void register_latent_quantize() {
  register_quantizer("LatentQuantize", [](const nlohmann::json& cfg) {
    return std::make_shared<LatentQuantize>(LatentQuantizeOptions::from_json(cfg));
  });
}

}  // namespace vq
