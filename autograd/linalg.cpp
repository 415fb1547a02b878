// matmul and bmm (see linalg.h).
#include "autograd/linalg.h"

#include "autograd/grad_utils.h"
#include "autograd/node.h"
#include "kernels/ops.h"

namespace vq::ag {

using autograd::sum_to;
using Grads = std::vector<Tensor>;

namespace {
Tensor keep_if(bool cond, const Tensor& t) { return cond ? t : Tensor(); }
Tensor mt(const Tensor& t) { return t.transpose(-2, -1); }  // matrix transpose (a view)
}  // namespace

// C = A B: dA = G B^T, dB = A^T G (each summed over broadcast batch dims)
Variable matmul(const Variable& a, const Variable& b) {
  Shape sa = a.shape(), sb = b.shape();
  return make_result(
      "matmul", ops::matmul(a.value(), b.value()), {a, b},
      {keep_if(b.requires_grad(), a.value()), keep_if(a.requires_grad(), b.value())},
      [sa, sb](const Tensor& g, const BackwardContext& c) -> Grads {
        Tensor ga = c.needs_grad(0) ? sum_to(ops::matmul(g, mt(c.saved(1))), sa) : Tensor();
        Tensor gb = c.needs_grad(1) ? sum_to(ops::matmul(mt(c.saved(0)), g), sb) : Tensor();
        return {ga, gb};
      });
}

// C = A B with A = op(a), B = op(b): dA = G B^T, dB = A^T G; then
//   da = dA (or dA^T = B G^T when trans_a), db = dB (or dB^T = G^T A when trans_b)
Variable bmm(const Variable& a, const Variable& b, bool trans_a, bool trans_b) {
  return make_result(
      "bmm", ops::bmm(a.value(), b.value(), trans_a, trans_b), {a, b},
      {keep_if(b.requires_grad(), a.value()), keep_if(a.requires_grad(), b.value())},
      [trans_a, trans_b](const Tensor& g, const BackwardContext& c) -> Grads {
        const Tensor &av = c.saved(0), &bv = c.saved(1);
        Tensor ga, gb;
        if (c.needs_grad(0))
          ga = trans_a ? ops::bmm(bv, g, trans_b, true) : ops::bmm(g, bv, false, !trans_b);
        if (c.needs_grad(1))
          gb = trans_b ? ops::bmm(g, av, true, trans_a) : ops::bmm(av, g, !trans_a, false);
        return {ga, gb};
      });
}

}  // namespace vq::ag
