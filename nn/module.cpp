// Module bookkeeping: registration, traversal, mode, device moves, state dicts.
#include "nn/module.h"

#include <algorithm>
#include <set>

namespace vq::nn {

void Module::check_new_name(const std::string& name) const {
  VQ_CHECK(ConfigError, !name.empty() && name.find('.') == std::string::npos,
                     "Module: invalid member name '", name, "'");
  for (const auto& p : params_)
    VQ_CHECK(ConfigError, p.first != name, "Module: '", name, "' registered twice");
  for (const auto& b : buffers_)
    VQ_CHECK(ConfigError, b->name != name, "Module: '", name, "' registered twice");
  for (const auto& c : children_)
    VQ_CHECK(ConfigError, c.first != name, "Module: '", name, "' registered twice");
}

Variable Module::register_parameter(const std::string& name, Tensor value, bool requires_grad) {
  check_new_name(name);
  Variable v(std::move(value), requires_grad);
  params_.emplace_back(name, v);
  return v;
}

Tensor* Module::register_buffer(const std::string& name, Tensor value, bool persistent) {
  check_new_name(name);
  buffers_.push_back(std::unique_ptr<BufferSlot>(new BufferSlot{name, std::move(value), persistent}));
  return &buffers_.back()->value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> child) {
  check_new_name(name);
  VQ_CHECK(ConfigError, child != nullptr, "Module: child '", name, "' is null");
  children_.emplace_back(name, std::move(child));
}

std::vector<std::pair<std::string, Variable>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Variable>> all(params_.begin(), params_.end());
  for (const auto& c : children_)
    for (auto& kv : c.second->named_parameters()) all.emplace_back(c.first + "." + kv.first, kv.second);
  // A parameter shared by several children (a ResidualVQ shared codebook) is listed
  // once, under its first name, as PyTorch does, so optimizers update it once.
  std::vector<std::pair<std::string, Variable>> out;
  for (auto& kv : all) {
    bool seen = false;
    for (const auto& o : out) seen = seen || o.second.same(kv.second);
    if (!seen) out.push_back(std::move(kv));
  }
  return out;
}

std::vector<Variable> Module::parameters() const {
  std::vector<Variable> out;
  for (auto& kv : named_parameters()) out.push_back(kv.second);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& b : buffers_)
    if (b->value.defined()) out.emplace_back(b->name, b->value);
  for (const auto& c : children_)
    for (auto& kv : c.second->named_buffers()) out.emplace_back(c.first + "." + kv.first, kv.second);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const {
  return children_;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& c : children_) c.second->train(on);
  on_mode_change();
}

void Module::to(Device device) {
  for (auto& p : params_) {
    p.second.value() = p.second.value().to(device);
    p.second.set_grad(Tensor());
  }
  for (auto& b : buffers_)
    if (b->value.defined()) b->value = b->value.to(device);
  for (auto& c : children_) c.second->to(device);
}

void Module::zero_grad() {
  for (auto& p : named_parameters()) p.second.zero_grad();
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (const auto& p : params_) out[p.first] = p.second.value();
  for (const auto& b : buffers_)
    if (b->persistent && b->value.defined()) out[b->name] = b->value;
  for (const auto& c : children_)
    for (auto& kv : c.second->state_dict()) out[c.first + "." + kv.first] = kv.second;
  return out;
}

Variable* Module::find_parameter(const std::string& dotted) {
  auto dot = dotted.find('.');
  if (dot == std::string::npos) {
    for (auto& p : params_)
      if (p.first == dotted) return &p.second;
    return nullptr;
  }
  std::string head = dotted.substr(0, dot);
  for (auto& c : children_)
    if (c.first == head) return c.second->find_parameter(dotted.substr(dot + 1));
  return nullptr;
}

Tensor* Module::find_buffer(const std::string& dotted) {
  auto dot = dotted.find('.');
  if (dot == std::string::npos) {
    for (auto& b : buffers_)
      if (b->name == dotted) return &b->value;
    return nullptr;
  }
  std::string head = dotted.substr(0, dot);
  for (auto& c : children_)
    if (c.first == head) return c.second->find_buffer(dotted.substr(dot + 1));
  return nullptr;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  std::set<std::string> used;
  std::vector<std::string> missing;
  auto load_into = [&](const std::string& key, Tensor& dst, bool lazily_set) {
    auto it = state.find(key);
    if (it == state.end()) {
      if (!lazily_set) missing.push_back(key);
      return;
    }
    used.insert(key);
    if (!dst.defined()) {  // a lazily-set buffer: adopt the stored value
      dst = it->second.clone();
      return;
    }
    VQ_CHECK(ShapeError, dst.shape() == it->second.shape(), "load_state_dict: '", key,
                      "' has shape ", shape_str(it->second.shape()), " in the checkpoint but ",
                      shape_str(dst.shape()), " in the module");
    dst.copy_(it->second);
  };
  // Walk with full dotted names.
  std::vector<std::pair<std::string, Module*>> stack{{"", this}};
  while (!stack.empty()) {
    auto [prefix, m] = stack.back();
    stack.pop_back();
    for (auto& p : m->params_) load_into(prefix + p.first, p.second.value(), false);
    for (auto& b : m->buffers_)
      if (b->persistent) load_into(prefix + b->name, b->value, !b->value.defined());
    for (auto& c : m->children_) stack.emplace_back(prefix + c.first + ".", c.second.get());
  }
  if (!strict) return;
  std::vector<std::string> unexpected;
  for (const auto& kv : state)
    if (!used.count(kv.first)) unexpected.push_back(kv.first);
  if (missing.empty() && unexpected.empty()) return;
  std::string msg = "load_state_dict:";
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  if (!missing.empty()) msg += " missing keys [" + join(missing) + "]";
  if (!unexpected.empty()) msg += " unexpected keys [" + join(unexpected) + "]";
  throw ConfigError(msg);
}

}  // namespace vq::nn
