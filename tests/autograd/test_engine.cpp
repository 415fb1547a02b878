// The autograd engine itself: shared subgraphs, accumulation, detach, no-grad,
// in-place detection, retain_graph, hooks, deep graphs, error messages, sum_to.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/functions.h"
#include "autograd/grad_utils.h"
#include "kernels/ops.h"

using namespace vq;

namespace {
Tensor vec(std::initializer_list<float> v) {
  return Tensor::from_vector(v, {static_cast<int64_t>(v.size())});
}
std::vector<float> host(const Tensor& t) { return t.contiguous().to_vector<float>(); }
Tensor ones_like(const Variable& v) { return Tensor::ones(v.shape()); }
}  // namespace

TEST_CASE("autograd: leaf and result state") {
  Variable x(vec({1, 2, 3}), true);
  CHECK(x.is_leaf());
  CHECK(x.requires_grad());
  CHECK(!x.has_grad());
  CHECK(x.op_name().empty());
  Variable c(vec({4, 5, 6}));
  CHECK(!c.requires_grad());
  Variable y = x * c;
  CHECK(!y.is_leaf());
  CHECK(y.requires_grad());
  CHECK(y.op_name() == "mul");
  CHECK(y.str() == "Variable(f32[3] cpu, requires_grad, grad_fn=mul)");
  Variable z = c * c;  // no input requires grad: nothing recorded
  CHECK(z.is_leaf());
  CHECK(!z.requires_grad());
}

TEST_CASE("autograd: x used twice sums both paths") {
  // y = x * x + x: dy/dx = 2x + 1
  Variable x(vec({1, 2, 3}), true);
  Variable y = x * x + x;
  y.backward(ones_like(y));
  CHECK(host(x.grad()) == std::vector<float>{3, 5, 7});
}

TEST_CASE("autograd: shared intermediate node runs once with the summed gradient") {
  // a = 2x; y = a * a + a = 4x^2 + 2x: dy/dx = 8x + 2
  Variable x(vec({1, -1}), true);
  Variable a = x * 2.0;
  int calls = 0;
  a.register_hook([&calls](Tensor& g) {
    ++calls;
    // total dy/da = 2a + 1 = [5, -3]
    CHECK(g.to_vector<float>() == std::vector<float>{5, -3});
  });
  Variable y = a * a + a;
  y.backward(ones_like(y));
  CHECK(calls == 1);
  CHECK(host(x.grad()) == std::vector<float>{10, -6});
}

TEST_CASE("autograd: gradients accumulate across backward calls until zero_grad") {
  Variable x(vec({1, 2}), true);
  (x * 3.0).backward(vec({1, 1}));
  CHECK(host(x.grad()) == std::vector<float>{3, 3});
  (x * x).backward(vec({1, 1}));
  CHECK(host(x.grad()) == std::vector<float>{5, 7});
  x.zero_grad(/*set_to_none=*/false);
  CHECK(host(x.grad()) == std::vector<float>{0, 0});
  x.zero_grad();
  CHECK(!x.has_grad());
  (x * 3.0).backward(vec({1, 2}));
  CHECK(host(x.grad()) == std::vector<float>{3, 6});
}

TEST_CASE("autograd: a leaf gradient never aliases another tensor") {
  // add's backward hands the same tensor to both inputs; each leaf must own its own.
  Variable a(vec({1, 2}), true), b(vec({3, 4}), true);
  Tensor go = vec({1, 1});
  (a + b).backward(go);
  CHECK(!a.grad().same_storage(b.grad()));
  CHECK(!a.grad().same_storage(go));
  Tensor ag_ = a.grad();
  ag_.fill_(7);
  CHECK(host(b.grad()) == std::vector<float>{1, 1});
  CHECK(host(go) == std::vector<float>{1, 1});
}

TEST_CASE("autograd: a view-shaped leaf gradient is kept, not copied, when nothing else holds it") {
  // a = reshape(x) is used twice, so a's gradient is a fresh sum; reshape's backward
  // hands x a view of it. Nothing else references that sum, so x.grad() is that buffer.
  Variable x(vec({1, 2, 3, 4, 5, 6}), true);
  Variable a = ag::reshape(x, {2, 3});
  const void* seen = nullptr;
  a.register_hook([&seen](Tensor& g) { seen = g.raw_data(); });
  Variable y = a * 2.0 + a * 3.0;
  y.backward(Tensor::ones({2, 3}));
  CHECK(host(x.grad()) == std::vector<float>{5, 5, 5, 5, 5, 5});
  CHECK(x.grad().shape() == Shape{6});
  CHECK(seen != nullptr);
  CHECK(x.grad().raw_data() == seen);
}

TEST_CASE("autograd: backward from a leaf and from a one-element output") {
  Variable x(vec({1, 2}), true);
  x.backward(vec({5, 6}));
  CHECK(host(x.grad()) == std::vector<float>{5, 6});
  Variable s(Tensor::full({1}, 3.0), true);
  Variable y = s * s;  // one element: grad_output defaults to 1
  y.backward();
  CHECK(host(s.grad()) == std::vector<float>{6});
}

TEST_CASE("autograd: detach stops the gradient and shares the value") {
  Variable x(vec({1, 2, 3}), true);
  Variable d = x.detach();
  CHECK(!d.requires_grad());
  CHECK(d.is_leaf());
  CHECK(d.value().same_storage(x.value()));
  // y = x * stop(x): dy/dx = stop(x) = x (not 2x)
  Variable y = x * ag::detach(x);
  y.backward(ones_like(y));
  CHECK(host(x.grad()) == std::vector<float>{1, 2, 3});
  // straight-through: forward value q, gradient of x
  Variable x2(vec({0.4f, 1.6f}), true);
  Variable q = ag::round(x2);
  Variable st = x2 + ag::detach(q - x2);
  CHECK(host(st.value()) == std::vector<float>{0, 2});
  st.backward(vec({1, 1}));
  CHECK(host(x2.grad()) == std::vector<float>{1, 1});
}

TEST_CASE("autograd: NoGradGuard records nothing and restores the mode") {
  Variable x(vec({1, 2}), true);
  {
    NoGradGuard guard;
    CHECK(!autograd::grad_enabled());
    Variable y = ag::exp(x * x);
    CHECK(!y.requires_grad());
    CHECK(y.is_leaf());
    CHECK(y.grad_fn() == nullptr);
    {
      NoGradGuard nested;
      CHECK(!autograd::grad_enabled());
    }
    CHECK(!autograd::grad_enabled());
    CHECK_THROWS_WITH_AS(y.backward(vec({1, 1})), doctest::Contains("does not require grad"),
                         AutogradError);
  }
  CHECK(autograd::grad_enabled());
  CHECK((x * x).requires_grad());
}

TEST_CASE("autograd: in-place change of a saved tensor is detected") {
  SUBCASE("saved output") {
    Variable x(vec({0, 1}), true);
    Variable y = ag::exp(x);
    y.value().fill_(1.0);  // exp saved its output
    CHECK_THROWS_WITH_AS(y.backward(vec({1, 1})),
                         doctest::Contains("exp: a tensor saved for backward was modified in place"),
                         AutogradError);
    CHECK(!x.has_grad());  // nothing written before the error
  }
  SUBCASE("saved input") {
    Variable a(vec({1, 2}), true), b(vec({3, 4}));
    Variable c = a * b;
    b.value().fill_(0.0);  // mul saved b for a's gradient
    CHECK_THROWS_WITH_AS(c.backward(vec({1, 1})),
                         doctest::Contains("mul: a tensor saved for backward was modified in place"),
                         AutogradError);
  }
  SUBCASE("a tensor that is not needed is not saved") {
    Variable a(vec({1, 2}), true), b(vec({3, 4}));
    Variable c = a * b;
    a.value().fill_(9.0);  // only b's gradient would need a, and b needs none
    c.backward(vec({1, 1}));
    CHECK(host(a.grad()) == std::vector<float>{3, 4});
  }
}

TEST_CASE("autograd: retain_graph allows a second backward, its absence is an error") {
  Variable x(vec({1, 2}), true);
  Variable y = ag::exp(x * 0.0) * x;  // = x, through saved tensors
  y.backward(vec({1, 1}), /*retain_graph=*/true);
  y.backward(vec({1, 1}));
  CHECK(host(x.grad()) == std::vector<float>{2, 2});
  CHECK(y.grad_fn()->released());
  CHECK_THROWS_WITH_AS(y.backward(vec({1, 1})),
                       doctest::Contains("mul: backward through a graph that was already freed"),
                       AutogradError);
  // A second root sharing a freed subgraph fails too.
  Variable s = x * 2.0;
  Variable r1 = s + 1.0, r2 = s + 2.0;
  r1.backward(vec({1, 1}));
  CHECK_THROWS_WITH_AS(r2.backward(vec({1, 1})), doctest::Contains("retain_graph=true"),
                       AutogradError);
}

TEST_CASE("autograd: leaf hooks fire once with the final gradient") {
  Variable x(vec({1, 2}), true);
  std::vector<std::vector<float>> seen;
  x.register_hook([&seen](Tensor& g) { seen.push_back(g.to_vector<float>()); });
  Variable y = x * x + x * 3.0 + x;  // dy/dx = 2x + 4, three paths
  y.backward(vec({1, 1}));
  REQUIRE(seen.size() == 1);
  CHECK(seen[0] == std::vector<float>{6, 8});
  // Hooks see grad() after accumulation and may rewrite it (e.g. all-reduce average).
  x.register_hook([](Tensor& g) { g = ops::mul(g, 0.5); });
  (x * 2.0).backward(vec({1, 1}));
  REQUIRE(seen.size() == 2);
  CHECK(seen[1] == std::vector<float>{8, 10});
  CHECK(host(x.grad()) == std::vector<float>{4, 5});
}

TEST_CASE("autograd: non-leaf hooks and retain_grad") {
  Variable x(vec({1, 2}), true);
  Variable h = x * 3.0;
  h.retain_grad();
  h.register_hook([](Tensor& g) { g = ops::mul(g, 10.0); });  // rewrites the flowing gradient
  Variable y = h * h;  // dy/dh = 2h = [6, 12]
  y.backward(vec({1, 1}));
  CHECK(host(h.grad()) == std::vector<float>{6, 12});
  CHECK(host(x.grad()) == std::vector<float>{180, 360});  // 10 * 2h * 3
  Variable c(vec({1}));
  CHECK_THROWS_WITH_AS(c.register_hook([](Tensor&) {}), doctest::Contains("does not require grad"),
                       AutogradError);
}

TEST_CASE("autograd: a 10000-deep chain runs backward and is freed without recursion") {
  Variable x(vec({1, 2}), true);
  Variable y = x;
  for (int i = 0; i < 10000; ++i) y = y * 1.0001 + 0.0;
  y.backward(vec({1, 1}));
  double expect = std::pow(1.0001, 10000);
  std::vector<float> g = host(x.grad());
  CHECK(g[0] == doctest::Approx(expect).epsilon(1e-3));
  CHECK(g[1] == doctest::Approx(expect).epsilon(1e-3));
  // A retained deep graph is torn down iteratively when its last handle goes.
  {
    Variable z = x;
    for (int i = 0; i < 100000; ++i) z = z + 1.0;
    z.backward(vec({1, 1}), /*retain_graph=*/true);
  }
  CHECK(host(x.grad())[0] == doctest::Approx(expect + 1).epsilon(1e-3));
}

TEST_CASE("autograd: engine error messages") {
  Variable x(Tensor::ones({2, 3}), true);
  Variable y = x * 2.0;
  CHECK_THROWS_WITH_AS(y.backward(),
                       doctest::Contains("grad_output can be omitted only for a one-element output"),
                       AutogradError);
  CHECK_THROWS_WITH_AS(y.backward(Tensor::ones({3, 2})),
                       doctest::Contains("grad_output f32[3, 2] cpu does not match output f32[2, 3] cpu"),
                       AutogradError);
  CHECK_THROWS_WITH_AS(Variable(Tensor::arange(3), true), doctest::Contains("only f32 values"),
                       AutogradError);
  CHECK_THROWS_WITH_AS(y.set_requires_grad(false), doctest::Contains("only leaves"), AutogradError);
  CHECK_THROWS_WITH_AS(x.set_grad(Tensor::ones({3})), doctest::Contains("[3]"), ShapeError);
  CHECK_THROWS_WITH_AS(Variable().value(), doctest::Contains("undefined"), AutogradError);
  // A closure returning a gradient of the wrong shape is caught and named.
  Variable bad = make_result("bad_op", Tensor::ones({2}), {x}, {},
                             [](const Tensor&, const BackwardContext&) -> std::vector<Tensor> {
                               return {Tensor::ones({5})};
                             });
  CHECK_THROWS_WITH_AS(bad.backward(vec({1, 1})),
                       doctest::Contains("bad_op: backward returned gradient f32[5] cpu for input 0 of f32[2, 3] cpu"),
                       AutogradError);
}

TEST_CASE("autograd: sum_to and unreduce") {
  using autograd::sum_to;
  Tensor g = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(sum_to(g, {2, 3}).same_storage(g));
  CHECK(host(sum_to(g, {3})) == std::vector<float>{5, 7, 9});
  CHECK(host(sum_to(g, {1, 3})) == std::vector<float>{5, 7, 9});
  CHECK(sum_to(g, {1, 3}).shape() == Shape{1, 3});
  CHECK(host(sum_to(g, {2, 1})) == std::vector<float>{6, 15});
  CHECK(host(sum_to(g, {})) == std::vector<float>{21});
  CHECK_THROWS_WITH_AS(sum_to(g, {4}), doctest::Contains("cannot reduce gradient of shape [2, 3] to shape [4]"),
                       ShapeError);
  Tensor r = autograd::unreduce(Tensor::from_vector({1, 2}, {2}), {2, 3}, {1}, false);
  CHECK(r.shape() == Shape{2, 3});
  CHECK(host(r) == std::vector<float>{1, 1, 1, 2, 2, 2});
  CHECK(autograd::reduced_count({2, 3, 4}, {0, -1}) == 8);
  CHECK(autograd::reduced_count({2, 3, 4}, {}) == 24);
}
