// BinaryMapper module (see binary_mapper.h; SPEC.md section 15).
#include "quantizers/binary_mapper.h"

#include <vector>

#include "kernels/ops.h"
#include "quantizers/options.h"
#include "quantizers/scalar_common.h"

namespace vq {

namespace {

// log(sigmoid(x)) = -softplus(-x); gradient sigmoid(-x).
Variable logsigmoid(const Variable& x) { return ag::neg(ag::softplus(ag::neg(x))); }

Shape lead_shape(const Shape& s) { return Shape(s.begin(), s.end() - 1); }

}  // namespace

BinaryMapperOptions BinaryMapperOptions::from_json(const nlohmann::json& j) {
  BinaryMapperOptions o;
  OptionReader r(j, "BinaryMapper");
  r.get("bits", o.bits);
  r.get("kl_loss_threshold", o.kl_loss_threshold);
  r.get("deterministic_on_eval", o.deterministic_on_eval);
  r.finish();
  return o;
}

void BinaryMapperOptions::validate() const {
  check<ConfigError>(bits >= 1 && bits <= 24, "BinaryMapper: bits must be in [1, 24] (the one-hot has 2^bits ",
                     "columns), got ", bits);
}

BinaryMapper::BinaryMapper(BinaryMapperOptions o, Generator& gen) : opts_(std::move(o)), gen_(&gen) {
  opts_.validate();
  const int64_t K = num_codes(), b = opts_.bits;
  std::vector<float> codes(static_cast<size_t>(K * b));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t i = 0; i < b; ++i) codes[static_cast<size_t>(k * b + i)] = ((k >> i) & 1) ? 1.f : 0.f;
  codes_ = register_buffer("codes", Tensor::from_vector(codes, {K, b}), false);
}

void BinaryMapper::check_logits(const Variable& logits, const char* what) const {
  check<ShapeError>(logits.dim() >= 1 && logits.size(-1) == opts_.bits, what, ": logits must be (..., bits) with ",
                    "a last dimension of ", opts_.bits, ", got logits=", shape_str(logits.shape()));
  check<DTypeError>(logits.dtype() == DType::f32, what, ": logits must be f32, got ", dtype_name(logits.dtype()));
}

Variable BinaryMapper::binary_entropy(const Variable& logits) const {
  Variable prob = ag::sigmoid(logits);
  Variable t = ag::add(ag::mul(prob, logsigmoid(logits)), ag::mul(ag::rsub(prob, 1.0), logsigmoid(ag::neg(logits))));
  return ag::neg(ag::sum(t, {-1}));
}

Variable BinaryMapper::calc_aux_loss(const Variable& logits, bool reduce) const {
  check_logits(logits, "BinaryMapper.calc_aux_loss");
  Variable kl = ag::rsub(binary_entropy(logits), static_cast<double>(opts_.bits) * std::log(2.0));
  Variable aux = ag::relu(ag::sub(kl, opts_.kl_loss_threshold));
  return reduce ? ag::mean(aux) : aux;
}

Variable BinaryMapper::log_prob(const Variable& logits, const Tensor& indices, bool sum_bits) const {
  check_logits(logits, "BinaryMapper.log_prob");
  check<ShapeError>(indices.defined() && indices.shape() == lead_shape(logits.shape()),
                    "BinaryMapper.log_prob: indices must have the logits' leading shape ",
                    shape_str(lead_shape(logits.shape())), ", got indices=",
                    indices.defined() ? shape_str(indices.shape()) : std::string("undefined"));
  const Tensor idx = indices.to(DType::i64).to(logits.device()).reshape({-1});
  const Tensor codes = codes_->to(logits.device());
  const Tensor bits = ops::gt(ops::index_select(codes, 0, idx), 0.5);  // (N, bits); ShapeError out of range
  Variable l = ag::reshape(logits, {-1, opts_.bits});
  Variable lp = ag::where(bits, logsigmoid(l), logsigmoid(ag::neg(l)));
  if (!sum_bits) return ag::reshape(lp, logits.shape());
  return ag::reshape(ag::sum(lp, {-1}), lead_shape(logits.shape()));
}

Variable BinaryMapper::log_prob_one_hot(const Variable& logits, const Tensor& one_hot, bool sum_bits) const {
  check<ShapeError>(one_hot.defined() && one_hot.dim() >= 1 && one_hot.size(-1) == num_codes(),
                    "BinaryMapper.log_prob: one_hot must be (..., ", num_codes(), "), got one_hot=",
                    one_hot.defined() ? shape_str(one_hot.shape()) : std::string("undefined"));
  return log_prob(logits, ops::argmax(one_hot.to(DType::f32), -1), sum_bits);
}

BinaryMapperOutput BinaryMapper::forward(const Variable& logits, const BinaryMapperCall& c) {
  check_logits(logits, "BinaryMapper");
  check<ConfigError>(c.temperature > 0, "BinaryMapper: temperature must be > 0, got ", c.temperature);
  const bool training = is_training();
  const bool deterministic = c.deterministic.value_or(opts_.deterministic_on_eval && !training);
  const bool straight_through = c.straight_through.value_or(training);
  const bool aux = c.calc_aux_loss.value_or(training);
  const Device dev = logits.device();
  const int64_t K = num_codes(), nb = opts_.bits;

  Variable l = ag::reshape(logits, {-1, nb});
  const Tensor prob = ops::sigmoid(ops::div(l.value(), c.temperature));
  const Tensor bits = deterministic ? ops::gt(prob, 0.5) : ops::lt(Tensor::rand(prob.shape(), *gen_, dev), prob);
  const Tensor idx = sq::mixed_radix_index(bits.to(DType::i64), std::vector<int64_t>(static_cast<size_t>(nb), 2));
  Variable one_hot(ops::one_hot(idx, K, DType::f32));

  BinaryMapperOutput out;
  out.aux_kl_loss = aux ? calc_aux_loss(logits, c.reduce_aux_kl_loss) : Variable(Tensor::zeros({}, DType::f32, dev));

  if (straight_through) {
    const Tensor codes = codes_->to(dev);
    Variable on(codes.t().contiguous());
    Variable off(ops::rsub(codes, 1.0).t().contiguous());
    Variable G = ag::exp(ag::add(ag::matmul(logsigmoid(l), on), ag::matmul(logsigmoid(ag::neg(l)), off)));
    one_hot = ag::sub(ag::add(one_hot, G), Variable(G.value()));  // one_hot + G - sg(G), literally
  }

  Shape lead = lead_shape(logits.shape());
  Shape oh = lead;
  oh.push_back(K);
  out.one_hot = ag::reshape(one_hot, oh);
  out.indices = idx.reshape(lead).contiguous();
  return out;
}

QuantizerOutput BinaryMapper::call(const QuantizerCall& c) {
  BinaryMapperCall bc;
  bool return_indices = false;
  OptionReader r(c.kwargs, "BinaryMapper.forward");
  r.get("temperature", bc.temperature);
  r.get("straight_through", bc.straight_through);
  r.get("calc_aux_loss", bc.calc_aux_loss);
  r.get("deterministic", bc.deterministic);
  r.get("return_indices", return_indices);
  r.get("reduce_aux_kl_loss", bc.reduce_aux_kl_loss);
  r.finish();
  for (const auto& kv : c.tensors) throw ConfigError("BinaryMapper: unknown input tensor '" + kv.first + "'");
  BinaryMapperOutput o = forward(c.x, bc);
  QuantizerOutput res;
  res.quantized = o.one_hot;
  res.indices = o.indices;
  res.loss = o.aux_kl_loss;
  return res;
}

Tensor BinaryMapper::get_output_from_indices(const Tensor& indices) {
  check<ShapeError>(indices.defined(), "BinaryMapper.get_output_from_indices: indices required");
  return ops::one_hot(indices.to(DType::i64), num_codes(), DType::f32);
}

void register_binary_mapper() {
  register_quantizer("BinaryMapper", [](const nlohmann::json& cfg) {
    return std::make_shared<BinaryMapper>(BinaryMapperOptions::from_json(cfg));
  });
}

}  // namespace vq
