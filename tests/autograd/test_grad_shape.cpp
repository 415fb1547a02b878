// Gradients of the shape functions: views (reshape, permute, narrow, select, expand,
// ...), contiguous, detach, cat, stack, split, chunk and pad.
#include <doctest/doctest.h>

#include "autograd/functions.h"
#include "kernels/ops.h"
#include "tests/support/gradcheck.h"

using namespace vq;
using test::check_gradients;
using test::GradCheckOptions;

namespace {
using Vars = std::vector<Variable>;
GradCheckOptions named(const std::string& label) {
  GradCheckOptions o;
  o.label = label;
  return o;
}
std::vector<float> host(const Tensor& t) { return t.contiguous().to_vector<float>(); }
// The gradcheck scalar weights every output element differently, so a function that
// returns a rearranged copy of its input is fully checked.
void check_one(const char* name, const Tensor& x, std::function<Variable(const Variable&)> f) {
  check_gradients([&](const Vars& v) { return f(v[0]); }, {x}, named(name));
}
}  // namespace

TEST_CASE("autograd: view gradients, hand-computed") {
  Variable x(Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}), true);
  Variable n = ag::narrow(x, 1, 1, 2);
  CHECK(n.value().same_storage(x.value()));  // a view
  n.backward(Tensor::from_vector({1, 2, 3, 4}, {2, 2}));
  CHECK(host(x.grad()) == std::vector<float>{0, 1, 2, 0, 3, 4});
  x.zero_grad();
  ag::transpose(x, 0, 1).backward(Tensor::from_vector({1, 2, 3, 4, 5, 6}, {3, 2}));
  CHECK(host(x.grad()) == std::vector<float>{1, 3, 5, 2, 4, 6});
  x.zero_grad();
  Variable r(Tensor::from_vector({1, 2}, {2, 1}), true);
  ag::expand(r, {2, 3}).backward(Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}));
  CHECK(host(r.grad()) == std::vector<float>{6, 15});
  ag::select(x, 0, 1).backward(Tensor::from_vector({7, 8, 9}, {3}));
  CHECK(host(x.grad()) == std::vector<float>{0, 0, 0, 7, 8, 9});
}

TEST_CASE("autograd: view gradient checks") {
  Generator gen(41);
  Tensor x = Tensor::randn({2, 3, 4}, gen);
  check_one("reshape", x, [](const Variable& v) { return ag::reshape(v, {4, -1}); });
  check_one("view", x, [](const Variable& v) { return ag::view(v, {6, 4}); });
  check_one("flatten", x, [](const Variable& v) { return ag::flatten(v, 1); });
  check_one("permute", x, [](const Variable& v) { return ag::permute(v, {2, 0, 1}); });
  check_one("transpose", x, [](const Variable& v) { return ag::transpose(v, 0, 2); });
  check_one("narrow", x, [](const Variable& v) { return ag::narrow(v, 2, 1, 2); });
  check_one("slice step 2", x, [](const Variable& v) { return ag::slice(v, 2, 0, 4, 2); });
  check_one("select", x, [](const Variable& v) { return ag::select(v, 1, -1); });
  check_one("unsqueeze", x, [](const Variable& v) { return ag::unsqueeze(v, 1); });
  Tensor s = Tensor::randn({3, 1, 2}, gen);
  check_one("squeeze dim", s, [](const Variable& v) { return ag::squeeze(v, 1); });
  check_one("squeeze all", s, [](const Variable& v) { return ag::squeeze(v); });
  check_one("expand", s, [](const Variable& v) { return ag::expand(v, {2, 3, 4, 2}); });
  check_one("contiguous of a transpose", x,
            [](const Variable& v) { return ag::contiguous(ag::transpose(v, 1, 2)); });
  // a view feeding an op, and a view of a view
  check_one("exp of permuted narrow", x,
            [](const Variable& v) { return ag::exp(ag::narrow(ag::permute(v, {1, 2, 0}), 0, 1, 2)); });
}

TEST_CASE("autograd: cat/stack/split/chunk/pad gradient checks") {
  Generator gen(42);
  Tensor a = Tensor::randn({2, 3}, gen), b = Tensor::randn({2, 1}, gen), c = Tensor::randn({2, 2}, gen);
  check_gradients([](const Vars& v) { return ag::cat(v, 1); }, {a, b, c}, named("cat dim 1"));
  Tensor d = Tensor::randn({1, 3}, gen);
  check_gradients([](const Vars& v) { return ag::cat(v, 0); }, {a, d}, named("cat dim 0"));
  Tensor e = Tensor::randn({2, 3}, gen);
  check_gradients([](const Vars& v) { return ag::stack(v, 0); }, {a, e}, named("stack dim 0"));
  check_gradients([](const Vars& v) { return ag::stack(v, -1); }, {a, e}, named("stack dim -1"));
  Tensor x = Tensor::randn({2, 5}, gen);
  // pieces recombined with different functions so each piece's gradient is distinct
  check_gradients(
      [](const Vars& v) {
        auto p = ag::split(v[0], 2, 1);  // widths 2, 2, 1
        REQUIRE(p.size() == 3);
        return ag::cat({ag::exp(p[0]), p[1] * 3.0, ag::tanh(p[2])}, 1);
      },
      {x}, named("split"));
  check_gradients(
      [](const Vars& v) {
        auto p = ag::split_sizes(v[0], {1, 4}, 1);
        return ag::cat({p[1], p[0] * p[0]}, 1);
      },
      {x}, named("split_sizes"));
  check_gradients(
      [](const Vars& v) {
        auto p = ag::chunk(v[0], 2, 0);  // two rows
        return p[0] * p[1];
      },
      {x}, named("chunk"));
  // only one piece used: the others get zero gradient
  check_gradients([](const Vars& v) { return ag::chunk(v[0], 3, 1)[1]; }, {x}, named("chunk one piece"));
  check_gradients([](const Vars& v) { return ag::pad(v[0], {1, 2}); }, {x}, named("pad last dim"));
  check_gradients([](const Vars& v) { return ag::pad(v[0], {0, 1, 2, 0}, 3.0); }, {x},
                  named("pad two dims"));
  check_gradients([](const Vars& v) { return ag::pad(v[0], {-1, 1, 0, -1}); }, {x},
                  named("pad negative (crop)"));
}

TEST_CASE("autograd: split pieces are views and their gradients fill x") {
  Variable x(Tensor::from_vector({1, 2, 3, 4, 5}, {5}), true);
  auto p = ag::split(x, 2, 0);
  REQUIRE(p.size() == 3);
  CHECK(p[2].shape() == Shape{1});
  CHECK(p[1].value().same_storage(x.value()));
  Variable y = ag::cat({p[2] * 10.0, p[0]}, 0);
  y.backward(Tensor::ones({3}));
  CHECK(host(x.grad()) == std::vector<float>{1, 1, 0, 0, 10});
}

TEST_CASE("autograd: shape errors name the op and shapes") {
  Variable x(Tensor::ones({2, 3}), true);
  CHECK_THROWS_WITH_AS(ag::view(x, {4, 2}), doctest::Contains("view: cannot view [2, 3]"), ShapeError);
  CHECK_THROWS_WITH_AS(ag::expand(x, {3, 3}), doctest::Contains("expand: cannot expand [2, 3] to [3, 3]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ag::narrow(x, 1, 2, 2), doctest::Contains("narrow"), ShapeError);
  Variable y(Tensor::ones({3, 3}), true);
  CHECK_THROWS_WITH_AS(ag::cat({x, y}, 1), doctest::Contains("cat"), ShapeError);
}
