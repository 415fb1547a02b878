// Shared quantizer building blocks (see functional.h).
#include "quantizers/functional.h"

#include <cmath>

#include "autograd/node.h"
#include "kernels/ops.h"
#include "kernels/ops_vq.h"

namespace vq::qf {

Tensor l2norm(const Tensor& x, double eps) {
  Tensor n = ops::clamp(ops::norm(x, {-1}, 2.0, true), eps, std::nullopt);
  return ops::div(x, n);
}

Variable l2norm(const Variable& x, double eps) {
  Tensor n = ops::clamp(ops::norm(x.value(), {-1}, 2.0, true), eps, std::nullopt);
  Tensor y = ops::div(x.value(), n);
  // y = x / m with m = max(|x|, eps). Where |x| > eps: dy/dx = (I - y y^T) / m, so
  // dx = (g - y (y.g)) / m; where |x| <= eps, m is constant: dx = g / eps.
  return make_result("l2norm", y, {x}, {y, n}, [eps](const Tensor& g, const BackwardContext& ctx) {
    const Tensor& y = ctx.saved(0);
    const Tensor& n = ctx.saved(1);
    Tensor active = ops::gt(n, eps);  // [.., 1] bool
    Tensor yg = ops::sum(ops::mul(y, g), {-1}, true);
    Tensor proj = ops::where(active, yg, Tensor::zeros({}, DType::f32, g.device()));
    return std::vector<Tensor>{ops::div(ops::sub(g, ops::mul(y, proj)), n)};
  });
}

Variable straight_through(const Variable& x, const Tensor& q) {
  Tensor v = ops::add(x.value(), ops::sub(q, x.value()));
  return make_result("straight_through", v, {x}, {},
                     [](const Tensor& g, const BackwardContext&) { return std::vector<Tensor>{g}; });
}

Variable rotate_to(const Variable& x, const Tensor& q) {
  Tensor v = ops::rotation_trick(x.value(), q);
  return make_result("rotate_to", v, {x}, {x.value(), q}, [](const Tensor& g, const BackwardContext& ctx) {
    return std::vector<Tensor>{ops::rotation_trick_backward(g, ctx.saved(0), ctx.saved(1))};
  });
}

Variable scale_gradient(const Variable& q, double v) {
  if (v == 0.0) return q;
  return ag::add(q, ag::mul(ag::sub(q, q.detach()), v));
}

Variable directional_reparam(const Variable& x, const Variable& q, double variance, Generator& gen) {
  Variable e = ag::sub(q, x);
  Variable m = ag::norm(e, {-1}, 2.0, true);
  Tensor noise = Tensor::randn(e.shape(), gen, e.device(), 0.f, static_cast<float>(std::sqrt(variance)));
  Tensor dir = l2norm(ops::add(e.value(), noise), 1e-6);
  return ag::add(x, ag::mul(Variable(dir), m));
}

Variable similarity(const Variable& x, const Variable& codes, bool cosine) {
  Variable ct = ag::transpose(codes, -1, -2);  // [H, d, K]
  Variable ip = ag::matmul(x, ct);              // [H, N, K]
  if (cosine) return ip;
  Variable x2 = ag::sum(ag::mul(x, x), {-1}, true);                        // [H, N, 1]
  Variable c2 = ag::unsqueeze(ag::sum(ag::mul(codes, codes), {-1}), -2);  // [H, 1, K]
  Variable d2 = ag::sub(ag::add(x2, c2), ag::mul(ip, 2.0));
  return ag::neg(ag::sqrt(ag::clamp(d2, 1e-8, std::nullopt)));
}

Variable entropy(const Variable& p, double eps) {
  return ag::neg(ag::sum(ag::mul(p, ag::log(ag::clamp(p, eps, std::nullopt))), {-1}));
}

Variable cross_entropy(const Variable& logits, const Tensor& targets) {
  check<ShapeError>(logits.dim() == 2 && targets.dim() == 1 && targets.size(0) == logits.size(0),
                    "cross_entropy: logits must be [M, K] and targets [M], got logits=",
                    shape_str(logits.shape()), " targets=", shape_str(targets.shape()));
  Tensor valid = ops::ne(targets, -1.0);
  Tensor safe = ops::where(valid, targets, Tensor::zeros({}, DType::i64, targets.device()));
  Variable lp = ag::log_softmax(logits, 1);
  Variable picked = ag::squeeze(ag::gather(lp, 1, safe.unsqueeze(1)), 1);  // [M]
  Tensor w = valid.to(DType::f32);
  double count = ops::sum(w).item<float>();
  Variable total = ag::sum(ag::mul(picked, Variable(w)));
  return ag::div(ag::neg(total), std::max(count, 1.0));
}

}  // namespace vq::qf
