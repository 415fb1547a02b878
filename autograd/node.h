// Node: one recorded op in the autograd graph. It keeps the op name (for messages),
// its input Variables (the parents), the tensors saved for backward with their
// version numbers, and the backward closure mapping the output gradient to one
// gradient per input. make_result() is how every differentiable function records it.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/variable.h"

namespace vq {

// What a backward closure sees besides the output gradient.
class BackwardContext {
 public:
  BackwardContext(const std::vector<Tensor>& saved, const std::vector<bool>& needs)
      : saved_(saved), needs_(needs) {}
  // Saved tensor i (in the order given to make_result).
  const Tensor& saved(size_t i) const { return saved_.at(i); }
  // Whether input i needs a gradient; a closure may return an undefined Tensor for
  // inputs that do not, to skip work.
  bool needs_grad(size_t i) const { return needs_.at(i); }

 private:
  const std::vector<Tensor>& saved_;
  const std::vector<bool>& needs_;
};

// Maps the gradient of the output (same shape as the output value) to gradients of
// the inputs: one Tensor per input, each of that input's shape, or undefined for
// "no gradient". Tensors it needs must come from ctx.saved() so that in-place
// changes are detected; capture only non-tensor parameters (dims, scalars) directly.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad, const BackwardContext& ctx)>;

class Node {
 public:
  Node(std::string name, std::vector<Variable> inputs, std::vector<Tensor> saved, BackwardFn fn);
  ~Node();  // iterative teardown: dropping a 10^5-deep graph does not recurse
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const std::string& name() const { return name_; }
  const std::vector<Variable>& inputs() const { return inputs_; }
  bool released() const { return released_; }

  // Runs the backward closure. Throws AutogradError when the graph was freed by an
  // earlier backward, when a saved tensor was modified in place since it was saved
  // ("<op>: a tensor saved for backward was modified in place"), or when the closure
  // returns a gradient whose shape/dtype/device does not match its input.
  std::vector<Tensor> apply(const Tensor& grad) const;
  // The checks of apply() that need no gradient: not freed, saved tensors unchanged.
  void check_ready() const;
  // Frees the saved tensors, the closure and the parent references.
  void release();
  // Moves the parent references out (teardown helper).
  std::vector<Variable> take_inputs() {
    std::vector<Variable> out;
    out.swap(inputs_);
    return out;
  }

  // Hooks on the output gradient (non-leaf Variable::register_hook).
  std::vector<GradHook>& hooks() { return hooks_; }

 private:
  friend class Variable;
  std::string name_;
  std::vector<Variable> inputs_;
  std::vector<Tensor> saved_;
  std::vector<uint64_t> saved_versions_;
  BackwardFn fn_;
  std::vector<GradHook> hooks_;
  bool released_ = false;
};

// The result of a differentiable op. When grad mode is on and some input requires
// grad, records a Node named `name` with the given inputs, saved tensors and
// closure, and the result requires grad; otherwise the result is a plain leaf that
// does not. Undefined Variables in `inputs` are treated as constants.
Variable make_result(const char* name, Tensor value, std::vector<Variable> inputs,
                     std::vector<Tensor> saved, BackwardFn fn);

// True when grad mode is on and any of the inputs requires grad.
bool any_requires_grad(const std::vector<Variable>& inputs);

}  // namespace vq
