// Variable handle methods, Node (saved tensors with versions, checked apply,
// iterative teardown) and make_result, the recording entry point of every op.
#include "autograd/variable.h"

#include <utility>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "kernels/ops.h"

namespace vq {

using autograd::detail::VariableImpl;

namespace {

const std::shared_ptr<VariableImpl>& impl_or_throw(const std::shared_ptr<VariableImpl>& impl,
                                                   const char* what) {
  VQ_CHECK(AutogradError, impl != nullptr, "Variable::", what, ": the Variable is undefined");
  return impl;
}

// Moves into `stack` the nodes of `inputs` that nothing else keeps alive, then
// clears `inputs`. Destroying a node whose inputs were cleared this way recurses
// no further, so a chain of any length is torn down in a loop.
void steal_unique_parents(std::vector<Variable>& inputs, std::vector<std::shared_ptr<Node>>& stack) {
  for (Variable& v : inputs) {
    const auto& impl = v.impl();
    if (impl && impl.use_count() == 1 && impl->grad_fn && impl->grad_fn.use_count() == 1)
      stack.push_back(std::move(impl->grad_fn));
  }
  inputs.clear();
}

void drop_inputs(std::vector<Variable>& inputs) {
  std::vector<std::shared_ptr<Node>> stack;
  steal_unique_parents(inputs, stack);
  while (!stack.empty()) {
    std::shared_ptr<Node> n = std::move(stack.back());
    stack.pop_back();
    std::vector<Variable> parents = n->take_inputs();
    steal_unique_parents(parents, stack);  // n now dies with no inputs: no recursion
  }
}

}  // namespace

// ---------------- Variable ----------------

Variable::Variable(Tensor value, bool requires_grad) {
  VQ_CHECK(AutogradError, value.defined(), "Variable: the value tensor is undefined");
  VQ_CHECK(AutogradError, !requires_grad || value.dtype() == DType::f32,
                       "Variable: only f32 values can require grad, got ", value.str());
  impl_ = std::make_shared<VariableImpl>();
  impl_->value = std::move(value);
  impl_->requires_grad = requires_grad;
}

Variable Variable::from_impl(std::shared_ptr<VariableImpl> impl) {
  Variable v;
  v.impl_ = std::move(impl);
  return v;
}

const Tensor& Variable::value() const { return impl_or_throw(impl_, "value")->value; }
Tensor& Variable::value() { return impl_or_throw(impl_, "value")->value; }

std::string Variable::str() const {
  if (!impl_) return "Variable(undefined)";
  std::string s = "Variable(" + impl_->value.str();
  if (impl_->requires_grad) s += ", requires_grad";
  if (impl_->grad_fn) s += ", grad_fn=" + impl_->grad_fn->name();
  return s + ")";
}

bool Variable::requires_grad() const { return impl_ && impl_->requires_grad; }

Variable& Variable::set_requires_grad(bool on) {
  impl_or_throw(impl_, "set_requires_grad");
  VQ_CHECK(AutogradError, is_leaf(), "Variable::set_requires_grad: only leaves can change it; '",
                       impl_->grad_fn->name(), "' made this Variable (use detach())");
  VQ_CHECK(AutogradError, !on || impl_->value.dtype() == DType::f32,
                       "Variable::set_requires_grad: only f32 values can require grad, got ",
                       impl_->value.str());
  impl_->requires_grad = on;
  return *this;
}

bool Variable::is_leaf() const { return !impl_ || !impl_->grad_fn; }

const Tensor& Variable::grad() const { return impl_or_throw(impl_, "grad")->grad; }

void Variable::set_grad(const Tensor& g) {
  impl_or_throw(impl_, "set_grad");
  if (g.defined()) {
    VQ_CHECK(ShapeError, g.shape() == impl_->value.shape(), "Variable::set_grad: gradient shape ",
                      shape_str(g.shape()), " does not match value shape ",
                      shape_str(impl_->value.shape()));
    VQ_CHECK(DTypeError, g.dtype() == impl_->value.dtype(), "Variable::set_grad: gradient ",
                      g.str(), " does not match value ", impl_->value.str());
    VQ_CHECK(DeviceError, g.device() == impl_->value.device(), "Variable::set_grad: gradient ",
                       g.str(), " does not match value ", impl_->value.str());
  }
  impl_->grad = g;
}

void Variable::zero_grad(bool set_to_none) {
  impl_or_throw(impl_, "zero_grad");
  if (set_to_none)
    impl_->grad = Tensor();
  else if (impl_->grad.defined())
    impl_->grad.zero_();
}

std::string Variable::op_name() const {
  return impl_ && impl_->grad_fn ? impl_->grad_fn->name() : std::string();
}

const std::shared_ptr<Node>& Variable::grad_fn() const {
  return impl_or_throw(impl_, "grad_fn")->grad_fn;
}

int Variable::register_hook(GradHook hook) {
  impl_or_throw(impl_, "register_hook");
  VQ_CHECK(AutogradError, impl_->requires_grad,
                       "Variable::register_hook: the Variable does not require grad");
  if (impl_->grad_fn) {
    impl_->grad_fn->hooks().push_back(std::move(hook));
    return static_cast<int>(impl_->grad_fn->hooks().size()) - 1;
  }
  impl_->hooks.push_back(std::move(hook));
  return static_cast<int>(impl_->hooks.size()) - 1;
}

void Variable::retain_grad() {
  impl_or_throw(impl_, "retain_grad");
  if (is_leaf()) return;
  std::weak_ptr<VariableImpl> weak = impl_;
  register_hook([weak](Tensor& g) {
    auto impl = weak.lock();
    if (!impl) return;
    impl->grad = impl->grad.defined() ? ops::add(impl->grad, g) : g.clone();
  });
}

Variable Variable::detach() const {
  impl_or_throw(impl_, "detach");
  return Variable(impl_->value, false);
}

void Variable::backward(const Tensor& grad_output, bool retain_graph) const {
  vq::backward(*this, grad_output, retain_graph);
}

// ---------------- Node ----------------

Node::Node(std::string name, std::vector<Variable> inputs, std::vector<Tensor> saved, BackwardFn fn)
    : name_(std::move(name)), inputs_(std::move(inputs)), saved_(std::move(saved)), fn_(std::move(fn)) {
  saved_versions_.reserve(saved_.size());
  for (const Tensor& t : saved_) saved_versions_.push_back(t.version());
}

Node::~Node() { drop_inputs(inputs_); }

void Node::release() {
  released_ = true;
  saved_.clear();
  saved_versions_.clear();
  fn_ = nullptr;
  drop_inputs(inputs_);
}

void Node::check_ready() const {
  VQ_CHECK(AutogradError, !released_, name_,
                       ": backward through a graph that was already freed; pass "
                       "retain_graph=true to the first backward to run backward twice");
  for (size_t i = 0; i < saved_.size(); ++i)
    VQ_CHECK(AutogradError, saved_[i].version() == saved_versions_[i], name_,
                         ": a tensor saved for backward was modified in place (saved ",
                         saved_[i].str(), " at version ", saved_versions_[i], ", now version ",
                         saved_[i].version(), ")");
}

std::vector<Tensor> Node::apply(const Tensor& grad) const {
  check_ready();
  std::vector<bool> needs(inputs_.size());
  for (size_t i = 0; i < inputs_.size(); ++i) needs[i] = inputs_[i].requires_grad();
  std::vector<Tensor> grads = fn_(grad, BackwardContext(saved_, needs));
  VQ_CHECK(AutogradError, grads.size() == inputs_.size(), name_, ": backward returned ", grads.size(),
                       " gradients for ", inputs_.size(), " inputs");
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!needs[i]) {
      grads[i] = Tensor();
      continue;
    }
    if (!grads[i].defined()) continue;
    const Tensor& in = inputs_[i].value();
    VQ_CHECK(AutogradError, grads[i].shape() == in.shape() && grads[i].dtype() == in.dtype() &&
                             grads[i].device() == in.device(),
                         name_, ": backward returned gradient ", grads[i].str(), " for input ", i,
                         " of ", in.str());
  }
  return grads;
}

bool any_requires_grad(const std::vector<Variable>& inputs) {
  if (!autograd::grad_enabled()) return false;
  for (const Variable& v : inputs)
    if (v.requires_grad()) return true;
  return false;
}

Variable make_result(const char* name, Tensor value, std::vector<Variable> inputs,
                     std::vector<Tensor> saved, BackwardFn fn) {
  if (!any_requires_grad(inputs)) return Variable(std::move(value), false);
  auto impl = std::make_shared<VariableImpl>();
  impl->value = std::move(value);
  impl->requires_grad = true;
  impl->grad_fn = std::make_shared<Node>(name, std::move(inputs), std::move(saved), std::move(fn));
  return Variable::from_impl(std::move(impl));
}

}  // namespace vq
