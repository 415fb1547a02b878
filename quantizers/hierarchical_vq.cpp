// HierarchicalVQ module (see hierarchical_vq.h; SPEC.md section 16, pinned 1.32.0).
#include "quantizers/hierarchical_vq.h"

#include <algorithm>
#include <cmath>

#include "kernels/ops.h"
#include "nn/functional.h"
#include "nn/init.h"
#include "quantizers/options.h"
#include "quantizers/scalar_common.h"

namespace vq {

namespace {

// ---------------- separable resampling (channel-first x: (b, c, *spatial)) ----------------

// torch adaptive_avg_pool: output j averages [floor(j in / out), ceil((j + 1) in / out)).
Tensor pool_matrix(int64_t in, int64_t out) {
  std::vector<float> m(static_cast<size_t>(out * in), 0.f);
  for (int64_t j = 0; j < out; ++j) {
    const int64_t s = (j * in) / out, e = ((j + 1) * in + out - 1) / out;
    for (int64_t i = s; i < e; ++i) m[static_cast<size_t>(j * in + i)] = 1.f / static_cast<float>(e - s);
  }
  return Tensor::from_vector(m, {out, in});
}

// torch linear interpolation, align_corners=False (f32 source coordinates, as torch):
// src = max((dst + 0.5) * in / out - 0.5, 0), weights (1 - l, l) on floor(src) and the next.
Tensor interp_matrix(int64_t in, int64_t out) {
  std::vector<float> m(static_cast<size_t>(out * in), 0.f);
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t d = 0; d < out; ++d) {
    float src = scale * (static_cast<float>(d) + 0.5f) - 0.5f;
    if (src < 0.f) src = 0.f;
    const int64_t i0 = std::min(static_cast<int64_t>(std::floor(src)), in - 1);
    const int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
    const float l1 = std::min(std::max(src - static_cast<float>(i0), 0.f), 1.f), l0 = 1.f - l1;
    m[static_cast<size_t>(d * in + i0)] += l0;
    m[static_cast<size_t>(d * in + i1)] += l1;
  }
  return Tensor::from_vector(m, {out, in});
}

// Applies M (out, in) along axis `axis` of x.
Variable along_axis(const Variable& x, int64_t axis, const Tensor& M) {
  const int64_t r = x.dim();
  std::vector<int64_t> perm;
  for (int64_t i = 0; i < r; ++i)
    if (i != axis) perm.push_back(i);
  perm.push_back(axis);
  Variable t = ag::permute(x, perm);
  Shape s = t.shape();
  Variable y = ag::matmul(ag::reshape(t, {-1, s.back()}), Variable(M.t().contiguous().to(x.device())));
  s.back() = M.size(0);
  y = ag::reshape(y, s);
  std::vector<int64_t> inv(static_cast<size_t>(r));
  for (int64_t i = 0; i < r; ++i) inv[static_cast<size_t>(perm[static_cast<size_t>(i)])] = i;
  return ag::permute(y, inv);
}

Shape spatial_of(const Variable& x) { return Shape(x.shape().begin() + 2, x.shape().end()); }

// (b, c, *spatial) <-> (b, n, c)
Variable flatten_spatial(const Variable& x) {
  std::vector<int64_t> perm{0};
  for (int64_t i = 2; i < x.dim(); ++i) perm.push_back(i);
  perm.push_back(1);
  return ag::reshape(ag::permute(x, perm), {x.size(0), -1, x.size(1)});
}
Variable unflatten_spatial(const Variable& x, const Shape& spatial) {
  Shape s{x.size(0)};
  s.insert(s.end(), spatial.begin(), spatial.end());
  s.push_back(x.size(2));
  const int64_t r = static_cast<int64_t>(s.size());
  std::vector<int64_t> perm{0, r - 1};
  for (int64_t i = 1; i < r - 1; ++i) perm.push_back(i);
  return ag::permute(ag::reshape(x, s), perm);
}

}  // namespace

namespace hvq {

Variable resample(const Variable& x, const Shape& to, bool pool) {
  Variable y = x;
  for (size_t k = 0; k < to.size(); ++k) {
    const int64_t axis = static_cast<int64_t>(k) + 2, in = y.size(axis);
    if (in == to[k]) continue;
    y = along_axis(y, axis, pool ? pool_matrix(in, to[k]) : interp_matrix(in, to[k]));
  }
  return y;
}

Variable conv3_same(const Variable& x, const Variable& w, const Variable& b) {
  const int64_t k = x.dim() - 2;
  check<ShapeError>(k >= 1 && k <= 3 && w.dim() == k + 2, "HierarchicalVQ.conv3_same: expected x (b, c, *spatial) ",
                    "with 1 to 3 spatial axes and a weight of rank ", x.dim(), ", got x=", shape_str(x.shape()),
                    ", weight=", shape_str(w.shape()));
  if (k == 2) return nn::conv2d(x, w, b, {1, 1}, {1, 1});
  if (k == 1) return ag::squeeze(nn::conv2d(ag::unsqueeze(x, 2), ag::unsqueeze(w, 2), b, {1, 1}, {0, 1}), 2);
  // 3-D: sum over the depth taps of 2-D convolutions of the depth-padded input
  const int64_t B = x.size(0), C = x.size(1), D = x.size(2), H = x.size(3), W = x.size(4), O = w.size(0);
  Variable xp = ag::pad(x, {0, 0, 0, 0, 1, 1});
  Variable out;
  for (int64_t kd = 0; kd < 3; ++kd) {
    Variable s = ag::reshape(ag::permute(ag::narrow(xp, 2, kd, D), {0, 2, 1, 3, 4}), {B * D, C, H, W});
    Variable y = nn::conv2d(s, ag::select(w, 2, kd), Variable(), {1, 1}, {1, 1});
    out = out.defined() ? ag::add(out, y) : y;
  }
  out = ag::permute(ag::reshape(out, {B, D, O, H, W}), {0, 2, 1, 3, 4});
  return ag::add(out, ag::reshape(b, {1, O, 1, 1, 1}));
}

}  // namespace hvq

namespace {

// ---------------- phi: lerp(x, conv3(x), r) ----------------

// The reference's nn.Conv{1,2,3}d(dim, dim, 3, padding=1) (child "conv": weight, bias),
// torch's default init (uniform +-1/sqrt(dim * 3^k)); 1-D and 3-D run through conv2d.
class PhiConv : public nn::Module {
 public:
  PhiConv(int64_t c, int64_t k, Generator& gen) {
    Shape ws{c, c};
    for (int64_t i = 0; i < k; ++i) ws.push_back(3);
    const double bound = 1.0 / std::sqrt(static_cast<double>(c) * std::pow(3.0, static_cast<double>(k)));
    Tensor w = Tensor::empty(ws), b = Tensor::empty({c});
    nn::init::uniform_(w, -bound, bound, gen);
    nn::init::uniform_(b, -bound, bound, gen);
    register_parameter("weight", w);
    register_parameter("bias", b);
  }
  Variable forward(const Variable& x) { return hvq::conv3_same(x, *find_parameter("weight"), *find_parameter("bias")); }

};

class Phi : public nn::Module {
 public:
  Phi(int64_t c, int64_t k, double resi, Generator& gen) : r_(std::fabs(resi)) {
    conv_ = register_module("conv", std::make_shared<PhiConv>(c, k, gen));
  }
  Variable forward(const Variable& x) { return r_ <= 1e-8 ? x : ag::lerp(x, conv_->forward(x), r_); }

 private:
  double r_;
  std::shared_ptr<PhiConv> conv_;
};

// Python's round() (half to even) of a non-negative value.
int64_t round_half_even(double v) {
  const double f = std::floor(v), d = v - f;
  if (d > 0.5) return static_cast<int64_t>(f) + 1;
  if (d < 0.5) return static_cast<int64_t>(f);
  return static_cast<int64_t>(f) % 2 == 0 ? static_cast<int64_t>(f) : static_cast<int64_t>(f) + 1;
}

std::vector<int64_t> ints_or_list(const nlohmann::json& v, const char* key) {
  try {
    if (v.is_number_integer()) return {v.get<int64_t>()};
    return v.get<std::vector<int64_t>>();
  } catch (const std::exception&) {
    throw ConfigError(str_cat("HierarchicalVQ: option '", key, "' must be an int or a list of ints, got ", v.dump()));
  }
}

}  // namespace

// ---------------- options ----------------

HierarchicalVQOptions HierarchicalVQOptions::from_json(const nlohmann::json& j) {
  HierarchicalVQOptions o;
  OptionReader r(j, "HierarchicalVQ");
  r.get("dim", o.dim);
  r.accept("codebook_size");
  if (r.has("codebook_size")) o.codebook_size = ints_or_list(j.at("codebook_size"), "codebook_size");
  r.accept("scales");
  if (r.has("scales")) {
    check<ConfigError>(j.at("scales").is_array(), "HierarchicalVQ: option 'scales' must be a list, got ",
                       j.at("scales").dump());
    for (const auto& s : j.at("scales")) o.scales.push_back(ints_or_list(s, "scales"));
  }
  r.get("shared_codebook", o.shared_codebook);
  r.get("channel_first", o.channel_first);
  r.get("sync_codebook", o.sync_codebook);
  r.get("decay", o.decay);
  r.get("commitment_weight", o.commitment_weight);
  r.get("rotation_trick", o.rotation_trick);
  r.get("kmeans_init", o.kmeans_init);
  r.get("kmeans_iters", o.kmeans_iters);
  r.get("threshold_ema_dead_code", o.threshold_ema_dead_code);
  r.get("stochastic_sample_codes", o.stochastic_sample_codes);
  r.get("sample_codebook_temp", o.sample_codebook_temp);
  r.get("orthogonal_reg_weight", o.orthogonal_reg_weight);
  r.get("orthogonal_reg_max_codes", o.orthogonal_reg_max_codes);
  r.get("orthogonal_reg_active_codes_only", o.orthogonal_reg_active_codes_only);
  r.get("quant_resi", o.quant_resi);
  r.get("share_quant_resi", o.share_quant_resi);
  r.get("nested_dropout", o.nested_dropout);
  r.get("nested_dropout_min_levels", o.nested_dropout_min_levels);
  r.get("accept_image_fmap", o.accept_image_fmap);
  r.get("accept_3d_fmap", o.accept_3d_fmap);
  r.finish();
  return o;
}

std::vector<Shape> HierarchicalVQOptions::level_shapes() const {
  const int64_t k = spatial_dims();
  std::vector<Shape> out;
  for (const auto& s : scales) {
    check<ConfigError>(s.size() == 1 || static_cast<int64_t>(s.size()) == k, "HierarchicalVQ: scales: each entry ",
                       "must be an int or have one extent per spatial axis (", k, "), got ", s.size());
    out.push_back(s.size() == 1 ? Shape(static_cast<size_t>(k), s[0]) : Shape(s.begin(), s.end()));
  }
  return out;
}

void HierarchicalVQOptions::validate() const {
  check<ConfigError>(dim >= 1, "HierarchicalVQ: dim is required (>= 1), got ", dim);
  check<ConfigError>(!(accept_image_fmap && accept_3d_fmap),
                     "HierarchicalVQ: choose at most one of accept_image_fmap / accept_3d_fmap");
  check<ConfigError>(nested_dropout >= 0 && nested_dropout <= 1, "HierarchicalVQ: nested_dropout must be in [0, 1], got ",
                     nested_dropout);
  check<ConfigError>(nested_dropout_min_levels >= 1, "HierarchicalVQ: nested_dropout_min_levels must be >= 1, got ",
                     nested_dropout_min_levels);
  check<ConfigError>(!scales.empty(), "HierarchicalVQ: scales must be a non-empty list");
  const std::vector<Shape> ls = level_shapes();
  for (size_t i = 0; i < ls.size(); ++i)
    for (size_t a = 0; a < ls[i].size(); ++a) {
      check<ConfigError>(ls[i][a] > 0, "HierarchicalVQ: scales must be positive, got ", shape_str(ls[i]));
      if (i > 0)
        check<ConfigError>(ls[i - 1][a] <= ls[i][a], "HierarchicalVQ: scales must be non-decreasing, got ",
                           shape_str(ls[i - 1]), " then ", shape_str(ls[i]));
    }
  check<ConfigError>(codebook_size.size() == 1 || codebook_size.size() == ls.size(),
                     "HierarchicalVQ: codebook_size must be an int or one per scale (", ls.size(), "), got ",
                     codebook_size.size());
  for (int64_t k : codebook_size) check<ConfigError>(k >= 1, "HierarchicalVQ: codebook_size must be >= 1, got ", k);
  if (shared_codebook)
    for (int64_t k : codebook_size)
      check<ConfigError>(k == codebook_size[0],
                         "HierarchicalVQ: shared codebook requires uniform codebook sizes (codebook_size)");
}

// ---------------- module ----------------

HierarchicalVQ::HierarchicalVQ(HierarchicalVQOptions o, Generator& gen) : opts_(std::move(o)), gen_(&gen) {
  check<ConfigError>(!opts_.codebook_size.empty(), "HierarchicalVQ: codebook_size is required");
  opts_.validate();
  level_shapes_ = opts_.level_shapes();
  const int64_t L = num_levels();
  auto vq_json = [&](int64_t K) {
    nlohmann::json j = {{"dim", opts_.dim},
                        {"codebook_size", K},
                        {"decay", opts_.decay},
                        {"commitment_weight", opts_.commitment_weight},
                        {"rotation_trick", opts_.rotation_trick},
                        {"kmeans_init", opts_.kmeans_init},
                        {"kmeans_iters", opts_.kmeans_iters},
                        {"threshold_ema_dead_code", opts_.threshold_ema_dead_code},
                        {"stochastic_sample_codes", opts_.stochastic_sample_codes},
                        {"sample_codebook_temp", opts_.sample_codebook_temp},
                        {"orthogonal_reg_weight", opts_.orthogonal_reg_weight},
                        {"orthogonal_reg_max_codes", opts_.orthogonal_reg_max_codes},
                        {"orthogonal_reg_active_codes_only", opts_.orthogonal_reg_active_codes_only},
                        {"channel_last", true}};
    if (opts_.sync_codebook) j["sync_codebook"] = *opts_.sync_codebook;
    return std::make_shared<VectorQuantize>(VectorQuantizeOptions::from_json(j), nullptr, gen);
  };
  auto size_of = [&](int64_t l) { return opts_.codebook_size.size() == 1 ? opts_.codebook_size[0] : opts_.codebook_size[l]; };
  if (opts_.shared_codebook) {
    vqs_.push_back(register_module("vq", vq_json(size_of(0))));
  } else {
    auto list = register_module("vqs", std::make_shared<sq::ModuleList>());
    for (int64_t l = 0; l < L; ++l) vqs_.push_back(list->add(vq_json(size_of(l))));
  }
  const int64_t k = opts_.spatial_dims();
  phi_shared_ = opts_.share_quant_resi == 1;
  if (phi_shared_) {
    phis_.push_back(register_module("phi_shared", std::make_shared<Phi>(opts_.dim, k, opts_.quant_resi, gen)));
  } else {
    const int64_t n = opts_.share_quant_resi <= 0 ? L : std::min(L, opts_.share_quant_resi);
    auto list = register_module("phi_levels", std::make_shared<sq::ModuleList>());
    for (int64_t i = 0; i < n; ++i) phis_.push_back(list->add(std::make_shared<Phi>(opts_.dim, k, opts_.quant_resi, gen)));
  }
}

VectorQuantize& HierarchicalVQ::vq_for_level(int64_t level) {
  return *vqs_[opts_.shared_codebook ? 0 : static_cast<size_t>(level)];
}

int64_t HierarchicalVQ::phi_index(int64_t level) const {
  const int64_t P = static_cast<int64_t>(phis_.size());
  if (phi_shared_ || P == 1) return 0;
  const double pos = static_cast<double>(level) / static_cast<double>(std::max<int64_t>(num_levels() - 1, 1));
  return std::min(P - 1, round_half_even(pos * static_cast<double>(P - 1)));
}

Variable HierarchicalVQ::apply_phi(const Variable& x, int64_t level) {
  return std::static_pointer_cast<Phi>(phis_[static_cast<size_t>(phi_index(level))])->forward(x);
}

Variable HierarchicalVQ::upsample_to_full(const Variable& q, const Shape& full, int64_t level) {
  Variable u = spatial_of(q) == full ? q : hvq::resample(q, full, false);
  return apply_phi(u, level);
}

std::optional<int64_t> HierarchicalVQ::sample_nested_cutoff() {
  const int64_t L = num_levels();
  if (!is_training() || opts_.nested_dropout <= 0 || L <= 1) return std::nullopt;
  const int64_t lo = opts_.nested_dropout_min_levels - 1;
  if (opts_.nested_dropout_min_levels >= L) return std::nullopt;
  if (gen_->next_uniform() >= opts_.nested_dropout) return std::nullopt;
  // keep levels 0..cutoff, cutoff uniform in [min_levels - 1, L - 2]
  const int64_t span = L - 1 - lo;
  return lo + std::min<int64_t>(span - 1, static_cast<int64_t>(gen_->next_uniform() * static_cast<float>(span)));
}

HierarchicalVQOutput HierarchicalVQ::forward(const Variable& x_in, const Tensor& mask_in, const Tensor& lens,
                                             std::optional<double> sample_codebook_temp) {
  const int64_t k = opts_.spatial_dims();
  check<ConfigError>(!(mask_in.defined() && lens.defined()), "HierarchicalVQ: pass either mask or lens");
  const int64_t cax = opts_.channel_first ? 1 : x_in.dim() - 1;
  check<ShapeError>(x_in.dim() == k + 2 && x_in.size(cax) == opts_.dim, "HierarchicalVQ: expected x of shape ",
                    opts_.channel_first ? "(b, dim, *spatial)" : "(b, *spatial, dim)", " with dim=", opts_.dim,
                    " and ", k, " spatial axes, got x=", shape_str(x_in.shape()));
  Variable x = opts_.channel_first ? x_in : ag::permute(x_in, [&] {
    std::vector<int64_t> p{0, x_in.dim() - 1};
    for (int64_t i = 1; i < x_in.dim() - 1; ++i) p.push_back(i);
    return p;
  }());
  const Shape full = spatial_of(x);
  last_full_shape_ = full;
  const int64_t b = x.size(0);

  Tensor mask = mask_in;
  if (lens.defined()) {
    check<ConfigError>(k == 1, "HierarchicalVQ: lens is only supported for 1d sequences");
    check<ShapeError>(lens.dim() == 1 && lens.size(0) == b, "HierarchicalVQ: lens must be (b,) = (", b, "), got lens=",
                      shape_str(lens.shape()));
    mask = ops::lt(Tensor::arange(full[0], DType::i64, x.device()).unsqueeze(0),
                   lens.to(DType::i64).to(x.device()).unsqueeze(1));
  }
  Variable mask_f;
  if (mask.defined()) {
    Shape want{b};
    want.insert(want.end(), full.begin(), full.end());
    check<ShapeError>(mask.shape() == want, "HierarchicalVQ: mask must match the spatial shape ", shape_str(want),
                      ", got mask=", shape_str(mask.shape()));
    mask = mask.to(DType::boolean).to(x.device());
    mask_f = Variable(mask.to(DType::f32).unsqueeze(1));  // (b, 1, *full)
  }

  VectorQuantizeCall vc;
  vc.sample_codebook_temp = sample_codebook_temp;
  Variable residual = x;
  Variable recon(Tensor::zeros(x.shape(), DType::f32, x.device()));
  std::vector<Variable> cumulative, losses;
  HierarchicalVQOutput out;
  for (int64_t l = 0; l < num_levels(); ++l) {
    const Shape& ls = level_shapes_[static_cast<size_t>(l)];
    Variable down;
    vc.mask = Tensor();
    if (!mask_f.defined()) {
      down = hvq::resample(residual, ls, true);
    } else {
      const Tensor pooled_mask = hvq::resample(mask_f, ls, true).value();  // (b, 1, *ls)
      const bool coarsest = std::all_of(ls.begin(), ls.end(), [](int64_t s) { return s == 1; });
      Variable masked = ag::mul(residual, mask_f);
      if (coarsest) {
        std::vector<int64_t> axes;
        for (int64_t a = 2; a < x.dim(); ++a) axes.push_back(a);
        Variable num = ag::sum(masked, axes, true);
        Variable den = ag::clamp(ag::sum(ag::expand(mask_f, residual.shape()), axes, true), 1e-5, std::nullopt);
        down = ag::div(num, den);
      } else {
        down = ag::div(hvq::resample(masked, ls, true), Variable(ops::clamp(pooled_mask, 1e-6, std::nullopt)));
      }
      vc.mask = ops::gt(pooled_mask, 0.0).reshape({b, -1});
    }
    QuantizerOutput qo = vq_for_level(l).forward(flatten_spatial(down), vc);
    Variable q = upsample_to_full(unflatten_spatial(qo.quantized, ls), full, l);
    Shape is{b};
    is.insert(is.end(), ls.begin(), ls.end());
    out.indices.push_back(qo.indices.reshape(is).contiguous());
    recon = ag::add(recon, q);
    residual = ag::sub(residual, q);
    cumulative.push_back(recon);
    losses.push_back(qo.loss);
  }

  out.cutoff = sample_nested_cutoff();
  const int64_t kept = out.cutoff ? *out.cutoff + 1 : num_levels();
  if (out.cutoff) recon = cumulative[static_cast<size_t>(*out.cutoff)];
  // masked mean over the kept levels (all of them without a cutoff)
  Variable sum = ag::reshape(losses[0], {});
  for (int64_t l = 1; l < kept; ++l) sum = ag::add(sum, ag::reshape(losses[static_cast<size_t>(l)], {}));
  out.commit_loss = ag::div(sum, static_cast<double>(kept));
  if (mask.defined())
    recon = ag::where(mask.unsqueeze(1).expand(recon.shape()).contiguous(), recon,
                      Variable(Tensor::zeros(recon.shape(), DType::f32, recon.device())));
  if (!opts_.channel_first) {
    std::vector<int64_t> p{0};
    for (int64_t i = 2; i < recon.dim(); ++i) p.push_back(i);
    p.push_back(1);
    recon = ag::permute(recon, p);
  }
  out.reconstruction = recon;
  return out;
}

QuantizerOutput HierarchicalVQ::call(const QuantizerCall& c) {
  std::optional<double> temp;
  bool return_cutoff = false;
  OptionReader r(c.kwargs, "HierarchicalVQ.forward");
  r.get("sample_codebook_temp", temp);
  r.get("return_cutoff", return_cutoff);
  check<ConfigError>(!r.has("indices"), "HierarchicalVQ: reconstruction-from-indices path not implemented in forward");
  r.accept("indices");
  r.finish();
  Tensor mask, lens;
  for (const auto& kv : c.tensors) {
    if (kv.first == "mask") mask = kv.second;
    else if (kv.first == "lens") lens = kv.second;
    else throw ConfigError("HierarchicalVQ: unknown input tensor '" + kv.first + "'");
  }
  HierarchicalVQOutput o = forward(c.x, mask, lens, temp);
  QuantizerOutput res;
  res.quantized = o.reconstruction;
  res.loss = o.commit_loss;
  std::vector<Tensor> flat;
  for (const Tensor& t : o.indices) flat.push_back(t.reshape({t.size(0), -1}));
  res.indices = ops::cat(flat, 1);
  return res;
}

Tensor HierarchicalVQ::get_output_from_indices(const Tensor& indices) {
  check<ShapeError>(indices.defined() && indices.dim() == 2, "HierarchicalVQ.get_output_from_indices: expected ",
                    "the concatenated indices (b, sum n_i), got ", indices.defined() ? shape_str(indices.shape()) : "undefined");
  int64_t total = 0;
  for (const Shape& s : level_shapes_) total += shape_numel(s);
  check<ShapeError>(indices.size(1) == total, "HierarchicalVQ.get_output_from_indices: expected ", total,
                    " indices per sample (the levels' sizes summed), got indices=", shape_str(indices.shape()));
  std::vector<Tensor> per;
  int64_t off = 0;
  for (const Shape& s : level_shapes_) {
    Shape is{indices.size(0)};
    is.insert(is.end(), s.begin(), s.end());
    per.push_back(indices.narrow(1, off, shape_numel(s)).contiguous().reshape(is));
    off += shape_numel(s);
  }
  return get_output_from_indices(per, last_full_shape_);
}

Tensor HierarchicalVQ::get_output_from_indices(const std::vector<Tensor>& indices, std::optional<Shape> full_shape) {
  NoGradGuard ng;
  check<ShapeError>(static_cast<int64_t>(indices.size()) == num_levels(), "HierarchicalVQ.get_output_from_indices: ",
                    "expected ", num_levels(), " index tensors, got ", indices.size());
  const Shape full = full_shape.value_or(level_shapes_.back());
  check<ShapeError>(static_cast<int64_t>(full.size()) == opts_.spatial_dims(),
                    "HierarchicalVQ.get_output_from_indices: full_shape must have ", opts_.spatial_dims(), " axes");
  Variable rec;
  for (int64_t l = 0; l < num_levels(); ++l) {
    const Tensor& t = indices[static_cast<size_t>(l)];
    const Shape& ls = level_shapes_[static_cast<size_t>(l)];
    check<ShapeError>(t.dim() == opts_.spatial_dims() + 1 && Shape(t.shape().begin() + 1, t.shape().end()) == ls,
                      "HierarchicalVQ.get_output_from_indices: level ", l, " indices must be (b, ",
                      shape_str(ls), "), got ", shape_str(t.shape()));
    const Tensor flat = t.to(DType::i64).reshape({t.size(0), -1});
    const Tensor valid = ops::ne(flat, -1.0);
    Tensor q = vq_for_level(l).get_output_from_indices(
        ops::maximum(flat, Tensor::zeros(flat.shape(), DType::i64, flat.device())));  // (b, n, d)
    q = ops::where(valid.unsqueeze(-1).expand(q.shape()).contiguous(), q, Tensor::zeros(q.shape(), DType::f32, q.device()));
    Variable u = upsample_to_full(unflatten_spatial(Variable(q), ls), full, l);
    rec = rec.defined() ? ag::add(rec, u) : u;
  }
  Tensor out = rec.value();
  if (!opts_.channel_first) {
    std::vector<int64_t> p{0};
    for (int64_t i = 2; i < out.dim(); ++i) p.push_back(i);
    p.push_back(1);
    out = out.permute(p);
  }
  return out.contiguous();
}

void register_hierarchical_vq() {
  register_quantizer("HierarchicalVQ", [](const nlohmann::json& cfg) {
    return std::make_shared<HierarchicalVQ>(HierarchicalVQOptions::from_json(cfg));
  });
}

}  // namespace vq
