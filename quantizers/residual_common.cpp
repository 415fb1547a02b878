// Pieces shared by ResidualFSQ / ResidualLFQ and their grouped forms (see residual_common.h).
#include "quantizers/residual_common.h"

#include "autograd/functions.h"
#include "nn/linear.h"
#include "quantizers/options.h"

namespace vq::sq {

void split_keys(const nlohmann::json& j, const std::set<std::string>& known, nlohmann::json& mine,
                nlohmann::json& rest, const char* module) {
  check<ConfigError>(j.is_object() || j.is_null(), module, ": config must be a JSON object, got ", j.dump());
  mine = nlohmann::json::object();
  rest = nlohmann::json::object();
  if (!j.is_object()) return;
  for (auto it = j.begin(); it != j.end(); ++it) (known.count(it.key()) ? mine : rest)[it.key()] = it.value();
}

std::shared_ptr<nn::Layer> linear_with_bias(int64_t in, int64_t out, Generator& gen) {
  return std::make_shared<nn::Linear>(in, out, true, gen);
}

void read_residual_call(const nlohmann::json& kw, const char* module, bool& return_all_codes,
                        std::optional<uint64_t>& rand_quantize_dropout_fixed_seed) {
  OptionReader r(kw, std::string(module) + ".forward");
  r.get("return_all_codes", return_all_codes);
  r.get("rand_quantize_dropout_fixed_seed", rand_quantize_dropout_fixed_seed);
  r.finish();
}

Tensor mask_input(const std::map<std::string, Tensor>& tensors, bool mask_allowed, const char* module) {
  Tensor mask;
  for (const auto& kv : tensors) {
    if (mask_allowed && kv.first == "mask") mask = kv.second;
    else throw ConfigError(std::string(module) + ": unknown input tensor '" + kv.first + "'");
  }
  return mask;
}

int64_t last_active_layer(const QuantizeDropout& dropout, int64_t q, bool training,
                          const std::optional<uint64_t>& fixed_seed, Generator& gen, dist::Comm& comm) {
  if (!(training && dropout.active(q) && autograd::grad_enabled())) return q - 1;  // SPEC 4.4
  const uint64_t seed = fixed_seed ? *fixed_seed : static_cast<uint64_t>(draw_quantize_dropout_seed(gen, comm));
  return dropout.last_layer(seed, q);
}

ResidualPass run_residual_layers(const Variable& x, int64_t q, int64_t last, bool with_losses,
                                 const std::function<LayerStep(int64_t, const Variable&)>& step) {
  const int64_t b = x.size(0), n = x.size(1);
  ResidualPass p;
  Variable residual = x;
  for (int64_t l = 0; l < q; ++l) {
    if (l > last) {
      p.indices.push_back(Tensor::full({b, n}, -1.0, DType::i64, x.device()));
      if (with_losses) p.losses.push_back(Variable(Tensor::zeros({}, DType::f32, x.device())));
      continue;
    }
    LayerStep s = step(l, residual);
    residual = ag::sub(residual, s.codes.detach());
    p.out = p.out.defined() ? ag::add(p.out, s.codes) : s.codes;
    p.indices.push_back(s.indices.reshape({b, n}));
    if (with_losses) p.losses.push_back(s.loss);
  }
  return p;
}

Tensor pad_dropped_layers(const Tensor& idx, int64_t q, bool quantize_dropout, const char* module) {
  const int64_t have = idx.size(-1);
  if (have >= q) return idx;
  check<ConfigError>(quantize_dropout, module, ": quantize dropout must be enabled to reconstruct from fewer quantizers");
  return ops::pad(idx, {0, q - have}, -1.0);
}

Tensor sum_over_layers(const Tensor& codes) {
  Tensor sum = codes.select(0, 0);
  for (int64_t l = 1; l < codes.size(0); ++l) sum = ops::add(sum, codes.select(0, l));
  return sum.contiguous();
}

void read_grouped_keys(const nlohmann::json& j, const char* module, int64_t& dim, int64_t& groups,
                       bool& accept_image_fmap, nlohmann::json& residual_kwargs) {
  nlohmann::json mine;
  split_keys(j, {"dim", "groups", "accept_image_fmap"}, mine, residual_kwargs, module);
  OptionReader r(mine, module);
  r.get("dim", dim);
  r.get("groups", groups);
  r.get("accept_image_fmap", accept_image_fmap);
  r.finish();
}

nlohmann::json group_member_config(int64_t dim, int64_t groups, const nlohmann::json& residual_kwargs,
                                   const char* module) {
  check<ConfigError>(groups >= 1 && dim >= 1 && dim % groups == 0, module, ": dim (", dim,
                     ") must be divisible by groups (", groups, ")");
  check<ConfigError>(!residual_kwargs.contains("dim"), module, ": got multiple values for 'dim'");
  nlohmann::json cfg = residual_kwargs;
  cfg["dim"] = dim / groups;
  return cfg;
}

std::optional<uint64_t> grouped_dropout_seed(bool training, Generator& gen, dist::Comm& comm) {
  if (!training) return std::nullopt;
  return static_cast<uint64_t>(draw_quantize_dropout_seed(gen, comm));
}

bool read_grouped_call(const nlohmann::json& kw, const char* module) {
  OptionReader r(kw, std::string(module) + ".forward");
  bool all = false;
  r.get("return_all_codes", all);
  r.finish();
  return all;
}

void check_group_indices(const Tensor& indices, int64_t groups, int64_t min_rank, const char* module) {
  check<ShapeError>(indices.dim() >= min_rank && indices.size(0) == groups, module, ": indices must be (groups=",
                    groups, ", ...), got ", shape_str(indices.shape()));
}

void GroupOutputs::add(const QuantizerOutput& o, const Tensor& idx) {
  quantized.push_back(o.quantized);
  indices.push_back(idx);
  if (o.loss.defined()) losses.push_back(o.loss);
  if (o.all_codes.defined()) codes.push_back(o.all_codes);
}

QuantizerOutput GroupOutputs::stacked(const Variable& q) const {
  QuantizerOutput res;
  res.quantized = q;
  res.indices = ops::stack(indices, 0);
  if (!losses.empty()) res.loss = ag::stack(losses, 0);
  if (!codes.empty()) res.all_codes = ag::stack(codes, 0);
  return res;
}

}  // namespace vq::sq
