// Gradients of reductions, softmax family and matrix products: hand-computed cases
// and finite-difference checks over several dims and keepdim settings.
#include <doctest/doctest.h>

#include "autograd/functions.h"
#include "kernels/ops.h"
#include "tests/support/gradcheck.h"

using namespace vq;
using test::check_gradients;
using test::GradCheckOptions;

namespace {
using Vars = std::vector<Variable>;
GradCheckOptions named(const std::string& label, double atol = 1e-3, double rtol = 1e-2) {
  GradCheckOptions o;
  o.label = label;
  o.atol = atol;
  o.rtol = rtol;
  return o;
}
std::vector<float> host(const Tensor& t) { return t.contiguous().to_vector<float>(); }
std::string dims_str(const std::vector<int64_t>& d) { return shape_str(d); }
}  // namespace

TEST_CASE("autograd: reduction gradients, hand-computed") {
  Variable x(Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}), true);
  ag::sum(x, {1}).backward(Tensor::from_vector({1, 2}, {2}));
  CHECK(host(x.grad()) == std::vector<float>{1, 1, 1, 2, 2, 2});
  x.zero_grad();
  ag::mean(x).backward();
  for (float g : host(x.grad())) CHECK(g == doctest::Approx(1.0 / 6));
  x.zero_grad();
  // biased var over dim 1 of [1, 2, 3]: d/dx_i = 2 (x_i - 2) / 3
  ag::var(x, {1}, /*unbiased=*/false).backward(Tensor::from_vector({1, 0}, {2}));
  std::vector<float> gv = host(x.grad());
  CHECK(gv[0] == doctest::Approx(-2.0 / 3));
  CHECK(gv[1] == doctest::Approx(0.0));
  CHECK(gv[2] == doctest::Approx(2.0 / 3));
  CHECK(gv[3] == 0.f);
  // max along dim 1 sends the gradient to the argmax only
  Variable m(Tensor::from_vector({3, 1, 2, 0, 5, 4}, {2, 3}), true);
  auto [vals, idx] = ag::max(m, 1);
  CHECK(idx.to_vector<int64_t>() == std::vector<int64_t>{0, 1});
  vals.backward(Tensor::from_vector({10, 20}, {2}));
  CHECK(host(m.grad()) == std::vector<float>{10, 0, 0, 0, 20, 0});
  // amax splits the gradient among ties
  Variable t(Tensor::from_vector({1, 3, 3}, {3}), true);
  ag::amax(t).backward();
  CHECK(host(t.grad()) == std::vector<float>{0, 0.5f, 0.5f});
  // norm 2 of [3, 4] = 5: gradient x / 5
  Variable n(Tensor::from_vector({3, 4}, {2}), true);
  ag::norm(n).backward();
  CHECK(host(n.grad())[0] == doctest::Approx(0.6));
  CHECK(host(n.grad())[1] == doctest::Approx(0.8));
  // softmax of equal logits: the gradient of y_0 is p (e_0 - p) = [1/4, -1/4]
  Variable s(Tensor::zeros({2}), true);
  ag::softmax(s, 0).backward(Tensor::from_vector({1, 0}, {2}));
  CHECK(host(s.grad())[0] == doctest::Approx(0.25));
  CHECK(host(s.grad())[1] == doctest::Approx(-0.25));
}

TEST_CASE("autograd: sum/mean/var/norm gradient checks") {
  Generator gen(21);
  Tensor x = Tensor::randn({2, 3, 4}, gen);
  const std::vector<std::vector<int64_t>> dim_sets = {{}, {0}, {1}, {-1}, {0, 2}};
  for (const auto& dims : dim_sets) {
    for (bool keep : {false, true}) {
      std::string tag = " dims=" + dims_str(dims) + (keep ? " keepdim" : "");
      check_gradients([&](const Vars& v) { return ag::sum(v[0], dims, keep); }, {x}, named("sum" + tag));
      check_gradients([&](const Vars& v) { return ag::mean(v[0], dims, keep); }, {x}, named("mean" + tag));
      for (bool unbiased : {false, true})
        check_gradients([&](const Vars& v) { return ag::var(v[0], dims, unbiased, keep); }, {x},
                        named("var" + tag + (unbiased ? " unbiased" : "")));
      check_gradients([&](const Vars& v) { return ag::norm(v[0], dims, 2.0, keep); }, {x},
                      named("norm p=2" + tag));
    }
  }
  Tensor nz = test::rand_signed({3, 4}, gen, 0.2f, 1.f);
  check_gradients([](const Vars& v) { return ag::norm(v[0], {1}, 1.0); }, {nz}, named("norm p=1"));
  // the norm of a zero row has gradient 0 (not NaN)
  Variable z(Tensor::zeros({2, 2}), true);
  ag::norm(z, {1}).backward(Tensor::ones({2}));
  CHECK(host(z.grad()) == std::vector<float>{0, 0, 0, 0});
}

TEST_CASE("autograd: max/min/amax/amin gradient checks") {
  Generator gen(22);
  Tensor x = test::rand_distinct({3, 4}, gen);
  for (int64_t d : {0, 1, -1})
    for (bool keep : {false, true}) {
      std::string tag = " dim=" + std::to_string(d) + (keep ? " keepdim" : "");
      check_gradients([=](const Vars& v) { return ag::max(v[0], d, keep).first; }, {x}, named("max" + tag));
      check_gradients([=](const Vars& v) { return ag::min(v[0], d, keep).first; }, {x}, named("min" + tag));
    }
  check_gradients([](const Vars& v) { return ag::amax(v[0]); }, {x}, named("amax"));
  check_gradients([](const Vars& v) { return ag::amin(v[0]); }, {x}, named("amin"));
}

TEST_CASE("autograd: logsumexp/softmax/log_softmax gradient checks") {
  Generator gen(23);
  Tensor x = Tensor::randn({2, 3, 4}, gen, Device(), 0.f, 2.f);
  for (int64_t d : {0, 1, 2, -1}) {
    std::string tag = " dim=" + std::to_string(d);
    check_gradients([=](const Vars& v) { return ag::logsumexp(v[0], d); }, {x}, named("logsumexp" + tag));
    check_gradients([=](const Vars& v) { return ag::logsumexp(v[0], d, true); }, {x},
                    named("logsumexp keepdim" + tag));
    check_gradients([=](const Vars& v) { return ag::softmax(v[0], d); }, {x}, named("softmax" + tag));
    check_gradients([=](const Vars& v) { return ag::log_softmax(v[0], d); }, {x},
                    named("log_softmax" + tag));
  }
}

TEST_CASE("autograd: matmul and bmm gradients") {
  Generator gen(24);
  // hand case: C = A B with A = [[1, 2]], B = [[3], [4]]: dA = G B^T, dB = A^T G
  Variable a(Tensor::from_vector({1, 2}, {1, 2}), true), b(Tensor::from_vector({3, 4}, {2, 1}), true);
  ag::matmul(a, b).backward(Tensor::full({1, 1}, 2.0));
  CHECK(host(a.grad()) == std::vector<float>{6, 8});
  CHECK(host(b.grad()) == std::vector<float>{2, 4});

  Tensor m23 = Tensor::randn({2, 3}, gen), m34 = Tensor::randn({3, 4}, gen);
  Tensor b23 = Tensor::randn({2, 2, 3}, gen), b34 = Tensor::randn({2, 3, 4}, gen);
  auto mm = [](const Vars& v) { return ag::matmul(v[0], v[1]); };
  check_gradients(mm, {m23, m34}, named("matmul 2d"));
  check_gradients(mm, {b23, m34}, named("matmul 3d x 2d"));
  check_gradients(mm, {m23, b34}, named("matmul 2d x 3d"));
  check_gradients(mm, {b23, b34}, named("matmul 3d x 3d"));
  Tensor t32 = Tensor::randn({2, 3, 2}, gen), t43 = Tensor::randn({2, 4, 3}, gen);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const Tensor& lhs = ta ? t32 : b23;  // op(lhs) = [2, 2, 3]
      const Tensor& rhs = tb ? t43 : b34;  // op(rhs) = [2, 3, 4]
      check_gradients([=](const Vars& v) { return ag::bmm(v[0], v[1], ta, tb); }, {lhs, rhs},
                      named(std::string("bmm") + (ta ? " trans_a" : "") + (tb ? " trans_b" : "")));
    }
}

TEST_CASE("autograd: reduction and matmul errors name the op and shapes") {
  Variable x(Tensor::ones({2, 3}), true);
  CHECK_THROWS_WITH_AS(ag::sum(x, {2}), doctest::Contains("dim 2"), ShapeError);
  CHECK_THROWS_WITH_AS(ag::softmax(x, 3), doctest::Contains("softmax"), ShapeError);
  Variable w(Tensor::ones({4, 5}), true);
  CHECK_THROWS_WITH_AS(ag::matmul(x, w), doctest::Contains("[2, 3]"), ShapeError);
  CHECK_THROWS_WITH_AS(ag::matmul(x, w), doctest::Contains("[4, 5]"), ShapeError);
}
