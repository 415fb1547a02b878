// FSP module, its CDF activations and the VectorNorm regularizer (see fsp.h; SPEC.md
// section 8).
#include "quantizers/fsp.h"

#include <cmath>
#include <limits>

#include "autograd/node.h"
#include "kernels/ops.h"
#include "nn/linear.h"
#include "quantizers/options.h"
#include "quantizers/scalar_common.h"

namespace vq {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kSqrt2 = 1.41421356237309504880;
// 1 / sqrt(12): the reference divides by this literal (unit variance of a uniform).
constexpr double kUniformStd = 0.28867513459481287;

// f(x) element by element on the host (f32 in, f32 out), result on x's device.
template <typename F>
Tensor host_map(const Tensor& x, F f) {
  std::vector<float> v = x.to(cpu_device()).to(DType::f32).contiguous().to_vector<float>();
  for (float& e : v) e = f(e);
  return Tensor::from_vector(v, x.shape(), x.device());
}

// y = f(x) with dy/dx = df(x), both on the host; one node.
template <typename F, typename DF>
Variable host_unary(const char* name, const Variable& x, F f, DF df) {
  return make_result(name, host_map(x.value(), f), {x}, {x.value()},
                     [df](const Tensor& g, const BackwardContext& ctx) {
                       return std::vector<Tensor>{ops::mul(g, host_map(ctx.saved(0), df))};
                     });
}

// erfinv on [-1, 1] in double: Giles' single-precision approximation, then two Newton
// steps on erf (converges to double precision away from +-1).
double erfinv(double y) {
  if (y <= -1.0) return -std::numeric_limits<double>::infinity();
  if (y >= 1.0) return std::numeric_limits<double>::infinity();
  double w = -std::log((1.0 - y) * (1.0 + y)), x;
  if (w < 5.0) {
    w -= 2.5;
    double p = 2.81022636e-08;
    p = 3.43273939e-07 + p * w; p = -3.5233877e-06 + p * w; p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w; p = -0.00125372503 + p * w; p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w; p = 1.50140941 + p * w;
    x = p * y;
  } else {
    w = std::sqrt(w) - 3.0;
    double p = -0.000200214257;
    p = 0.000100950558 + p * w; p = 0.00134934322 + p * w; p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w; p = -0.0076224613 + p * w; p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w; p = 2.83297682 + p * w;
    x = p * y;
  }
  for (int it = 0; it < 2; ++it) x -= (std::erf(x) - y) / (2.0 / std::sqrt(kPi) * std::exp(-x * x));
  return x;
}

}  // namespace

// ---------------- CDF activations ----------------

FspActivation parse_fsp_activation(const std::string& n) {
  if (n == "tanh") return FspActivation::tanh;
  if (n == "sigmoid") return FspActivation::sigmoid;
  if (n == "normal") return FspActivation::normal;
  if (n == "laplace") return FspActivation::laplace;
  if (n == "cauchy") return FspActivation::cauchy;
  throw ConfigError(str_cat("FSP: act_name: CDF activation '", n,
                            "' not available: ['tanh', 'sigmoid', 'normal', 'laplace', 'cauchy']"));
}

Variable fsp_act(FspActivation a, const Variable& z) {
  switch (a) {
    case FspActivation::tanh: return ag::div(ag::add(ag::tanh(z), 1.0), 2.0);
    case FspActivation::sigmoid: return ag::sigmoid(z);
    case FspActivation::laplace:  // 0.5 (1 + sign(z) (1 - exp(-|z|)))
      return ag::mul(ag::add(ag::mul(ag::sign(z), ag::rsub(ag::exp(ag::neg(ag::abs(z))), 1.0)), 1.0), 0.5);
    case FspActivation::normal:
      return host_unary(
          "FSP.normal_cdf", z,
          [](float v) {
            const float u = v / static_cast<float>(kSqrt2);
            return (1.0f + std::erf(u)) / 2.0f;
          },
          [](float v) { return static_cast<float>(std::exp(-0.5 * double(v) * v) / std::sqrt(2.0 * kPi)); });
    case FspActivation::cauchy:
      return host_unary(
          "FSP.cauchy_cdf", z,
          [](float v) { return std::atan(v) / static_cast<float>(kPi) + 0.5f; },
          [](float v) { return static_cast<float>(1.0 / (kPi * (1.0 + double(v) * v))); });
  }
  return z;
}

Tensor fsp_inv_act(FspActivation a, const Tensor& p) {
  switch (a) {
    case FspActivation::tanh:
      return host_map(p, [](float v) { return static_cast<float>(std::atanh(double(v * 2.0f - 1.0f))); });
    case FspActivation::sigmoid:
      return host_map(p, [](float v) { return static_cast<float>(std::log(double(v) / (1.0 - double(v)))); });
    case FspActivation::normal:
      return host_map(p, [](float v) {
        return static_cast<float>(static_cast<float>(erfinv(double(2.0f * v - 1.0f))) * static_cast<float>(kSqrt2));
      });
    case FspActivation::laplace:
      return host_map(p, [](float v) {
        const float d = v - 0.5f;
        const float s = d > 0 ? 1.0f : (d < 0 ? -1.0f : 0.0f);
        return -s * static_cast<float>(std::log(double(1.0f - 2.0f * std::fabs(d))));
      });
    case FspActivation::cauchy:
      return host_map(p, [](float v) { return static_cast<float>(std::tan(double((v - 0.5f) * static_cast<float>(kPi)))); });
  }
  return p;
}

// ---------------- VectorNorm ----------------

VectorNormSpec VectorNormSpec::preset(const std::string& name) {
  VectorNormSpec s;
  auto var_like = [&](double t2) {
    s.t1 = 0.0; s.w1 = 0.1; s.t2 = t2; s.w2 = 0.07; s.w3 = 0.0; s.w4 = 0.0;
  };
  if (name == "none") {
    s.w1 = s.w2 = s.w3 = s.w4 = 0.0;
  } else if (name == "var") {
    var_like(1.0);
  } else if (name == "kurt") {
    s = VectorNormSpec{0.0, 0.1, 1.0, 0.07, 0.0, 0.06, 0.0, 0.05, 1e-8};
  } else if (name == "var_tanh") {
    var_like(0.8225);
  } else if (name == "var_sigmoid") {
    var_like(3.29);
  } else if (name == "var_laplace") {
    var_like(2.0);
  } else {
    throw ConfigError(str_cat("FSP: vector_norm: unknown vector_norm preset: ", name,
                              ", available: ['none', 'var', 'kurt', 'var_tanh', 'var_sigmoid', 'var_laplace']"));
  }
  return s;
}

VectorNormResult vector_norm(const Variable& Z, const VectorNormSpec& s) {
  check<ShapeError>(Z.dim() == 2, "FSP.vector_norm: expected Z (N, c), got ", shape_str(Z.shape()));
  VectorNormResult r;
  r.variance = ag::var(Z, {0}, true);
  r.mean = ag::mean(Z, {0});
  Variable std = ag::clamp(ag::sqrt(r.variance), s.eps, std::nullopt);
  Variable zs = ag::div(ag::sub(Z, r.mean), std);
  r.skewness = ag::mean(ag::pow(zs, 3.0), {0});
  r.kurtosis = ag::sub(ag::mean(ag::pow(zs, 4.0), {0}), 3.0);
  auto term = [](const Variable& v, double t, double w) { return ag::mul(ag::mean(ag::pow(ag::sub(v, t), 2.0)), w); };
  r.loss = ag::add(ag::add(ag::add(term(r.mean, s.t1, s.w1), term(r.variance, s.t2, s.w2)),
                           term(r.skewness, s.t3, s.w3)),
                   term(r.kurtosis, s.t4, s.w4));
  return r;
}

// ---------------- options ----------------

FSPOptions FSPOptions::from_json(const nlohmann::json& j) {
  FSPOptions o;
  OptionReader r(j, "FSP");
  r.get("levels", o.levels);
  r.get("dim", o.dim);
  r.get("channel_first", o.channel_first);
  r.get("projection_has_bias", o.projection_has_bias);
  r.get("act_name", o.act_name);
  r.get("quantize_rate", o.quantize_rate);
  r.get("need_inv_act", o.need_inv_act);
  r.get("vector_norm", o.vector_norm);
  r.finish();
  return o;
}

void FSPOptions::validate() const {
  check<ConfigError>(!levels.empty(), "FSP: levels must be a non-empty list of ints");
  for (int64_t l : levels) check<ConfigError>(l >= 1, "FSP: levels: every level must be >= 1, got ", l);
  check<ConfigError>(!dim || *dim >= 1, "FSP: dim must be >= 1, got ", dim.value_or(0));
  check<ConfigError>(quantize_rate >= 0.0 && quantize_rate <= 1.0, "FSP: quantize_rate must be in [0.0, 1.0], got ",
                     quantize_rate);
  (void)parse_fsp_activation(act_name);
  (void)VectorNormSpec::preset(vector_norm);
}

// ---------------- module ----------------

FSP::FSP(FSPOptions o, Generator& gen) : opts_(std::move(o)), gen_(&gen) {
  opts_.validate();
  act_ = parse_fsp_activation(opts_.act_name);
  norm_ = VectorNormSpec::preset(opts_.vector_norm);
  c_ = static_cast<int64_t>(opts_.levels.size());
  dim_ = opts_.dim.value_or(c_);
  (void)codebook_size();  // ConfigError when prod(levels) overflows int64
  has_projections_ = dim_ != c_;
  if (has_projections_) {
    project_in_ = register_module("project_in", std::shared_ptr<nn::Layer>(std::make_shared<nn::Linear>(
                                                    dim_, c_, opts_.projection_has_bias, gen)));
    project_out_ = register_module("project_out", std::shared_ptr<nn::Layer>(std::make_shared<nn::Linear>(
                                                      c_, dim_, opts_.projection_has_bias, gen)));
  }
}

int64_t FSP::codebook_size() const {
  ops::FsqSpec s;
  s.levels = opts_.levels;
  return ops::fsq_codebook_size(s);
}

Tensor FSP::levels_f32(Device d) const {
  std::vector<float> l(opts_.levels.begin(), opts_.levels.end());
  return Tensor::from_vector(l, {c_}, d);
}

Tensor FSP::indices_to_level_indices(const Tensor& indices) const {
  ops::FsqSpec s;
  s.levels = opts_.levels;
  return ops::fsq_indices_to_level_indices(indices.to(DType::i64), s);
}

Tensor FSP::level_indices_to_indices(const Tensor& level_indices) const {
  return sq::mixed_radix_index(level_indices, opts_.levels);
}

Tensor FSP::indices_to_act_value(const Tensor& indices) const {
  Tensor lvl = indices_to_level_indices(indices).to(DType::f32);
  return ops::div(ops::add(lvl, 0.5), levels_f32(lvl.device()));
}

namespace {
// 'b d ... -> b ... d' and back (rank >= 2).
std::vector<int64_t> channel_to_last(int64_t rank) {
  std::vector<int64_t> p{0};
  for (int64_t i = 2; i < rank; ++i) p.push_back(i);
  p.push_back(1);
  return p;
}
std::vector<int64_t> last_to_channel_perm(int64_t rank) {
  std::vector<int64_t> p{0, rank - 1};
  for (int64_t i = 1; i < rank - 1; ++i) p.push_back(i);
  return p;
}
}  // namespace

FSPOutput FSP::forward(const Variable& z_in, std::optional<double> eps_opt) {
  const double eps = eps_opt.value_or(static_cast<double>(std::numeric_limits<float>::epsilon()));
  check<ShapeError>(z_in.dim() >= (opts_.channel_first ? 2 : 1), "FSP: expected z of shape (..., dim) (or (b, dim, ...) ",
                    "with channel_first), got z=", shape_str(z_in.shape()));
  const DType in_dtype = z_in.dtype();
  Variable z = z_in;
  if (in_dtype != DType::f32) z = Variable(z_in.value().to(DType::f32));
  if (opts_.channel_first) z = ag::permute(z, channel_to_last(z.dim()));
  const Shape z_shape = z.shape();
  check<ShapeError>(z.size(-1) == dim_, "FSP: expected dimension of ", dim_, " but found dimension of ", z.size(-1),
                    " (z=", shape_str(z_in.shape()), ")");
  Variable Z = ag::reshape(z, {-1, dim_});
  if (has_projections_) Z = project_in_->forward(Z);

  FSPOutput out;
  VectorNormResult vn = vector_norm(Z, norm_);
  out.norm_loss = vn.loss;
  out.mean = vn.mean;
  out.variance = vn.variance;
  out.skewness = vn.skewness;
  out.kurtosis = vn.kurtosis;

  const Device dev = Z.device();
  const Tensor L = levels_f32(dev);
  Variable a = fsp_act(act_, Z);
  // bin centres with a straight-through gradient: a + sg(qa - a), literally
  const Tensor lvl = ops::floor(ops::mul(ops::clamp(a.value(), std::nullopt, 1.0 - eps), L));
  const Tensor qa_val = ops::div(ops::add(lvl, 0.5), L);
  Variable q = ag::add(a, Variable(ops::sub(qa_val, a.value())));

  const double rate = is_training() ? opts_.quantize_rate : 1.0;
  if (rate < 1.0) {
    const Tensor p_max = ops::div(Tensor::full({c_}, 1.0, DType::f32, dev), ops::mul(L, 2.0));
    const Tensor u = Tensor::rand(a.shape(), *gen_, dev);
    const Tensor pert = ops::mul(p_max, ops::sub(ops::mul(u, 2.0), 1.0));
    Variable proposal = ag::add(a, Variable(pert));
    const Tensor accept = ops::logical_and(ops::gt(proposal.value(), 0.0), ops::lt(proposal.value(), 1.0));
    out.p_accept_prob = ops::mean(accept.to(DType::f32));
    Variable pa = ag::where(accept, proposal, a);
    const Tensor p_mask = ops::gt(Tensor::rand(a.shape(), *gen_, dev), rate);
    q = ag::where(p_mask, pa, q);
  }

  Variable qz;
  if (opts_.need_inv_act) {
    const Tensor inv = fsp_inv_act(act_, ops::clamp(q.value(), eps, 1.0 - eps));
    qz = ag::add(Z, Variable(ops::sub(inv, Z.value())));  // Z + sg(inv - Z)
  } else {
    qz = ag::div(ag::sub(q, 0.5), kUniformStd);
  }

  const Tensor lvl_i = lvl.to(DType::i64);
  Shape lead(z_shape.begin(), z_shape.end() - 1);
  out.indices = level_indices_to_indices(lvl_i).reshape(lead).contiguous();
  Shape lvl_shape = lead;
  lvl_shape.push_back(c_);
  out.level_indices = lvl_i.reshape(lvl_shape).contiguous();

  if (has_projections_) qz = project_out_->forward(qz);
  Variable res = ag::reshape(qz, z_shape);
  if (opts_.channel_first) res = ag::permute(res, last_to_channel_perm(res.dim()));
  if (in_dtype != DType::f32) res = Variable(res.value().to(in_dtype));
  out.quantized = res;
  return out;
}

QuantizerOutput FSP::call(const QuantizerCall& c) {
  std::optional<double> eps;
  OptionReader r(c.kwargs, "FSP.forward");
  r.get("eps", eps);
  r.finish();
  for (const auto& kv : c.tensors) throw ConfigError("FSP: unknown input tensor '" + kv.first + "'");
  FSPOutput o = forward(c.x, eps);
  QuantizerOutput res;
  res.quantized = o.quantized;
  res.indices = o.indices;
  res.loss = o.norm_loss;
  return res;
}

Tensor FSP::indices_to_codes(const Tensor& indices, double eps) {
  NoGradGuard ng;
  check<ShapeError>(indices.defined(), "FSP.indices_to_codes: indices required");
  Device dev = has_projections_ ? project_out_->parameters()[0].device() : indices.device();
  Tensor p = indices_to_act_value(indices.to(dev));
  Tensor qz = opts_.need_inv_act ? fsp_inv_act(act_, ops::clamp(p, eps, 1.0 - eps))
                                 : ops::div(ops::sub(p, 0.5), kUniformStd);
  Variable v(qz);
  if (has_projections_) v = project_out_->forward(v);
  Tensor out = v.value();
  if (opts_.channel_first && out.dim() >= 2) out = sq::last_to_channel(out);
  return out.contiguous();
}

void register_fsp() {
  register_quantizer("FSP", [](const nlohmann::json& cfg) {
    return std::make_shared<FSP>(FSPOptions::from_json(cfg));
  });
}

}  // namespace vq
