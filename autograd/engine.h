// The backward engine: reverse-mode differentiation over the graph of Nodes that
// differentiable functions recorded. Iterative (no recursion), so graphs thousands
// of nodes deep are fine.
#pragma once
#include "autograd/variable.h"

namespace vq {

// Backpropagates from `root`.
//  grad_output: d(objective)/d(root), same shape, dtype and device as root.value();
//    may be left undefined only when root has exactly one element (then it is 1).
//  retain_graph: keep the saved tensors so a second backward through this graph
//    works; otherwise every node reached is freed.
// Gradients of shared subgraphs are summed. Each leaf that requires grad gets this
// call's total added into grad() (set when it had none), then its hooks run once
// with grad(). Non-leaf hooks run once with the total gradient of their Variable.
// Runs with grad mode off (backward does not record a graph).
// Throws AutogradError when root does not require grad, when grad_output is missing
// for a non-scalar root or has the wrong shape, when the graph was freed by an
// earlier backward, or when a tensor saved for backward was modified in place.
void backward(const Variable& root, const Tensor& grad_output = Tensor(), bool retain_graph = false);

}  // namespace vq
