// LFQ module (see lfq.h; SPEC.md section 10).
#include "quantizers/lfq.h"

#include <cmath>

#include "kernels/ops.h"
#include "nn/linear.h"
#include "quantizers/functional.h"
#include "quantizers/options.h"

namespace vq {

namespace {

// The reference's CosineSimLinear: y = normalize(x) @ normalize_columns(W) * scale with
// W (dim_in, dim_out) standard normal, F.normalize's eps 1e-12. State key "weight".
class CosineSimLinear : public nn::Layer {
 public:
  CosineSimLinear(int64_t in, int64_t out, double scale, Generator& gen) : in_(in), out_(out), scale_(scale) {
    weight_ = register_parameter("weight", Tensor::randn({in, out}, gen));
  }
  Variable forward(const Variable& x) override {
    check<ShapeError>(x.dim() >= 1 && x.size(-1) == in_, "CosineSimLinear: expected last dim ", in_, ", got x=",
                      shape_str(x.shape()));
    Variable xn = qf::l2norm(x, 1e-12);
    Variable wn = ag::transpose(qf::l2norm(ag::transpose(weight_, 0, 1), 1e-12), 0, 1);
    Shape s = x.shape();
    s.back() = out_;
    return ag::reshape(ag::mul(ag::matmul(ag::reshape(xn, {-1, in_}), wn), scale_), s);
  }
  std::string repr() const override { return str_cat("CosineSimLinear(", in_, ", ", out_, ", scale=", scale_, ")"); }

 private:
  int64_t in_, out_;
  double scale_;
  Variable weight_;
};

}  // namespace

LFQOptions LFQOptions::from_json(const nlohmann::json& j) {
  LFQOptions o;
  OptionReader r(j, "LFQ");
  r.get("dim", o.dim);
  r.get("codebook_size", o.codebook_size);
  r.get("entropy_loss_weight", o.entropy_loss_weight);
  r.get("commitment_loss_weight", o.commitment_loss_weight);
  r.get("diversity_gamma", o.diversity_gamma);
  r.get("straight_through_activation", o.straight_through_activation);
  r.get("num_codebooks", o.num_codebooks);
  r.get("keep_num_codebooks_dim", o.keep_num_codebooks_dim);
  r.get("codebook_scale", o.codebook_scale);
  r.get("frac_per_sample_entropy", o.frac_per_sample_entropy);
  r.get("has_projections", o.has_projections);
  r.get("projection_has_bias", o.projection_has_bias);
  r.get("soft_clamp_input_value", o.soft_clamp_input_value);
  r.get("cosine_sim_project_in", o.cosine_sim_project_in);
  r.get("cosine_sim_project_in_scale", o.cosine_sim_project_in_scale);
  r.get("channel_first", o.channel_first);
  r.get("experimental_softplus_entropy_loss", o.experimental_softplus_entropy_loss);
  r.get("entropy_loss_offset", o.entropy_loss_offset);
  r.get("spherical", o.spherical);
  r.get("force_quantization_f32", o.force_quantization_f32);
  r.get("orthogonal_rotation", o.orthogonal_rotation);
  r.get("entropy_mode", o.entropy_mode);
  r.get("exact_tanh", o.exact_tanh);
  r.get("reference_token_mask_quirk", o.reference_token_mask_quirk);
  r.finish();
  return o;
}

int64_t LFQOptions::resolved_codebook_size() const {
  if (codebook_size) return *codebook_size;
  check<ConfigError>(dim && *dim >= 1 && *dim <= 62, "LFQ: codebook_size defaults to 2^dim, which needs 1 <= dim <= 62");
  return int64_t{1} << *dim;
}

int64_t LFQOptions::codebook_dim() const { return sq::log2_ceil(resolved_codebook_size()); }

void LFQOptions::validate() const {
  check<ConfigError>(dim.has_value() || codebook_size.has_value(),
                     "LFQ: either dim or codebook_size must be specified for LFQ");
  if (codebook_size) {
    const int64_t k = *codebook_size;
    check<ConfigError>(k >= 2 && (k & (k - 1)) == 0,
                       "LFQ: your codebook size must be a power of 2 for lookup free quantization (suggested ",
                       k >= 2 ? (int64_t{1} << sq::log2_ceil(k)) : 2, "), got codebook_size=", k);
  }
  check<ConfigError>(num_codebooks >= 1, "LFQ: num_codebooks must be >= 1, got ", num_codebooks);
  check<ConfigError>(!(num_codebooks > 1 && keep_num_codebooks_dim.has_value() && !*keep_num_codebooks_dim),
                     "LFQ: keep_num_codebooks_dim must be True when num_codebooks > 1");
  check<ConfigError>(frac_per_sample_entropy > 0 && frac_per_sample_entropy <= 1,
                     "LFQ: frac_per_sample_entropy must be in (0, 1], got ", frac_per_sample_entropy);
  check<ConfigError>(codebook_scale > 0, "LFQ: codebook_scale must be > 0, got ", codebook_scale);
  check<ConfigError>(!soft_clamp_input_value || *soft_clamp_input_value >= codebook_scale,
                     "LFQ: soft_clamp_input_value (", soft_clamp_input_value.value_or(0),
                     ") must be >= codebook_scale (", codebook_scale, ")");
  check<ConfigError>(entropy_mode == "factorized" || entropy_mode == "exact" || entropy_mode == "unclamped",
                     "LFQ: entropy_mode must be 'factorized', 'exact' or 'unclamped', got '", entropy_mode, "'");
  check<ConfigError>(!dim || *dim >= 1, "LFQ: dim must be >= 1, got ", dim.value_or(0));
  check<ConfigError>(codebook_dim() <= 62, "LFQ: at most 2^62 codes (int64 indices)");
  (void)sq::parse_activation(straight_through_activation, "LFQ");
}

LFQCall LFQCall::from_json(const nlohmann::json& kw) {
  LFQCall c;
  OptionReader r(kw, "LFQ.forward");
  bool breakdown = false;
  r.get("inv_temperature", c.inv_temperature);
  r.get("return_loss_breakdown", breakdown);  // the breakdown is always returned
  r.finish();
  return c;
}

LFQ::LFQ(LFQOptions o, std::shared_ptr<dist::Comm> comm, Generator& gen)
    : opts_(std::move(o)), comm_(comm ? comm : dist::default_comm()), gen_(&gen) {
  opts_.validate();
  K_ = opts_.resolved_codebook_size();
  c_ = sq::log2_ceil(K_);
  h_ = opts_.num_codebooks;
  dim_ = opts_.dim.value_or(c_ * h_);
  keep_ = opts_.keep_num_codebooks_dim.value_or(h_ > 1);
  has_projections_ = opts_.has_projections.value_or(dim_ != c_ * h_);
  act_ = sq::parse_activation(opts_.straight_through_activation, "LFQ");
  spec_.codebook_dim = c_;
  spec_.codebook_scale = opts_.codebook_scale;
  spec_.spherical = opts_.spherical;
  spec_.soft_clamp_input_value = opts_.soft_clamp_input_value.value_or(0.0);
  spec_.exact_tanh = opts_.exact_tanh;
  if (has_projections_) {
    std::shared_ptr<nn::Layer> in;
    if (opts_.cosine_sim_project_in)
      in = std::make_shared<CosineSimLinear>(dim_, c_ * h_,
                                             opts_.cosine_sim_project_in_scale.value_or(opts_.codebook_scale), gen);
    else
      in = std::make_shared<nn::Linear>(dim_, c_ * h_, opts_.projection_has_bias, gen);
    project_in_ = register_module("project_in", in);
    project_out_ = register_module("project_out", std::shared_ptr<nn::Layer>(std::make_shared<nn::Linear>(
                                                      c_ * h_, dim_, opts_.projection_has_bias, gen)));
  }
  if (opts_.orthogonal_rotation) rot_ = register_buffer("orthogonal_rot", sq::random_orthogonal(c_, gen), true);
  std::vector<int64_t> bits;
  for (int64_t i = c_ - 1; i >= 0; --i) bits.push_back(int64_t{1} << i);
  mask_buf_ = register_buffer("mask", Tensor::from_vector(bits, {c_}), true);
}

Variable LFQ::project_in(const Variable& x) { return has_projections_ ? project_in_->forward(x) : x; }

Variable LFQ::rotate(const Variable& x, bool inverse) const { return sq::rotate_last(x, rot_, inverse); }

Tensor LFQ::mask_rows(const Tensor& mask, int64_t b, int64_t n) const {
  if (!mask.defined()) return Tensor();
  check<ShapeError>((mask.dim() == 1 && mask.size(0) == b) || (mask.dim() == 2 && mask.size(0) == b && mask.size(1) == n),
                    "LFQ: mask must be (b,) = (", b, ",) or (b, n) = (", b, ", ", n, "), got mask=",
                    shape_str(mask.shape()));
  const std::vector<uint8_t> m = mask.to(cpu_device()).to(DType::u8).contiguous().to_vector<uint8_t>();
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < b * n; ++i)
    if (m[mask.dim() == 1 ? i / n : i]) rows.push_back(i);
  return Tensor::from_vector(rows, {static_cast<int64_t>(rows.size())});
}

QuantizerOutput LFQ::forward(const Variable& x_in, const LFQCall& call) {
  const bool move = opts_.channel_first.value_or(x_in.dim() >= 4);
  check<ShapeError>(move || x_in.dim() == 3, "LFQ: expected x of shape (b, n, dim) (or channel-first / image / ",
                    "video), got x=", shape_str(x_in.shape()));
  Variable x0 = x_in;
  const DType in_dtype = x_in.dtype();
  if (in_dtype != DType::f32) x0 = Variable(x_in.value().to(DType::f32));  // quantized in f32
  sq::SeqLayout lay;
  Variable x = sq::to_sequence(x0, move, &lay, "LFQ");
  check<ShapeError>(x.size(-1) == dim_, "LFQ: expected dimension of ", dim_, " but received ", x.size(-1),
                    " (x=", shape_str(x_in.shape()), ")");
  const int64_t b = x.size(0), n = x.size(1), W = h_ * c_;
  x = project_in(x);
  ops::LfqSpec spec = spec_;
  if (rot_ && spec.soft_clamp_input_value > 0) {  // the rotation sits between clamp and normalization
    x = sq::soft_clamp(x, {static_cast<float>(spec.soft_clamp_input_value)}, spec.exact_tanh);
    spec.soft_clamp_input_value = 0;
  }
  x = rotate(x, false);
  const bool training = is_training();
  sq::LfqQuantResult qr = sq::lfq_quantize(x, spec, h_, training, act_);

  auto zero = [&] { return Variable(Tensor::zeros({}, DType::f32, x.device())); };
  Variable ps = zero(), be = zero(), entropy_loss = zero(), commit = zero();
  if (training) {
    const Tensor rows_mask = mask_rows(call.mask, b, n);
    const bool token_mask = call.mask.defined() && call.mask.dim() == 2;
    Tensor rows = rows_mask;
    if (opts_.frac_per_sample_entropy < 1.0) {
      const int64_t T = rows.defined() ? rows.numel() : b * n;
      const int64_t keep = static_cast<int64_t>(static_cast<double>(T) * opts_.frac_per_sample_entropy);
      Tensor pick = ops::randperm(T, *gen_).narrow(0, 0, keep).contiguous();
      rows = rows.defined() ? ops::index_select(rows, 0, pick) : pick;
    }
    if (rows.defined()) rows = rows.to(x.device());
    Variable u2 = ag::reshape(qr.u, {b * n, W});
    const ops::LfqEntropyMode mode = opts_.entropy_mode == "exact"       ? ops::LfqEntropyMode::exact
                                     : opts_.entropy_mode == "unclamped" ? ops::LfqEntropyMode::unclamped
                                                                         : ops::LfqEntropyMode::factorized;
    sq::LfqEntropyResult er = sq::lfq_entropy(u2, rows, spec, h_, call.inv_temperature, mode);
    ps = er.per_sample;
    Variable avg = sq::all_reduce_mean(er.avg_probs, comm_);
    be = (token_mask && opts_.reference_token_mask_quirk) ? ps : sq::lfq_batch_entropy(avg);
    entropy_loss = ag::sub(ps, ag::mul(be, opts_.diversity_gamma));
    if (opts_.experimental_softplus_entropy_loss)
      entropy_loss = ag::softplus(ag::add(entropy_loss, opts_.entropy_loss_offset));
    if (opts_.commitment_loss_weight > 0) {
      Tensor q = ops::lfq_indices_to_codes(qr.indices, spec_).reshape({b * n, W});
      Variable diff = ag::sub(u2, Variable(q));
      if (rows_mask.defined()) diff = ag::index_select(diff, 0, rows_mask.to(x.device()));
      if (diff.numel() > 0) commit = ag::mean(ag::pow(diff, 2.0));  // all-false mask: 0 (SPEC 23.43)
    }
  }

  Variable out = rotate(qr.quantized, true);
  if (has_projections_) out = project_out_->forward(out);
  out = sq::from_sequence(out, lay);
  if (in_dtype != DType::f32) out = Variable(out.value().to(in_dtype));
  QuantizerOutput res;
  res.quantized = out;
  Tensor idx = sq::indices_from_sequence(qr.indices, lay);
  if (!keep_) idx = idx.squeeze(-1);
  res.indices = idx.contiguous();
  res.loss = ag::add(ag::mul(entropy_loss, opts_.entropy_loss_weight), ag::mul(commit, opts_.commitment_loss_weight));
  res.breakdown["per_sample_entropy"] = ps;
  res.breakdown["batch_entropy"] = be;
  res.breakdown["commitment"] = commit;
  return res;
}

QuantizerOutput LFQ::call(const QuantizerCall& c) {
  LFQCall lc = LFQCall::from_json(c.kwargs);
  for (const auto& kv : c.tensors) {
    if (kv.first == "mask") lc.mask = kv.second;
    else throw ConfigError("LFQ: unknown input tensor '" + kv.first + "'");
  }
  return forward(c.x, lc);
}

Tensor LFQ::indices_to_codes(const Tensor& indices_in, bool project_out) {
  NoGradGuard ng;
  check<ShapeError>(indices_in.defined() && indices_in.dim() >= 1, "LFQ.indices_to_codes: indices required");
  const bool img_or_video = indices_in.dim() >= 3 + (keep_ ? 1 : 0);
  const bool transpose = opts_.channel_first.value_or(img_or_video);
  Tensor idx = indices_in.to(DType::i64);
  if (!keep_) idx = idx.unsqueeze(-1);
  check<ShapeError>(idx.size(-1) == h_, "LFQ.indices_to_codes: expected ", h_, " codebook indices per token, got indices=",
                    shape_str(indices_in.shape()));
  Device dev = has_projections_ ? project_out_->parameters()[0].device() : idx.device();
  Tensor codes = ops::lfq_indices_to_codes(idx.to(dev), spec_);  // (..., h, c)
  Variable v = rotate(Variable(codes), true);
  Shape s(codes.shape().begin(), codes.shape().end() - 2);
  s.push_back(h_ * c_);
  v = ag::reshape(v, s);
  if (project_out && has_projections_) v = project_out_->forward(v);
  Tensor out = v.value();
  if (transpose) out = sq::last_to_channel(out);
  return out.contiguous();
}

void register_lfq() {
  register_quantizer("LFQ", [](const nlohmann::json& cfg) {
    return std::make_shared<LFQ>(LFQOptions::from_json(cfg));
  });
}

}  // namespace vq
