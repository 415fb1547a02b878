// Gradients of the elementwise functions (binary, scalar forms, operators, unary,
// activations): a hand-computed case each where the derivative is simple, and a
// finite-difference check of every function on small random inputs.
#include <doctest/doctest.h>

#include <cmath>

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
// Gradient of sum(f(x)) at x (grad_output of ones).
std::vector<float> grad_of(Variable (*f)(const Variable&), std::initializer_list<float> xs) {
  Variable x(Tensor::from_vector(xs, {static_cast<int64_t>(xs.size())}), true);
  Variable y = f(x);
  y.backward(Tensor::ones(y.shape()));
  return host(x.grad());
}
}  // namespace

TEST_CASE("autograd: binary gradients, hand-computed") {
  Variable a(Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}), true);
  Variable b(Tensor::from_vector({2, 4, 8}, {3}), true);
  Variable y = a * b;  // broadcast over rows: db = column sums of a
  y.backward(Tensor::ones({2, 3}));
  CHECK(host(a.grad()) == std::vector<float>{2, 4, 8, 2, 4, 8});
  CHECK(host(b.grad()) == std::vector<float>{5, 7, 9});
  a.zero_grad();
  b.zero_grad();
  Variable q = a / b;  // dq/db = -a / b^2 summed over rows
  q.backward(Tensor::ones({2, 3}));
  CHECK(host(a.grad()) == std::vector<float>{0.5f, 0.25f, 0.125f, 0.5f, 0.25f, 0.125f});
  CHECK(host(b.grad()) == std::vector<float>{-5.f / 4, -7.f / 16, -9.f / 64});
  // maximum/minimum split ties evenly.
  Variable m1(Tensor::from_vector({1, 2, 5}, {3}), true), m2(Tensor::from_vector({1, 3, 4}, {3}), true);
  ag::maximum(m1, m2).backward(Tensor::ones({3}));
  CHECK(host(m1.grad()) == std::vector<float>{0.5f, 0, 1});
  CHECK(host(m2.grad()) == std::vector<float>{0.5f, 1, 0});
}

TEST_CASE("autograd: binary gradient checks with broadcasting") {
  Generator gen(11);
  Tensor a = Tensor::randn({2, 3}, gen), b = Tensor::randn({3}, gen);
  Tensor col = Tensor::randn({2, 1}, gen), row = Tensor::randn({1, 3}, gen);
  Tensor bnz = test::rand_signed({3}, gen, 0.5f, 1.5f);
  check_gradients([](const Vars& v) { return ag::add(v[0], v[1]); }, {a, b}, named("add"));
  check_gradients([](const Vars& v) { return ag::add(v[0], v[1]); }, {col, row}, named("add col+row"));
  check_gradients([](const Vars& v) { return ag::sub(v[0], v[1]); }, {b, a}, named("sub"));
  check_gradients([](const Vars& v) { return ag::mul(v[0], v[1]); }, {col, row}, named("mul"));
  check_gradients([](const Vars& v) { return ag::mul(v[0], v[1]); }, {a, a}, named("mul same shape"));
  check_gradients([](const Vars& v) { return ag::div(v[0], v[1]); }, {a, bnz}, named("div"));
  Tensor base = Tensor::rand({2, 3}, gen, Device(), 0.5f, 1.5f);
  Tensor ex = Tensor::rand({3}, gen, Device(), -2.f, 2.f);
  check_gradients([](const Vars& v) { return ag::pow(v[0], v[1]); }, {base, ex}, named("pow"));
  Tensor far = ops::add(a, test::rand_signed({2, 3}, gen, 0.1f, 0.5f));  // |a - far| >= 0.1
  check_gradients([](const Vars& v) { return ag::maximum(v[0], v[1]); }, {a, far}, named("maximum"));
  check_gradients([](const Vars& v) { return ag::minimum(v[0], v[1]); }, {a, far}, named("minimum"));
  Tensor w = Tensor::rand({3}, gen);
  check_gradients([](const Vars& v) { return ag::lerp(v[0], v[1], 0.3); }, {a, b}, named("lerp scalar"));
  check_gradients([](const Vars& v) { return ag::lerp(v[0], v[1], v[2]); }, {a, b, w}, named("lerp tensor"));
  Tensor cond = Tensor::from_vector(std::vector<uint8_t>{1, 0, 1}, {3}, DType::boolean);
  check_gradients([cond](const Vars& v) { return ag::where(cond, v[0], v[1]); }, {a, col},
                  named("where"));
}

TEST_CASE("autograd: scalar forms and operators") {
  Generator gen(12);
  Tensor a = test::rand_signed({2, 3}, gen, 0.5f, 1.5f);
  check_gradients([](const Vars& v) { return v[0] + 2.0; }, {a}, named("add scalar"));
  check_gradients([](const Vars& v) { return 2.0 - v[0]; }, {a}, named("rsub"));
  check_gradients([](const Vars& v) { return v[0] - 2.0; }, {a}, named("sub scalar"));
  check_gradients([](const Vars& v) { return 3.0 * v[0]; }, {a}, named("mul scalar"));
  check_gradients([](const Vars& v) { return v[0] / 4.0; }, {a}, named("div scalar"));
  check_gradients([](const Vars& v) { return 2.0 / v[0]; }, {a}, named("rdiv"));
  check_gradients([](const Vars& v) { return -v[0]; }, {a}, named("unary minus"));
  Tensor pos = Tensor::rand({2, 3}, gen, Device(), 0.5f, 1.5f);
  for (double e : {0.0, 1.0, 2.0, 3.0, 0.5, -1.5})
    check_gradients([e](const Vars& v) { return ag::pow(v[0], e); }, {pos},
                    named("pow e=" + std::to_string(e)));
  // operators compose: f = (a * b - a / b) * 0.5 + b
  Tensor b = test::rand_signed({2, 3}, gen, 0.5f, 1.5f);
  check_gradients([](const Vars& v) { return (v[0] * v[1] - v[0] / v[1]) * 0.5 + v[1]; }, {a, b},
                  named("operators"));
}

TEST_CASE("autograd: unary gradients, hand-computed") {
  CHECK(grad_of(ag::neg, {1, -2}) == std::vector<float>{-1, -1});
  CHECK(grad_of(ag::abs, {-2, 0, 3}) == std::vector<float>{-1, 0, 1});
  CHECK(grad_of(ag::relu, {-1, 0, 2}) == std::vector<float>{0, 0, 1});
  CHECK(grad_of(ag::log, {2, 4}) == std::vector<float>{0.5f, 0.25f});
  CHECK(grad_of(ag::sqrt, {4, 16}) == std::vector<float>{0.25f, 0.125f});
  CHECK(grad_of(ag::exp, {0}) == std::vector<float>{1});
  CHECK(grad_of(ag::tanh, {0}) == std::vector<float>{1});
  CHECK(grad_of(ag::sigmoid, {0}) == std::vector<float>{0.25f});
  CHECK(grad_of(ag::silu, {0}) == std::vector<float>{0.5f});
  CHECK(grad_of([](const Variable& x) { return ag::gelu(x); }, {0})[0] == doctest::Approx(0.5));
  CHECK(grad_of([](const Variable& x) { return ag::gelu(x, true); }, {0})[0] == doctest::Approx(0.5));
  CHECK(grad_of([](const Variable& x) { return ag::softplus(x); }, {0, 30})[0] == doctest::Approx(0.5));
  CHECK(grad_of([](const Variable& x) { return ag::softplus(x); }, {0, 30})[1] == 1.f);
  CHECK(grad_of([](const Variable& x) { return ag::clamp(x, -1.0, 1.0); }, {-2, -1, 0, 1, 2}) ==
        std::vector<float>{0, 1, 1, 1, 0});
  CHECK(grad_of([](const Variable& x) { return ag::clamp(x, std::nullopt, 1.0); }, {-2, 2}) ==
        std::vector<float>{1, 0});
  // Piecewise constant functions pass a zero gradient (documented), not none.
  CHECK(grad_of(ag::sign, {-2, 3}) == std::vector<float>{0, 0});
  CHECK(grad_of(ag::round, {0.4f, 2.5f}) == std::vector<float>{0, 0});
  CHECK(grad_of(ag::floor, {0.4f, -2.5f}) == std::vector<float>{0, 0});
}

TEST_CASE("autograd: unary gradient checks") {
  Generator gen(13);
  Tensor x = Tensor::randn({2, 4}, gen);
  Tensor nz = test::rand_signed({2, 4}, gen, 0.2f, 1.5f);
  Tensor pos = Tensor::rand({2, 4}, gen, Device(), 0.3f, 2.f);
  // away from the jumps of round (k + 1/2) and floor (integers)
  Tensor steps = Tensor::from_vector({0.2f, 0.7f, 1.2f, 1.8f, -0.3f, -1.7f, 2.2f, 3.1f}, {2, 4});
  struct Case {
    const char* name;
    Variable (*fn)(const Variable&);
    const Tensor* input;
  };
  const Case cases[] = {{"neg", ag::neg, &x},         {"abs", ag::abs, &nz},
                        {"exp", ag::exp, &x},         {"log", ag::log, &pos},
                        {"sqrt", ag::sqrt, &pos},     {"rsqrt", ag::rsqrt, &pos},
                        {"tanh", ag::tanh, &x},       {"sigmoid", ag::sigmoid, &x},
                        {"relu", ag::relu, &nz},      {"silu", ag::silu, &x},
                        {"sign", ag::sign, &nz},      {"round", ag::round, &steps},
                        {"floor", ag::floor, &steps}};
  for (const Case& c : cases) {
    auto fn = c.fn;
    check_gradients([fn](const Vars& v) { return fn(v[0]); }, {*c.input}, named(c.name));
  }
  Tensor wide = Tensor::randn({2, 4}, gen, Device(), 0.f, 2.f);
  check_gradients([](const Vars& v) { return ag::gelu(v[0]); }, {wide}, named("gelu erf"));
  check_gradients([](const Vars& v) { return ag::gelu(v[0], true); }, {wide}, named("gelu tanh"));
  check_gradients([](const Vars& v) { return ag::softplus(v[0]); }, {wide}, named("softplus"));
  check_gradients([](const Vars& v) { return ag::softplus(v[0], 2.0, 5.0); },
                  {Tensor::from_vector({-1.f, 0.3f, 1.f, 4.f, 6.f}, {5})}, named("softplus beta=2 threshold=5"));
  Tensor cl = Tensor::from_vector({-1.2f, -0.7f, -0.3f, 0.1f, 0.4f, 0.9f}, {6});
  check_gradients([](const Vars& v) { return ag::clamp(v[0], -0.5, 0.5); }, {cl}, named("clamp"));
  check_gradients([](const Vars& v) { return ag::clamp(v[0], std::nullopt, 0.0); }, {cl}, named("clamp hi"));
}

TEST_CASE("autograd: elementwise errors name the op and shapes") {
  Variable a(Tensor::ones({2, 3}), true), b(Tensor::ones({4}), true);
  CHECK_THROWS_WITH_AS(ag::add(a, b), doctest::Contains("[2, 3]"), ShapeError);
  CHECK_THROWS_WITH_AS(a * b, doctest::Contains("mul"), ShapeError);
  CHECK_THROWS_WITH_AS(ag::maximum(a, b), doctest::Contains("[4]"), ShapeError);
  Variable i(Tensor::arange(3));
  CHECK_THROWS_AS(ag::exp(i), DTypeError);
}
