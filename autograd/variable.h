// Variable: the autograd handle (shared impl, like flashlight's Variable). It holds
// a value Tensor, an accumulated gradient, requires_grad, hooks, and -- for the
// result of a differentiable op -- the graph Node that made it (see autograd/node.h).
// Copying a Variable shares everything; detach() makes a new leaf on the same value.
// Parameters are Variables; buffers stay plain Tensors.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "core/tensor.h"

namespace vq {

using autograd::NoGradGuard;

class Node;

// A gradient hook. It receives the gradient by reference and may modify it in place
// or replace it (same shape, dtype and device). See Variable::register_hook.
using GradHook = std::function<void(Tensor& grad)>;

namespace autograd::detail {
// Shared state behind a Variable handle. Only the autograd layer touches it.
struct VariableImpl {
  Tensor value;
  Tensor grad;                     // undefined until a backward reaches this leaf
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;   // null for leaves
  std::vector<GradHook> hooks;     // leaves only (non-leaf hooks live on the Node)
};
}  // namespace autograd::detail

class Variable {
 public:
  Variable() = default;  // undefined; defined() is false
  // A leaf on `value` (shared, not copied). Throws AutogradError when requires_grad
  // is set on a non-floating tensor (only f32 values carry gradients).
  explicit Variable(Tensor value, bool requires_grad = false);

  bool defined() const { return impl_ != nullptr; }
  // The value; throws AutogradError on an undefined Variable. Writing into it in
  // place (fill_, ops::add_, ...) bumps its version, which backward checks.
  const Tensor& value() const;
  Tensor& value();

  // ---- shorthands on the value ----
  const Shape& shape() const { return value().shape(); }
  int64_t dim() const { return value().dim(); }
  int64_t size(int64_t d) const { return value().size(d); }
  int64_t numel() const { return value().numel(); }
  DType dtype() const { return value().dtype(); }
  Device device() const { return value().device(); }
  std::string str() const;  // "Variable(f32[2, 3] cpu, requires_grad, grad_fn=mul)"

  // ---- gradient state ----
  bool requires_grad() const;
  // Only leaves may change it (AutogradError otherwise).
  Variable& set_requires_grad(bool on = true);
  bool is_leaf() const;  // no grad_fn (user-created, detached, or made under no-grad)
  // The accumulated gradient (same shape/dtype/device as value); undefined until a
  // backward reached this Variable. Non-leaves have one only after retain_grad().
  const Tensor& grad() const;
  bool has_grad() const { return grad().defined(); }
  // Replaces the gradient (shape must match the value, else ShapeError); an undefined
  // Tensor clears it.
  void set_grad(const Tensor& g);
  // Clears the gradient: set_to_none (default) drops it; otherwise fills it with zeros.
  void zero_grad(bool set_to_none = true);
  // Name of the op that produced this Variable ("" for leaves).
  std::string op_name() const;
  const std::shared_ptr<Node>& grad_fn() const;

  // Registers a hook; returns its id. On a leaf, the hook runs once per backward call
  // after that call's contributions have been summed into grad(), with grad() itself
  // (the all-reduce attach point for data parallelism). On a non-leaf it runs once per
  // backward with the total gradient flowing into the op that made this Variable,
  // before that op's backward; it may rewrite it. Throws AutogradError when the
  // Variable does not require grad.
  int register_hook(GradHook hook);
  // Makes a non-leaf keep its gradient in grad() on each backward (accumulating).
  void retain_grad();

  // A new leaf sharing the value (same storage), requires_grad false, no graph.
  Variable detach() const;

  // Backpropagates from this Variable; see vq::backward in autograd/engine.h.
  void backward(const Tensor& grad_output = Tensor(), bool retain_graph = false) const;

  // Identity of the shared state (two handles of one Variable compare equal).
  bool same(const Variable& o) const { return impl_ == o.impl_; }
  // For the engine and differentiable-function helpers.
  const std::shared_ptr<autograd::detail::VariableImpl>& impl() const { return impl_; }
  static Variable from_impl(std::shared_ptr<autograd::detail::VariableImpl> impl);

 private:
  std::shared_ptr<autograd::detail::VariableImpl> impl_;
};

}  // namespace vq
