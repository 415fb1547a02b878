// Optimizer base (see optimizer.h): parameter validation, the step loop, zero_grad and
// the state dictionary.
#include "optim/optimizer.h"

#include <set>

namespace vq::optim {

Optimizer::Optimizer(std::vector<Variable> params, double lr, const char* name)
    : params_(std::move(params)), lr_(lr), name_(name) {
  VQ_CHECK(ConfigError, !params_.empty(), name_, ": got an empty parameter list");
  VQ_CHECK(ConfigError, lr >= 0.0, name_, ": invalid learning rate lr=", lr, " (must be >= 0)");
  std::set<const void*> seen;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Variable& p = params_[i];
    VQ_CHECK(ConfigError, p.defined() && p.requires_grad(), name_, ": parameter ", i,
                       " is undefined or does not require grad");
    VQ_CHECK(DTypeError, p.dtype() == DType::f32, name_, ": parameter ", i, " must be f32, got ",
                      p.value().str());
    VQ_CHECK(ConfigError, seen.insert(p.impl().get()).second, name_, ": parameter ", i,
                       " appears more than once in the parameter list");
  }
}

void Optimizer::set_lr(double lr) {
  VQ_CHECK(ConfigError, lr >= 0.0, name_, ": invalid learning rate lr=", lr, " (must be >= 0)");
  lr_ = lr;
}

void Optimizer::step() {
  for (size_t i = 0; i < params_.size(); ++i) {
    Variable& p = params_[i];
    if (!p.has_grad()) continue;
    Tensor& v = p.value();
    VQ_CHECK(ShapeError, v.is_contiguous(), name_, ": parameter ", i,
                      " must be contiguous for the in-place update, got ", v.str());
    Tensor g = p.grad().contiguous();
    VQ_CHECK(DeviceError, g.device() == v.device(), name_, ": gradient ", g.str(),
                       " of parameter ", i, " is not on the parameter's device ", v.str());
    update(i, v, g);
    v.bump_version();
  }
}

void Optimizer::zero_grad(bool set_to_none) {
  for (auto& p : params_) p.zero_grad(set_to_none);
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
  std::map<std::string, Tensor> out;
  for (size_t i = 0; i < params_.size(); ++i)
    for (auto& kv : state_of(i))
      if (kv.second->defined()) out[std::to_string(i) + "." + kv.first] = *kv.second;
  return out;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
  std::set<std::string> used;
  for (size_t i = 0; i < params_.size(); ++i) {
    for (auto& kv : state_of(i)) {
      const std::string key = std::to_string(i) + "." + kv.first;
      auto it = state.find(key);
      if (it == state.end()) {
        *kv.second = Tensor();
        continue;
      }
      used.insert(key);
      const Tensor& src = it->second;
      Tensor& dst = *kv.second;
      if (dst.defined()) {
        VQ_CHECK(ShapeError, dst.shape() == src.shape(), name_, ".load_state_dict: '", key,
                          "' has shape ", shape_str(src.shape()), " but the optimizer expects ",
                          shape_str(dst.shape()));
        dst.copy_(src);
      } else {
        VQ_CHECK(ShapeError, src.dtype() == DType::i64 || src.shape() == params_[i].shape(), name_,
                          ".load_state_dict: '", key, "' has shape ", shape_str(src.shape()),
                          " but parameter ", i, " is ", shape_str(params_[i].shape()));
        // Step counters stay on the host; moments live on the parameter's device.
        dst = src.dtype() == DType::i64 ? src.clone() : src.to(params_[i].device()).clone();
      }
    }
  }
  for (const auto& kv : state)
    VQ_CHECK(ConfigError, used.count(kv.first) != 0, name_, ".load_state_dict: unexpected key '",
                       kv.first, "'");
}

}  // namespace vq::optim
