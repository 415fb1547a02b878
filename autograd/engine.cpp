// The backward engine. Discovers the graph under the root with an explicit stack,
// counts for every node and leaf how many consumers will send it a gradient, then
// runs the nodes in dependency order (Kahn's algorithm): a node runs once all its
// consumers have, so shared subgraphs see their summed gradient, and a leaf's
// gradient is final (hooks fire) when its last consumer has run.
#include "autograd/engine.h"

#include <unordered_map>
#include <utility>

#include "autograd/node.h"
#include "kernels/ops.h"

namespace vq {

using autograd::detail::VariableImpl;

namespace {

// acc += g (out of place, so tensors returned by several closures never alias).
void accumulate(Tensor& acc, Tensor g) {
  if (!g.defined()) return;
  acc = acc.defined() ? ops::add(acc, g) : std::move(g);
}

// A tensor nobody else references (so hooks and optimizers may write into it).
Tensor owned(Tensor g) {
  if (g.storage().use_count() == 1 && g.is_contiguous()) return g;
  return g.clone();
}

// Adds this backward's total into a leaf's grad() and fires its hooks.
void finalize_leaf(VariableImpl& leaf, Tensor g) {
  if (!g.defined()) return;
  VQ_CHECK(AutogradError, g.shape() == leaf.value.shape(), "backward: gradient ", g.str(),
                       " does not match leaf ", leaf.value.str());
  leaf.grad = leaf.grad.defined() ? ops::add(leaf.grad, g) : owned(std::move(g));
  for (GradHook& hook : leaf.hooks) {
    hook(leaf.grad);
    VQ_CHECK(AutogradError, leaf.grad.defined() && leaf.grad.shape() == leaf.value.shape(),
                         "backward: a gradient hook changed the gradient of ", leaf.value.str(),
                         " to ", leaf.grad.defined() ? leaf.grad.str() : std::string("undefined"));
  }
}

struct Graph {
  std::vector<std::shared_ptr<Node>> nodes;  // nodes[0] is the root's node
  std::vector<int64_t> deps;                 // consumers not yet run, per node
  std::unordered_map<const Node*, size_t> node_index;
  std::vector<std::shared_ptr<VariableImpl>> leaves;
  std::vector<int64_t> leaf_deps;
  std::unordered_map<const VariableImpl*, size_t> leaf_index;
};

Graph discover(const std::shared_ptr<Node>& root) {
  Graph g;
  g.nodes.push_back(root);
  g.deps.push_back(0);
  g.node_index[root.get()] = 0;
  std::vector<size_t> stack{0};
  while (!stack.empty()) {
    size_t i = stack.back();
    stack.pop_back();
    for (const Variable& v : g.nodes[i]->inputs()) {
      if (!v.requires_grad()) continue;
      const auto& impl = v.impl();
      if (impl->grad_fn) {
        auto [it, fresh] = g.node_index.emplace(impl->grad_fn.get(), g.nodes.size());
        if (fresh) {
          g.nodes.push_back(impl->grad_fn);
          g.deps.push_back(0);
          stack.push_back(it->second);
        }
        ++g.deps[it->second];
      } else {
        auto [it, fresh] = g.leaf_index.emplace(impl.get(), g.leaves.size());
        if (fresh) {
          g.leaves.push_back(impl);
          g.leaf_deps.push_back(0);
        }
        ++g.leaf_deps[it->second];
      }
    }
  }
  return g;
}

}  // namespace

void backward(const Variable& root, const Tensor& grad_output, bool retain_graph) {
  VQ_CHECK(AutogradError, root.defined(), "backward: the Variable is undefined");
  VQ_CHECK(AutogradError, root.requires_grad(), "backward: ", root.str(),
                       " does not require grad (no input of its graph requires grad, or it was "
                       "made under NoGradGuard)");
  const Tensor& value = root.value();
  Tensor g0 = grad_output;
  if (!g0.defined()) {
    VQ_CHECK(AutogradError, value.numel() == 1,
                         "backward: grad_output can be omitted only for a one-element output, got ",
                         value.str());
    g0 = Tensor::ones(value.shape(), value.dtype(), value.device());
  } else {
    VQ_CHECK(AutogradError, g0.shape() == value.shape() && g0.dtype() == value.dtype() &&
                             g0.device() == value.device(),
                         "backward: grad_output ", g0.str(), " does not match output ", value.str());
  }
  NoGradGuard no_grad;
  if (root.is_leaf()) {
    finalize_leaf(*root.impl(), g0);
    return;
  }

  Graph graph = discover(root.grad_fn());
  // Fail before any gradient is written when the graph is freed or was modified.
  for (const auto& n : graph.nodes) n->check_ready();

  std::vector<Tensor> pending(graph.nodes.size());
  std::vector<Tensor> leaf_pending(graph.leaves.size());
  pending[0] = g0;
  std::vector<size_t> ready{0};
  while (!ready.empty()) {
    size_t i = ready.back();
    ready.pop_back();
    Node& node = *graph.nodes[i];
    Tensor g = std::move(pending[i]);
    std::vector<Tensor> grads(node.inputs().size());
    if (g.defined()) {
      if (!node.hooks().empty()) {
        g = owned(std::move(g));
        for (GradHook& hook : node.hooks()) hook(g);
      }
      grads = node.apply(g);
      // Drop this handle now: a gradient returned as a view of g (reshape, squeeze...)
      // is then the only owner of its storage, and finalize_leaf need not copy it.
      g = Tensor();
    }
    const std::vector<Variable>& inputs = node.inputs();
    for (size_t k = 0; k < inputs.size(); ++k) {
      if (!inputs[k].requires_grad()) continue;
      const auto& impl = inputs[k].impl();
      if (impl->grad_fn) {
        size_t j = graph.node_index.at(impl->grad_fn.get());
        accumulate(pending[j], std::move(grads[k]));
        if (--graph.deps[j] == 0) ready.push_back(j);
      } else {
        size_t j = graph.leaf_index.at(impl.get());
        accumulate(leaf_pending[j], std::move(grads[k]));
        if (--graph.leaf_deps[j] == 0) finalize_leaf(*impl, std::move(leaf_pending[j]));
      }
    }
    if (!retain_graph) node.release();
  }
}

}  // namespace vq
