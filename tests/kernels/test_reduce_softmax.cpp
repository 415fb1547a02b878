// logsumexp, softmax, log_softmax: hand-computed values, rows summing to 1 along every
// dim (row and column kernels), large and infinite inputs without overflow, zero-size
// inputs, non-contiguous inputs and error messages.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/ops.h"

using namespace vq;

namespace {

void check_close(const Tensor& t, const std::vector<float>& want, double tol = 1e-5) {
  const std::vector<float> got = t.to_vector<float>();
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("element ", i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(tol));
  }
}

}  // namespace

TEST_CASE("softmax / log_softmax: hand-computed row") {
  const Tensor x = Tensor::from_vector({1, 2, 3}, {3});
  // e^k / (e + e^2 + e^3)
  check_close(ops::softmax(x, 0), {0.09003057f, 0.24472847f, 0.66524096f});
  check_close(ops::log_softmax(x, -1), {-2.40760596f, -1.40760596f, -0.40760596f});
  // Shift invariance, far from 0: no overflow.
  const Tensor big = Tensor::from_vector({1001, 1002, 1003}, {3});
  check_close(ops::softmax(big, 0), {0.09003057f, 0.24472847f, 0.66524096f});
  check_close(ops::softmax(Tensor::from_vector({1000, 0}, {2}), 0), {1, 0});
  // -inf entries get probability 0.
  const Tensor m = Tensor::from_vector({0, -INFINITY}, {2});
  check_close(ops::softmax(m, 0), {1, 0});
  CHECK(std::isinf(ops::log_softmax(m, 0).to_vector<float>()[1]));
}

TEST_CASE("softmax: sums to 1 along each dim, matches exp(log_softmax)") {
  Generator gen(3);
  const Tensor x = Tensor::randn({4, 5, 6}, gen, Device{}, 0.f, 3.f);
  for (int64_t d : {0, 1, 2, -1}) {
    INFO("dim ", d);
    const Tensor p = ops::softmax(x, d);
    CHECK(p.shape() == x.shape());
    const std::vector<float> s = ops::sum(p, {d}).to_vector<float>();
    for (float v : s) CHECK(v == doctest::Approx(1.0).epsilon(1e-6));
    const std::vector<float> pv = p.to_vector<float>();
    const std::vector<float> lv = ops::log_softmax(x, d).to_vector<float>();
    for (size_t i = 0; i < pv.size(); ++i)
      CHECK(std::exp(lv[i]) == doctest::Approx(pv[i]).epsilon(1e-5));
  }
  // Middle dim by hand for one column: x[1, :, 2]
  const std::vector<float> xv = x.to_vector<float>();
  double den = 0;
  for (int b = 0; b < 5; ++b) den += std::exp(double(xv[(1 * 5 + b) * 6 + 2]));
  const std::vector<float> p1 = ops::softmax(x, 1).to_vector<float>();
  for (int b = 0; b < 5; ++b)
    CHECK(p1[(1 * 5 + b) * 6 + 2] ==
          doctest::Approx(std::exp(double(xv[(1 * 5 + b) * 6 + 2])) / den).epsilon(1e-5));
  // Non-contiguous input: softmax(x^T, 1) = softmax(x, 0)^T.
  const Tensor y = Tensor::randn({3, 7}, gen);
  const Tensor a = ops::softmax(y.t(), 1);
  const Tensor b = ops::softmax(y, 0).t().contiguous();
  check_close(a, b.to_vector<float>());
}

TEST_CASE("logsumexp: values, large inputs, infinities, keepdim") {
  const Tensor x = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
  // dim 0: log(e + e^3) = 3.126928, log(e^2 + e^4) = 4.126928
  check_close(ops::logsumexp(x, 0), {3.12692801f, 4.12692801f});
  check_close(ops::logsumexp(x, 1), {2.31326169f, 4.31326169f});
  CHECK(ops::logsumexp(x, 1, true).shape() == Shape{2, 1});
  // No overflow: log(2 e^1000) = 1000 + ln 2; no underflow: -1000 + ln 2.
  check_close(ops::logsumexp(Tensor::from_vector({1000, 1000}, {2}), 0), {1000.6931472f});
  check_close(ops::logsumexp(Tensor::from_vector({-1000, -1000}, {2}), 0), {-999.3068528f});
  const float ninf = -std::numeric_limits<float>::infinity();
  const float lse_ninf = ops::logsumexp(Tensor::from_vector({ninf, ninf}, {2}), 0).item<float>();
  CHECK((std::isinf(lse_ninf) && lse_ninf < 0));
  const float lse_inf =
      ops::logsumexp(Tensor::from_vector({1, INFINITY}, {2}), 0).item<float>();
  CHECK((std::isinf(lse_inf) && lse_inf > 0));
}

TEST_CASE("softmax / logsumexp: zero-size inputs and errors") {
  // Empty reduced dim: logsumexp of nothing is -inf (torch); softmax of nothing is empty.
  const std::vector<float> e = ops::logsumexp(Tensor::empty({2, 0}), 1).to_vector<float>();
  REQUIRE(e.size() == 2);
  CHECK((std::isinf(e[0]) && e[0] < 0));
  CHECK(ops::softmax(Tensor::empty({2, 0}), 1).shape() == Shape{2, 0});
  CHECK(ops::log_softmax(Tensor::empty({0, 3}), 1).shape() == Shape{0, 3});
  CHECK_THROWS_WITH_AS(ops::softmax(Tensor::zeros({2, 3}), 2),
                       doctest::Contains("softmax: dim 2 out of range for x=[2, 3]"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::log_softmax(Tensor::zeros({2, 3}), -3),
                       doctest::Contains("log_softmax: dim -3 out of range for x=[2, 3]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::logsumexp(Tensor::arange(4), 0),
                       doctest::Contains("logsumexp: x must be f32"), DTypeError);
}
