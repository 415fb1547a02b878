// Gradient estimators of VectorQuantize checked against finite differences of the
// surrogate each one defines (the quantized code itself is held fixed).
#include <doctest/doctest.h>

#include "kernels/ops.h"
#include "kernels/ops_vq.h"
#include "quantizers/functional.h"
#include "quantizers/vector_quantize.h"
#include "tests/quantizers/vq_test_util.h"
#include "tests/support/gradcheck.h"

using namespace vq;

TEST_CASE("estimators: straight-through passes the gradient unchanged to x") {
  Tensor q = test::randn({3, 4}, 1);
  Variable x(test::randn({3, 4}, 2), true);
  Variable y = qf::straight_through(x, q);
  CHECK(test::max_abs_diff(y.value(), q) < 1e-6);
  Tensor g = test::randn({3, 4}, 3);
  y.backward(g);
  CHECK(test::max_abs_diff(x.grad(), g) == 0.0);
}

TEST_CASE("estimators: rotation trick value is q and its gradient matches the surrogate") {
  Tensor q = test::randn({5, 6}, 4);
  Tensor x0 = test::randn({5, 6}, 5);
  Variable y = qf::rotate_to(Variable(x0), q);
  CHECK(test::max_abs_diff(y.value(), q) < 1e-5);
  // Surrogate: r(x) = s R x with R, s built from the (detached) x0 and q. The fused
  // backward must equal the derivative of that linear map, i.e. of rotate_to with its
  // constants frozen at x0; check it with finite differences on a composite version.
  auto surrogate = [&](const std::vector<Variable>& v) {
    const Variable& x = v[0];
    Tensor nx = ops::clamp(ops::norm(x0, {-1}, 2.0, true), 1e-6, std::nullopt);
    Tensor nq = ops::clamp(ops::norm(q, {-1}, 2.0, true), 1e-6, std::nullopt);
    Tensor u = ops::div(x0, nx), qh = ops::div(q, nq);
    Tensor w = qf::l2norm(ops::add(u, qh), 1e-6);
    Tensor s = ops::div(ops::norm(q, {-1}, 2.0, true), nx);
    Variable xw = ag::sum(ag::mul(x, Variable(w)), {-1}, true);
    Variable xu = ag::sum(ag::mul(x, Variable(u)), {-1}, true);
    Variable r = ag::add(ag::sub(x, ag::mul(ag::mul(xw, Variable(w)), 2.0)), ag::mul(ag::mul(xu, Variable(qh)), 2.0));
    return ag::mul(r, Variable(s));
  };
  test::GradCheckOptions opt;
  opt.label = "rotation surrogate";
  test::check_gradients(surrogate, {x0}, opt);
  // And the fused node agrees with the surrogate's analytic gradient.
  Tensor g = test::randn({5, 6}, 6);
  Variable xa(x0.clone(), true), xb(x0.clone(), true);
  qf::rotate_to(xa, q).backward(g);
  surrogate({xb}).backward(g);
  CHECK(test::max_abs_diff(xa.grad(), xb.grad()) < 1e-5);
}

TEST_CASE("estimators: l2norm gradient matches finite differences") {
  auto fn = [](const std::vector<Variable>& v) { return qf::l2norm(v[0], 1e-6); };
  test::GradCheckOptions opt;
  opt.label = "l2norm";
  test::check_gradients(fn, {test::randn({4, 5}, 7)}, opt);
}

TEST_CASE("estimators: sync_update_v scales the gradient by (1 + v) and keeps the value") {
  Variable q(test::randn({2, 3}, 8), true);
  Variable y = qf::scale_gradient(q, 0.5);
  CHECK(test::max_abs_diff(y.value(), q.value()) < 1e-6);
  Tensor g = Tensor::ones({2, 3});
  y.backward(g);
  CHECK(test::max_abs_diff(q.grad(), Tensor::full({2, 3}, 1.5)) < 1e-6);
}

TEST_CASE("estimators: directional reparam without noise is differentiable like its formula") {
  // With variance 0 the direction is normalize(q - x): out = x + sg(dir) |q - x|.
  Tensor q0 = test::randn({3, 4}, 9);
  auto fn = [&](const std::vector<Variable>& v) {
    Generator g(1);
    return qf::directional_reparam(v[0], v[1], 0.0, g);
  };
  test::GradCheckOptions opt;
  opt.label = "diveq";
  opt.check_input = {true, false};  // sg(dir) changes with x; check the x path only through the norm
  // The surrogate's gradient differs from the full derivative (dir is detached), so
  // compare with an explicit surrogate built from the detached direction.
  Tensor x0 = test::randn({3, 4}, 10);
  Tensor dir = qf::l2norm(ops::sub(q0, x0), 1e-6);
  auto surrogate = [&](const std::vector<Variable>& v) {
    Variable m = ag::norm(ag::sub(v[1], v[0]), {-1}, 2.0, true);
    return ag::add(v[0], ag::mul(Variable(dir), m));
  };
  test::check_gradients(surrogate, {x0, q0}, test::GradCheckOptions{});
  Tensor g = test::randn({3, 4}, 11);
  Variable xa(x0.clone(), true), qa(q0.clone(), true), xb(x0.clone(), true), qb(q0.clone(), true);
  fn({xa, qa}).backward(g);
  surrogate({xb, qb}).backward(g);
  CHECK(test::max_abs_diff(xa.grad(), xb.grad()) < 1e-5);
  CHECK(test::max_abs_diff(qa.grad(), qb.grad()) < 1e-5);
}

TEST_CASE("estimators: VQ training gradient to x is the rotation / STE of the codes") {
  for (bool rotation : {true, false}) {
    VectorQuantizeOptions o;
    o.dim = 8;
    o.codebook_size = 16;
    o.rotation_trick = rotation;
    o.commitment_weight = 0;
    o.ema_update = false;  // keep the codes fixed so eval below sees the same ones
    VectorQuantize vq(o);
    Tensor x0 = test::randn({2, 5, 8}, 12);
    Variable x(x0.clone(), true);
    auto out = vq.forward(x);
    Tensor g = test::randn({2, 5, 8}, 13);
    out.quantized.backward(g);
    if (!rotation) {
      CHECK(test::max_abs_diff(x.grad(), g) == 0.0);
    } else {
      // Same as the fused rotation backward on (x, codes).
      vq.eval();
      Tensor q = vq.forward(Variable(x0)).quantized.value();
      Tensor expect = ops::rotation_trick_backward(g, x0, q);
      CHECK(test::max_abs_diff(x.grad(), expect) < 1e-5);
    }
  }
}
