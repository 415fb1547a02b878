// The finite-difference checker of tests/support: it passes correct gradients and
// reports wrong ones with the input, element and both values.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "autograd/functions.h"
#include "kernels/ops.h"
#include "tests/support/gradcheck.h"

using namespace vq;

namespace {
// y = x^2 with a deliberately wrong backward (3x instead of 2x).
Variable wrong_square(const Variable& x) {
  return make_result("wrong_square", ops::mul(x.value(), x.value()), {x}, {x.value()},
                     [](const Tensor& g, const BackwardContext& c) -> std::vector<Tensor> {
                       return {ops::mul(ops::mul(g, c.saved(0)), 3.0)};
                     });
}
}  // namespace

TEST_CASE("gradcheck: accepts a correct gradient") {
  Generator gen(1);
  Tensor x = Tensor::randn({2, 3}, gen);
  test::GradCheckOptions opt;
  opt.label = "square";
  auto report = test::check_gradients([](const std::vector<Variable>& v) { return v[0] * v[0]; }, {x}, opt);
  CHECK(report.ok);
  CHECK(report.message.empty());
  REQUIRE(report.inputs.size() == 1);
  CHECK(report.inputs[0].numel == 6);
  CHECK(report.inputs[0].failures == 0);
  CHECK(report.max_abs_err < 1e-3);
}

TEST_CASE("gradcheck: reports a wrong gradient") {
  Tensor x = Tensor::from_vector({1, -2}, {2});
  test::GradCheckOptions opt;
  opt.label = "wrong_square";
  opt.check = false;  // we inspect the report instead of failing this test
  auto report = test::check_gradients([](const std::vector<Variable>& v) { return wrong_square(v[0]); },
                                      {x}, opt);
  CHECK(!report.ok);
  CHECK(report.inputs[0].failures == 2);
  CHECK(report.message.find("wrong_square: input 0 f32[2] cpu element 0") != std::string::npos);
  // analytic 3 x r vs numeric 2 x r at the worst element
  CHECK(report.inputs[0].worst_analytic ==
        doctest::Approx(1.5 * report.inputs[0].worst_numeric).epsilon(0.01));
}

TEST_CASE("gradcheck: selected inputs and outputs that do not require grad") {
  Tensor a = Tensor::from_vector({1, 2}, {2}), b = Tensor::from_vector({3, 4}, {2});
  test::GradCheckOptions opt;
  opt.check_input = {false, true};
  // Only b is checked (a's wrong gradient is never looked at).
  auto r = test::check_gradients(
      [](const std::vector<Variable>& v) { return wrong_square(v[0]) + v[1] * v[1]; }, {a, b}, opt);
  CHECK(r.ok);
  CHECK(r.inputs[0].numel == 0);
  CHECK(r.inputs[1].numel == 2);
  opt.check = false;
  opt.check_input = {false, false};
  auto none = test::check_gradients([](const std::vector<Variable>& v) { return v[0] * v[1]; }, {a, b}, opt);
  CHECK(!none.ok);
  CHECK(none.message.find("does not require grad") != std::string::npos);
}

TEST_CASE("gradcheck: input generators") {
  Generator gen(5);
  std::vector<float> s = test::rand_signed({100}, gen, 0.2f, 1.f).to_vector<float>();
  bool neg = false, pos = false;
  for (float v : s) {
    CHECK(std::abs(v) >= 0.2f);
    CHECK(std::abs(v) < 1.f);
    neg |= v < 0;
    pos |= v > 0;
  }
  CHECK((neg && pos));
  std::vector<float> d = test::rand_distinct({12}, gen, -1.f, 1.f, 0.05f).to_vector<float>();
  std::sort(d.begin(), d.end());
  for (size_t i = 1; i < d.size(); ++i) CHECK(d[i] - d[i - 1] >= 0.05f - 1e-6f);
  CHECK_THROWS_WITH(test::rand_distinct({100}, gen, 0.f, 1.f, 0.05f), doctest::Contains("holds only 10"));
}
