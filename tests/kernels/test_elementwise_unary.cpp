// Elementwise unary ops on CPU: activations (values checked against torch 2.x), rounding
// ties (half to even), clamp with optional bounds and NaN, lerp, and error messages.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernels/ops.h"

using namespace vq;
using F = std::vector<float>;

namespace {
F vals(const Tensor& t) { return t.to_vector<float>(); }
// Inputs shared by the activation cases; expected values printed by torch 2.x
// unless noted.
Tensor act_input() { return Tensor::from_vector({-3, -1, -0.5f, 0, 0.5f, 1, 2, 25}, {8}); }
void check_close(const F& got, const std::vector<double>& want, double rel = 2e-6) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("index " << i << ": got " << got[i] << ", want " << want[i]);
    CHECK(std::fabs(got[i] - want[i]) <= rel * std::fabs(want[i]) + 1e-7);
  }
}
}  // namespace

TEST_CASE("elementwise: neg, abs, sign (sign(0) = 0)") {
  Tensor x = Tensor::from_vector({-2, 0, 3.5f, -0.f, NAN}, {5});
  F n = vals(ops::neg(x));
  CHECK(n[0] == 2.f);
  CHECK(n[2] == -3.5f);
  F a = vals(ops::abs(x));
  CHECK(a[0] == 2.f);
  CHECK(a[3] == 0.f);
  CHECK(!std::signbit(a[3]));  // abs(-0) = +0
  CHECK(std::isnan(a[4]));
  F s = vals(ops::sign(x));
  CHECK(s[0] == -1.f);
  CHECK(s[1] == 0.f);
  CHECK(s[2] == 1.f);
  CHECK(s[3] == 0.f);
  CHECK(s[4] == 0.f);  // torch.sign(nan) = 0
}

TEST_CASE("elementwise: exp, log, sqrt, rsqrt, tanh, sigmoid") {
  Tensor x = Tensor::from_vector({0, 1, 4}, {3});
  check_close(vals(ops::exp(x)), {1.0, 2.718281828459045, 54.598150033144236});
  F l = vals(ops::log(x));
  CHECK(std::isinf(l[0]));
  CHECK(l[0] < 0);
  CHECK(l[1] == 0.f);
  check_close({l[2]}, {1.3862943611198906});
  CHECK(vals(ops::sqrt(x)) == F{0, 1, 2});
  F r = vals(ops::rsqrt(x));
  CHECK(std::isinf(r[0]));
  CHECK(r[1] == 1.f);
  CHECK(r[2] == 0.5f);
  CHECK(std::isnan(vals(ops::log(Tensor::from_vector({-1}, {1})))[0]));
  check_close(vals(ops::tanh(act_input())),
              {-0.9950547536867305, -0.7615941559557649, -0.46211715726000974, 0.0,
               0.46211715726000974, 0.7615941559557649, 0.9640275800758169, 1.0});
  check_close(vals(ops::sigmoid(act_input())),
              {0.04742587357759476, 0.2689414322376251, 0.3775406777858734, 0.5,
               0.622459352016449, 0.7310585975646973, 0.8807970285415649, 1.0});
}

TEST_CASE("elementwise: relu, gelu (erf and tanh), silu, softplus match torch") {
  Tensor x = act_input();
  F r = vals(ops::relu(Tensor::from_vector({-1, 0, 2, -0.f, NAN}, {5})));
  CHECK(r[0] == 0.f);
  CHECK(r[1] == 0.f);
  CHECK(r[2] == 2.f);
  CHECK(r[3] == 0.f);
  CHECK(std::isnan(r[4]));
  // gelu: the formulas evaluated in double (torch's vectorized CPU erf is off by
  // 1e-4 relative at x = -3, where 1 + erf cancels; this kernel is closer).
  check_close(vals(ops::gelu(x)),
              {-0.00404969409489031, -0.15865525393145707, -0.15426876936299344, 0.0,
               0.34573123063700656, 0.8413447460685429, 1.9544997361036416, 25.0},
              2e-5);
  check_close(vals(ops::gelu(x, /*tanh_approx=*/true)),
              {-0.0036373920817729943, -0.15880800939172324, -0.15428599017485606, 0.0,
               0.34571400982514394, 0.8411919906082768, 1.954597694087775, 25.0},
              2e-5);
  check_close(vals(ops::silu(x)),
              {-0.14227761328220367, -0.2689414322376251, -0.1887703388929367, 0.0,
               0.3112296760082245, 0.7310585975646973, 1.7615940570831299, 25.0});
  // beta = 2, threshold = 10: 25 * 2 > 10 returns x itself.
  check_close(vals(ops::softplus(x, 2.0, 10.0)),
              {0.0012378426035866141, 0.06346400082111359, 0.15663084387779236,
               0.3465735912322998, 0.65663081407547, 1.0634640455245972, 2.0090749263763428,
               25.0});
  F sp = vals(ops::softplus(Tensor::from_vector({0, 30}, {2})));  // defaults 1, 20
  check_close({sp[0]}, {0.6931471805599453});
  CHECK(sp[1] == 30.f);
}

TEST_CASE("elementwise: round is half to even, floor") {
  Tensor x = Tensor::from_vector({0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 0.49999997f, 3.7f, -3.7f},
                                 {9});
  F r = vals(ops::round(x));
  CHECK(r == F{0, 2, 2, -0.f, -2, -2, 0, 4, -4});
  CHECK(std::signbit(r[3]));  // round(-0.5) = -0
  F f = vals(ops::floor(x));
  CHECK(f == F{0, 1, 2, -1, -2, -3, 0, 3, -4});
}

TEST_CASE("elementwise: clamp with optional bounds, NaN propagates") {
  Tensor x = Tensor::from_vector({-2, 0.5f, 3, NAN}, {4});
  F both = vals(ops::clamp(x, 0.0, 1.0));
  CHECK(both[0] == 0.f);
  CHECK(both[1] == 0.5f);
  CHECK(both[2] == 1.f);
  CHECK(std::isnan(both[3]));
  F lo = vals(ops::clamp(x, -1.0, std::nullopt));
  CHECK(lo[0] == -1.f);
  CHECK(lo[2] == 3.f);
  F hi = vals(ops::clamp(x, std::nullopt, 0.0));
  CHECK(hi[0] == -2.f);
  CHECK(hi[2] == 0.f);
  CHECK(std::isnan(hi[3]));
  // lo > hi gives hi everywhere (torch.clamp).
  CHECK(vals(ops::clamp(Tensor::from_vector({-5, 0, 5}, {3}), 1.0, 0.0)) == F{0, 0, 0});
  CHECK_THROWS_WITH_AS(ops::clamp(x, std::nullopt, std::nullopt),
                       doctest::Contains("clamp: at least one of lo or hi"), ConfigError);
}

TEST_CASE("elementwise: lerp with scalar and tensor weights") {
  Tensor a = Tensor::from_vector({1, 2}, {2});
  Tensor b = Tensor::from_vector({3, 6}, {2});
  CHECK(vals(ops::lerp(a, b, 0.75)) == F{2.5f, 5});
  CHECK(vals(ops::lerp(a, b, 0.25)) == F{1.5f, 3});
  CHECK(vals(ops::lerp(a, b, 1.0)) == F{3, 6});  // exact at w = 1
  CHECK(vals(ops::lerp(a, b, 0.0)) == F{1, 2});
  // Tensor weight [2,1] broadcasts with [2] inputs to [2, 2].
  Tensor w = Tensor::from_vector({0.5f, 1}, {2, 1});
  Tensor l = ops::lerp(a, b, w);
  CHECK(l.shape() == Shape{2, 2});
  CHECK(vals(l) == F{2, 4, 3, 6});
  CHECK_THROWS_WITH_AS(ops::lerp(a, b, Tensor::zeros({3})),
                       doctest::Contains("lerp: shapes a=[2], b=[2], w=[3] cannot be broadcast"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::lerp(a, Tensor::zeros({3}), 0.5),
                       doctest::Contains("lerp: shapes [2] and [3]"), ShapeError);
}

TEST_CASE("elementwise: unary ops on non-contiguous input and dtype errors") {
  Tensor x = Tensor::from_vector({1, -2, 3, -4, 5, -6}, {2, 3}).t();  // [3, 2]
  Tensor r = ops::relu(x);
  CHECK(r.shape() == Shape{3, 2});
  CHECK(r.is_contiguous());
  CHECK(vals(r) == F{1, 0, 0, 5, 3, 0});
  CHECK(vals(ops::abs(x)) == F{1, 4, 2, 5, 3, 6});
  CHECK_THROWS_WITH_AS(ops::exp(Tensor::arange(3)),
                       doctest::Contains("exp: expected f32 tensors, got x=i64[3] cpu"),
                       DTypeError);
  CHECK_THROWS_WITH_AS(ops::round(Tensor::arange(3)), doctest::Contains("round: expected f32"),
                       DTypeError);
  CHECK_THROWS_WITH_AS(ops::gelu(Tensor::zeros({2}, DType::i32)),
                       doctest::Contains("gelu: expected f32"), DTypeError);
  CHECK_THROWS_WITH_AS(ops::sign(Tensor()), doctest::Contains("sign: x is an undefined"), Error);
}
