// GroupedResidualVQ: feature split, shared dropout seed, stacking (see
// grouped_residual_vq.h, SPEC.md 5).
#include "quantizers/grouped_residual_vq.h"

#include "autograd/functions.h"
#include "kernels/ops.h"
#include "quantizers/options.h"
#include "quantizers/residual_vq_list.h"

namespace vq {

GroupedResidualVQOptions GroupedResidualVQOptions::from_json(const nlohmann::json& j) {
  GroupedResidualVQOptions o;
  check<ConfigError>(j.is_object(), "GroupedResidualVQ: config must be a JSON object, got ", j.dump());
  nlohmann::json rest = j;
  if (rest.contains("groups")) {
    check<ConfigError>(rest.at("groups").is_number_integer(),
                       "GroupedResidualVQ: option 'groups' has the wrong type: ", rest.at("groups").dump());
    o.groups = rest.at("groups").get<int64_t>();
    rest.erase("groups");
  }
  try {
    o.rvq = ResidualVQOptions::from_json(rest);
  } catch (const ConfigError& e) {
    throw ConfigError(std::string("GroupedResidualVQ: ") + e.what());
  }
  return o;
}

GroupedResidualVQ::GroupedResidualVQ(GroupedResidualVQOptions o, std::shared_ptr<dist::Comm> comm, Generator& gen)
    : opts_(std::move(o)), comm_(comm ? std::move(comm) : dist::default_comm()), gen_(&gen) {
  const int64_t g = opts_.groups, D = opts_.rvq.dim;
  check<ConfigError>(g >= 1, "GroupedResidualVQ: groups must be >= 1, got ", g);
  check<ConfigError>(D > 0 && D % g == 0, "GroupedResidualVQ: dim (", D, ") must be divisible by groups (", g, ")");
  ResidualVQOptions per = opts_.rvq;
  per.dim = D / g;
  auto list = register_module("rvqs", std::make_shared<NumberedModules>());
  for (int64_t i = 0; i < g; ++i) rvqs_.push_back(list->add(std::make_shared<ResidualVQ>(per, comm_, gen)));
}

int64_t GroupedResidualVQ::split_dim(int64_t rank) const {
  const auto& r = opts_.rvq;
  const bool feature_first = r.accept_image_fmap || r.accept_3d_fmap || (!r.channel_last && rank == 3);
  return feature_first ? 1 : rank - 1;
}

QuantizerOutput GroupedResidualVQ::forward(const Variable& x, const ResidualVQCall& c) {
  const int64_t g = groups(), D = opts_.rvq.dim;
  check<ShapeError>(x.dim() >= 2, "GroupedResidualVQ: x must have rank >= 2, got x=", shape_str(x.shape()));
  const int64_t ax = split_dim(x.dim());
  check<ShapeError>(x.size(ax) == D, "GroupedResidualVQ: x must have dim=", D, " features on axis ", ax,
                    ", got x=", shape_str(x.shape()));
  std::vector<Variable> chunks = ag::chunk(x, g, ax);

  ResidualVQCall gc = c;
  const int64_t q = rvqs_[0]->num_quantizers();
  if (is_training() && !c.indices.defined() && opts_.rvq.quantize_dropout.active(q) &&
      !c.rand_quantize_dropout_fixed_seed)
    gc.rand_quantize_dropout_fixed_seed = draw_quantize_dropout_seed(*gen_, *comm_);
  if (c.indices.defined())
    check<ShapeError>(c.indices.dim() >= 1 && c.indices.size(0) == g, "GroupedResidualVQ: indices must have a leading ",
                      "group axis of size ", g, ", got indices=", shape_str(c.indices.shape()));

  std::vector<Variable> outs, losses, codes;
  std::vector<Tensor> idx;
  for (int64_t i = 0; i < g; ++i) {
    if (c.indices.defined()) gc.indices = c.indices.select(0, i);
    QuantizerOutput o = rvqs_[static_cast<size_t>(i)]->forward(chunks[static_cast<size_t>(i)], gc);
    outs.push_back(o.quantized);
    losses.push_back(o.loss);
    if (o.indices.defined()) idx.push_back(o.indices);
    if (o.all_codes.defined()) codes.push_back(o.all_codes);
  }
  QuantizerOutput res;
  res.quantized = ag::cat(outs, ax);
  if (c.indices.defined()) {
    Variable total = losses[0];
    for (size_t i = 1; i < losses.size(); ++i) total = ag::add(total, losses[i]);
    res.loss = total;
    res.indices = c.indices;
    return res;
  }
  res.loss = ag::stack(losses, 0);
  res.indices = ops::stack(idx, 0);
  if (!codes.empty()) res.all_codes = ag::stack(codes, 0);
  return res;
}

QuantizerOutput GroupedResidualVQ::call(const QuantizerCall& c) {
  ResidualVQCall rc;
  try {
    rc = ResidualVQCall::from_json(c.kwargs);
  } catch (const ConfigError& e) {
    throw ConfigError(std::string("GroupedResidualVQ: ") + e.what());
  }
  for (const auto& kv : c.tensors) {
    if (kv.first == "mask")
      rc.mask = kv.second;
    else if (kv.first == "indices")
      rc.indices = kv.second;
    else
      throw ConfigError("GroupedResidualVQ: unknown input tensor '" + kv.first + "'");
  }
  return forward(c.x, rc);
}

Tensor GroupedResidualVQ::get_codes_from_indices(const Tensor& indices) {
  check<ShapeError>(indices.dim() >= 3 && indices.size(0) == groups(),
                    "GroupedResidualVQ: indices must be (groups=", groups(), ", b, ..., q), got ",
                    shape_str(indices.shape()));
  std::vector<Tensor> per;
  for (int64_t i = 0; i < groups(); ++i)
    per.push_back(rvqs_[static_cast<size_t>(i)]->get_codes_from_indices(indices.select(0, i)));
  return ops::stack(per, 0);
}

Tensor GroupedResidualVQ::get_output_from_indices(const Tensor& indices) {
  check<ShapeError>(indices.dim() >= 3 && indices.size(0) == groups(),
                    "GroupedResidualVQ: indices must be (groups=", groups(), ", b, ..., q), got ",
                    shape_str(indices.shape()));
  std::vector<Tensor> per;
  for (int64_t i = 0; i < groups(); ++i)
    per.push_back(rvqs_[static_cast<size_t>(i)]->get_output_from_indices(indices.select(0, i)));
  return ops::cat(per, split_dim(per[0].dim()));
}

Tensor GroupedResidualVQ::codebooks() {
  std::vector<Tensor> per;
  for (auto& r : rvqs_) per.push_back(r->codebooks());
  return ops::stack(per, 0);
}

void register_grouped_residual_vq() {
  register_quantizer("GroupedResidualVQ", [](const nlohmann::json& cfg) {
    return std::make_shared<GroupedResidualVQ>(GroupedResidualVQOptions::from_json(cfg));
  });
}

}  // namespace vq
