// FSQ module (see fsq.h; SPEC.md section 7).
#include "quantizers/fsq.h"

#include <set>

#include "kernels/ops.h"
#include "nn/linear.h"
#include "quantizers/options.h"

namespace vq {

FSQOptions FSQOptions::from_json(const nlohmann::json& j) {
  FSQOptions o;
  OptionReader r(j, "FSQ");
  r.get("levels", o.levels);
  r.get("dim", o.dim);
  r.get("num_codebooks", o.num_codebooks);
  r.get("keep_num_codebooks_dim", o.keep_num_codebooks_dim);
  r.get("scale", o.scale);
  r.get("allowed_dtypes", o.allowed_dtypes);
  r.get("channel_first", o.channel_first);
  r.get("projection_has_bias", o.projection_has_bias);
  r.get("return_indices", o.return_indices);
  r.get("force_quantization_f32", o.force_quantization_f32);
  r.get("preserve_symmetry", o.preserve_symmetry);
  r.get("noise_dropout", o.noise_dropout);
  r.get("bound_hard_clamp", o.bound_hard_clamp);
  r.get("orthogonal_rotation", o.orthogonal_rotation);
  r.get("exact_tanh", o.exact_tanh);
  r.finish();
  return o;
}

void FSQOptions::validate() const {
  check<ConfigError>(!levels.empty(), "FSQ: levels must be a non-empty list of ints");
  for (int64_t l : levels) {
    check<ConfigError>(l >= 2, "FSQ: every level must be >= 2, got ", l);
    check<ConfigError>(l != 2 || preserve_symmetry,
                       "FSQ: turn on `preserve_symmetry` for using any levels == 2, or use a greater level");
  }
  check<ConfigError>(num_codebooks >= 1, "FSQ: num_codebooks must be >= 1, got ", num_codebooks);
  check<ConfigError>(!(num_codebooks > 1 && keep_num_codebooks_dim.has_value() && !*keep_num_codebooks_dim),
                     "FSQ: keep_num_codebooks_dim must be True when num_codebooks > 1");
  check<ConfigError>(noise_dropout >= 0.0 && noise_dropout <= 1.0, "FSQ: noise_dropout must be in [0, 1], got ",
                     noise_dropout);
  check<ConfigError>(!(noise_dropout > 0 && !preserve_symmetry), "FSQ: noise_dropout > 0 needs preserve_symmetry=True");
  check<ConfigError>(!dim || *dim >= 1, "FSQ: dim must be >= 1, got ", dim.value_or(0));
  static const std::set<std::string> known{"float16", "bfloat16", "float32", "float64", "half", "float", "double"};
  for (const auto& d : allowed_dtypes)
    check<ConfigError>(known.count(d) > 0, "FSQ: allowed_dtypes entries must be torch float dtype names ",
                       "(float16, bfloat16, float32, float64), got '", d, "'");
}

FSQ::FSQ(FSQOptions o, Generator& gen) : opts_(std::move(o)), gen_(&gen) {
  opts_.validate();
  c_ = static_cast<int64_t>(opts_.levels.size());
  h_ = opts_.num_codebooks;
  keep_ = opts_.keep_num_codebooks_dim.value_or(h_ > 1);
  dim_ = opts_.dim.value_or(c_ * h_);
  spec_.levels = opts_.levels;
  spec_.preserve_symmetry = opts_.preserve_symmetry;
  spec_.bound_hard_clamp = opts_.bound_hard_clamp;
  spec_.exact = opts_.exact_tanh;
  if (opts_.return_indices) (void)codebook_size();  // ConfigError when indices cannot be int64
  has_projections_ = dim_ != c_ * h_;
  if (has_projections_) {
    project_in_ = register_module("project_in", std::shared_ptr<nn::Layer>(std::make_shared<nn::Linear>(
                                                    dim_, c_ * h_, opts_.projection_has_bias, gen)));
    project_out_ = register_module("project_out", std::shared_ptr<nn::Layer>(std::make_shared<nn::Linear>(
                                                      c_ * h_, dim_, opts_.projection_has_bias, gen)));
  }
  if (opts_.orthogonal_rotation) rot_ = register_buffer("orthogonal_rot", sq::random_orthogonal(c_, gen), true);
}

int64_t FSQ::codebook_size() const { return ops::fsq_codebook_size(spec_); }

Variable FSQ::rotate(const Variable& z, bool inverse) const { return sq::rotate_last(z, rot_, inverse); }

sq::FsqResult FSQ::quantize_inner(const Variable& z, const ops::FsqSpec& spec) {
  ops::FsqNoiseSpec noise;
  if (is_training() && opts_.noise_dropout > 0) {
    noise.prob = opts_.noise_dropout;
    noise.seed = gen_->seed();
    noise.offset = gen_->reserve(static_cast<uint64_t>(z.numel()));
  }
  return sq::fsq_quantize(z, spec, h_, opts_.return_indices, noise);
}

QuantizerOutput FSQ::forward(const Variable& z_in) {
  const bool move = z_in.dim() >= 4 || opts_.channel_first;
  check<ShapeError>(move || z_in.dim() == 3, "FSQ: expected z of shape (b, n, dim) (or channel-first / image / ",
                    "video), got z=", shape_str(z_in.shape()));
  Variable z0 = z_in;
  const DType in_dtype = z_in.dtype();
  if (in_dtype != DType::f32) z0 = Variable(z_in.value().to(DType::f32));  // quantized in f32
  sq::SeqLayout lay;
  Variable z = sq::to_sequence(z0, move, &lay, "FSQ");
  check<ShapeError>(z.size(-1) == dim_, "FSQ: expected dimension of ", dim_, " but found dimension of ",
                    z.size(-1), " (z=", shape_str(z_in.shape()), ")");
  if (has_projections_) z = project_in_->forward(z);
  z = rotate(z, false);
  sq::FsqResult r = quantize_inner(z, spec_);
  Variable out = rotate(r.codes, true);
  if (has_projections_) out = project_out_->forward(out);
  out = sq::from_sequence(out, lay);
  if (in_dtype != DType::f32) out = Variable(out.value().to(in_dtype));
  QuantizerOutput res;
  res.quantized = out;
  if (r.indices.defined()) {
    Tensor idx = sq::indices_from_sequence(r.indices, lay);
    if (!keep_) idx = idx.squeeze(-1);
    res.indices = idx.contiguous();
  }
  return res;
}

sq::FsqResult FSQ::quantize_scaled(const Variable& r, const std::vector<float>& scale) {
  const bool fusable = !has_projections_ && !rot_ && h_ == 1 && !opts_.channel_first && r.dim() == 3;
  if (fusable) {
    ops::FsqSpec s = spec_;
    s.pre_div = scale;
    s.post_mul = scale;
    return quantize_inner(r, s);
  }
  Variable sc(Tensor::from_vector(scale, {static_cast<int64_t>(scale.size())}).to(r.device()));
  QuantizerOutput o = forward(ag::div(r, sc));
  sq::FsqResult res;
  res.codes = ag::mul(o.quantized, sc);
  res.indices = o.indices;
  return res;
}

QuantizerOutput FSQ::call(const QuantizerCall& c) {
  OptionReader r(c.kwargs, "FSQ.forward");
  r.finish();
  for (const auto& kv : c.tensors) throw ConfigError("FSQ: unknown input tensor '" + kv.first + "'");
  return forward(c.x);
}

Tensor FSQ::indices_to_codes(const Tensor& indices_in) {
  NoGradGuard ng;
  check<ShapeError>(indices_in.defined() && indices_in.dim() >= 1, "FSQ.indices_to_codes: indices required");
  const bool img_or_video = indices_in.dim() >= 3 + (keep_ ? 1 : 0);
  Tensor idx = indices_in.to(DType::i64);
  if (keep_)
    check<ShapeError>(idx.size(-1) == h_, "FSQ.indices_to_codes: last dim must be num_codebooks=", h_,
                      ", got indices=", shape_str(idx.shape()));
  Device dev = has_projections_ ? project_out_->parameters()[0].device() : idx.device();
  Tensor codes = ops::fsq_indices_to_codes(idx.to(dev), spec_);  // (..., [h,] c)
  Variable v(codes);
  v = rotate(v, true);
  if (keep_) {
    Shape s(codes.shape().begin(), codes.shape().end() - 2);
    s.push_back(h_ * c_);
    v = ag::reshape(v, s);
  }
  if (has_projections_) v = project_out_->forward(v);
  Tensor out = v.value();
  if (img_or_video || opts_.channel_first) out = sq::last_to_channel(out);
  return out.contiguous();
}

Tensor FSQ::codes_to_indices(const Tensor& codes) {
  check<ShapeError>(codes.dim() >= 1 && codes.size(-1) == c_, "FSQ.codes_to_indices: last dim must be len(levels)=",
                    c_, ", got codes=", shape_str(codes.shape()));
  return ops::fsq_codes_to_indices(codes.to(DType::f32), spec_);
}

Tensor FSQ::indices_to_level_indices(const Tensor& indices) {
  return ops::fsq_indices_to_level_indices(indices.to(DType::i64), spec_);
}

Tensor FSQ::implicit_codebook() {
  const int64_t K = codebook_size();
  check<ConfigError>(K <= (int64_t{1} << 24), "FSQ.implicit_codebook: ", K,
                     " codes are too many to materialize; use indices_to_codes on the indices you need");
  return ops::fsq_indices_to_codes(Tensor::arange(K), spec_);
}

void register_fsq() {
  register_quantizer("FSQ", [](const nlohmann::json& cfg) {
    return std::make_shared<FSQ>(FSQOptions::from_json(cfg));
  });
}

}  // namespace vq
