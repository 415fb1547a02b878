// Hand-computed forward / backward values of the layer functions, and their error
// messages (each names the function and every shape involved).
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/functions.h"
#include "nn/nn.h"

using namespace vq;
using F = std::vector<float>;

namespace {
F vals(const Tensor& t) { return t.contiguous().to_vector<float>(); }
Variable leaf(const F& v, const Shape& s, bool grad = true) {
  return Variable(Tensor::from_vector(v, s), grad);
}
void check_close(const F& got, const F& want, double tol = 1e-5) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(tol));
}
}  // namespace

TEST_CASE("nn values: linear y = x W^T + b and its gradients") {
  Variable x = leaf({1, 2, 3, 4}, {2, 2});
  Variable w = leaf({1, 0, 1, 1, 0, 2}, {3, 2});  // rows (1,0), (1,1), (0,2)
  Variable b = leaf({0.5f, -1, 0}, {3});
  Variable y = nn::linear(x, w, b);
  CHECK(y.shape() == Shape{2, 3});
  CHECK(vals(y.value()) == F{1.5f, 2, 4, 3.5f, 6, 8});
  y.backward(Tensor::from_vector({1, 0, 1, 0, 1, 0}, {2, 3}));
  CHECK(vals(x.grad()) == F{1, 2, 1, 1});        // g W
  CHECK(vals(w.grad()) == F{1, 2, 3, 4, 1, 2});  // g^T x
  CHECK(vals(b.grad()) == F{1, 1, 1});
}

TEST_CASE("nn values: conv2d hand-computed (plain, padded + strided + bias)") {
  Variable x = leaf({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  Variable w = leaf({1, 1, 1, 1}, {1, 1, 2, 2});
  Variable y = nn::conv2d(x, w, Variable());
  CHECK(y.shape() == Shape{1, 1, 2, 2});
  CHECK(vals(y.value()) == F{12, 16, 24, 28});
  y.backward(Tensor::ones({1, 1, 2, 2}));
  // each pixel's gradient = number of windows covering it
  CHECK(vals(x.grad()) == F{1, 2, 1, 2, 4, 2, 1, 2, 1});
  CHECK(vals(w.grad()) == F{12, 16, 24, 28});
  // padding 1, stride 2, bias 0.5: windows at rows/cols {-1, 0} and {1, 2}
  Variable b = leaf({0.5f}, {1});
  Variable y2 = nn::conv2d(x, w, b, {2, 2}, {1, 1});
  CHECK(y2.shape() == Shape{1, 1, 2, 2});
  CHECK(vals(y2.value()) == F{1.5f, 5.5f, 11.5f, 28.5f});
  x.zero_grad();
  y2.backward(Tensor::from_vector({1, 2, 3, 4}, {1, 1, 2, 2}));
  CHECK(vals(b.grad()) == F{10});
  CHECK(vals(x.grad()) == F{1, 2, 2, 3, 4, 4, 3, 4, 4});
  // dW[u, v] = sum over windows of g * x at tap (u, v)
  // tap (0,0): windows (0,0)->pad, (0,1)->pad, (1,0)->pad, (1,1)->x[1,1]=5 : 4*5 = 20
  // tap (1,1): (0,0)->x[0,0]=1, (0,1)->x[0,2]=3, (1,0)->x[2,0]=7, (1,1)->x[2,2]=9
  F gw = vals(w.grad());
  CHECK(gw[0] == 12.f + 20.f);                     // accumulated onto the first backward
  CHECK(gw[3] == 28.f + (1 + 2 * 3 + 3 * 7 + 4 * 9));
}

TEST_CASE("nn values: max_pool2d picks the window max, gradients add up on overlaps") {
  Variable x(Tensor::arange(16, DType::f32).view({1, 1, 4, 4}), true);
  Variable y = nn::max_pool2d(x, {2, 2}, {2, 2});
  CHECK(vals(y.value()) == F{5, 7, 13, 15});
  y.backward(Tensor::from_vector({1, 2, 3, 4}, {1, 1, 2, 2}));
  F g = vals(x.grad());
  CHECK(g[5] == 1.f);
  CHECK(g[7] == 2.f);
  CHECK(g[13] == 3.f);
  CHECK(g[15] == 4.f);
  CHECK(g[0] == 0.f);
  // overlapping windows (kernel 2, stride 1) that share their max: gradients add
  Variable z = leaf({1, 2, 3, 9, 4, 5}, {1, 3, 2});
  Variable yz = nn::max_pool2d(z, {2, 2}, {1, 1});
  CHECK(vals(yz.value()) == F{9, 9});
  yz.backward(Tensor::from_vector({1, 10}, {1, 2, 1}));
  CHECK(vals(z.grad()) == F{0, 0, 0, 11, 0, 0});
  // padding is -inf: a negative input still wins over the padding
  Variable n = leaf({-3, -1, -2, -4}, {1, 1, 2, 2});
  CHECK(vals(nn::max_pool2d(n, {2, 2}, {2, 2}, {1, 1}).value()) == F{-3, -1, -2, -4});
  // a NaN wins and propagates, like PyTorch (its gradient slot gets dy)
  Variable nanx = leaf({1, NAN, 3, 2}, {1, 1, 2, 2});
  Variable ny = nn::max_pool2d(nanx, {2, 2}, {2, 2});
  CHECK(std::isnan(vals(ny.value())[0]));
  ny.backward(Tensor::ones({1, 1, 1, 1}));
  CHECK(vals(nanx.grad()) == F{0, 1, 0, 0});
  // ties go to the first maximum in row-major order
  Variable t = leaf({7, 7, 7, 7}, {1, 1, 2, 2});
  nn::max_pool2d(t, {2, 2}, {2, 2}).backward(Tensor::ones({1, 1, 1, 1}));
  CHECK(vals(t.grad()) == F{1, 0, 0, 0});
}

TEST_CASE("nn values: upsample_nearest2d repeats pixels, backward sums blocks") {
  Variable x = leaf({1, 2, 3, 4}, {1, 1, 2, 2});
  Variable y = nn::upsample_nearest2d(x, {2, 2});
  CHECK(vals(y.value()) == F{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  y.backward(Tensor::arange(16, DType::f32).view({1, 1, 4, 4}));
  // block sums: (0+1+4+5), (2+3+6+7), (8+9+12+13), (10+11+14+15)
  CHECK(vals(x.grad()) == F{10, 18, 42, 50});
  Variable r = nn::upsample_nearest2d(leaf({1, 2}, {1, 1, 2}, false), {1, 3});
  CHECK(r.shape() == Shape{1, 1, 6});
  CHECK(vals(r.value()) == F{1, 1, 1, 2, 2, 2});
}

TEST_CASE("nn values: layer_norm and group_norm statistics") {
  // row [1, 2, 3, 4]: mean 2.5, biased var 1.25
  Variable x = leaf({1, 2, 3, 4, 2, 2, 2, 2}, {2, 4});
  Variable g = leaf({1, 2, 1, 1}, {4});
  Variable b = leaf({0, 0, 0, 1}, {4});
  Variable y = nn::layer_norm(x, {4}, g, b);
  const float r = 1.f / std::sqrt(1.25f + 1e-5f);
  check_close(vals(y.value()), {-1.5f * r, -1.f * r, 0.5f * r, 1.5f * r + 1, 0, 0, 0, 1});
  // d/dbeta = sum of g over rows; d/dgamma = sum g * xhat
  y.backward(Tensor::ones({2, 4}));
  check_close(vals(b.grad()), {2, 2, 2, 2});
  check_close(vals(g.grad()), {-1.5f * r, -0.5f * r, 0.5f * r, 1.5f * r});
  // a constant row has xhat = 0: dx = rstd (g - mean(g)) with g = dy * gamma = [1, 2, 1, 1]
  const float r2 = 1.f / std::sqrt(1e-5f);
  F dx = vals(x.grad());
  CHECK(dx[4] == doctest::Approx(r2 * (1 - 1.25f)).epsilon(1e-4));
  CHECK(dx[5] == doctest::Approx(r2 * (2 - 1.25f)).epsilon(1e-4));

  // GroupNorm: 2 groups of 2 channels x 2 pixels
  Variable xg = leaf({1, 2, 3, 4, 10, 10, 10, 10}, {1, 4, 2});
  Variable yg = nn::group_norm(xg, 2, leaf({1, 1, 2, 2}, {4}), leaf({0, 0, 1, 1}, {4}));
  check_close(vals(yg.value()), {-1.5f * r, -0.5f * r, 0.5f * r, 1.5f * r, 1, 1, 1, 1});
  Variable yn = nn::group_norm(xg, 1);
  // one group: mean 6.25, var = mean(x^2) - 6.25^2
  double m = 6.25, v = 0;
  for (double e : {1., 2., 3., 4., 10., 10., 10., 10.}) v += (e - m) * (e - m) / 8;
  CHECK(vals(yn.value())[0] == doctest::Approx((1 - m) / std::sqrt(v + 1e-5)).epsilon(1e-5));
}

TEST_CASE("nn values: dropout statistics, scaling, eval identity and determinism") {
  Variable x(Tensor::ones({100000}), true);
  Generator g1(5), g2(5);
  Variable y = nn::dropout(x, 0.25, true, g1);
  F v = vals(y.value());
  int64_t zeros = 0;
  for (float e : v) {
    if (e == 0.f) ++zeros;
    else CHECK_MESSAGE(std::fabs(e - 1.f / 0.75f) < 1e-6f, "kept values are scaled by 1/(1-p)");
  }
  // 100000 Bernoulli(0.25): std of the fraction ~ 0.0014
  CHECK(static_cast<double>(zeros) / v.size() == doctest::Approx(0.25).epsilon(0.03));
  CHECK(vals(nn::dropout(x, 0.25, true, g2).value()) == v);  // same seed, same mask
  y.backward(Tensor::ones({100000}));
  CHECK(vals(x.grad()) == v);  // dy * mask
  CHECK(nn::dropout(x, 0.25, false, g1).same(x));
  CHECK(nn::dropout(x, 0.0, true, g1).same(x));
  CHECK(vals(nn::dropout(x, 1.0, true, g1).value()) == F(100000, 0.f));
}

TEST_CASE("nn errors: messages name the function and the shapes") {
  Variable x(Tensor::zeros({2, 3, 5, 5}));
  Variable w(Tensor::zeros({4, 2, 3, 3}));
  CHECK_THROWS_WITH_AS(nn::conv2d(x, w, Variable()),
                       doctest::Contains("conv2d: x has 3 channels but weight expects 2"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(nn::conv2d(x, w, Variable()), doctest::Contains("x=f32[2, 3, 5, 5]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(nn::conv2d(Variable(Tensor::zeros({3, 5, 5})), w, Variable()),
                       doctest::Contains("conv2d: expected x [B, C, H, W]"), ShapeError);
  CHECK_THROWS_WITH_AS(
      nn::conv2d(x, Variable(Tensor::zeros({4, 3, 7, 7})), Variable()),
      doctest::Contains("conv2d: kernel 7x7 is larger than the padded input"), ShapeError);
  CHECK_THROWS_WITH_AS(nn::conv2d(x, Variable(Tensor::zeros({4, 3, 3, 3})), Variable(Tensor::zeros({3}))),
                       doctest::Contains("conv2d: bias must be [4], got x=f32[2, 3, 5, 5] cpu, "
                                         "weight=f32[4, 3, 3, 3] cpu, bias=f32[3] cpu"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(nn::conv2d(x, Variable(Tensor::zeros({4, 3, 3, 3})), Variable(), {0, 1}),
                       doctest::Contains("conv2d: stride must be >= 1"), ShapeError);
  CHECK_THROWS_WITH_AS(nn::conv2d(x, Variable(Tensor::zeros({4, 3, 3, 3}, DType::i64)), Variable()),
                       doctest::Contains("conv2d: weight must be f32"), DTypeError);
  CHECK_THROWS_WITH_AS(nn::linear(Variable(Tensor::zeros({2, 7})), Variable(Tensor::zeros({4, 8}))),
                       doctest::Contains("linear: x must be [..., 8] to match weight, got "
                                         "x=f32[2, 7] cpu, weight=f32[4, 8] cpu, bias=none"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(nn::max_pool2d(Variable(Tensor::zeros({5, 5})), {2, 2}, {2, 2}),
                       doctest::Contains("max_pool2d: expected x [B, C, H, W] or [C, H, W], got f32[5, 5]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(nn::max_pool2d(x, {2, 2}, {2, 2}, {2, 2}),
                       doctest::Contains("max_pool2d: need kernel >= 1, stride >= 1 and 0 <= padding <= kernel / 2"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(nn::max_pool2d(x, {6, 6}, {1, 1}),
                       doctest::Contains("max_pool2d: kernel (6, 6) is larger than the padded input f32[2, 3, 5, 5]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(nn::upsample_nearest2d(x, {0, 2}),
                       doctest::Contains("upsample_nearest2d: scale_factor must be an integer >= 1"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(nn::layer_norm(x, {4}),
                       doctest::Contains("layer_norm: x must end with normalized_shape [4], got x=f32[2, 3, 5, 5]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(nn::layer_norm(x, {5}, Variable(Tensor::ones({4}))),
                       doctest::Contains("layer_norm: weight and bias must have normalized_shape [5]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(nn::group_norm(x, 2),
                       doctest::Contains("group_norm: num_channels 3 is not divisible by num_groups 2"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(nn::group_norm(x, 3, Variable(Tensor::ones({2}))),
                       doctest::Contains("group_norm: weight and bias must be [3], got x=f32[2, 3, 5, 5] cpu, weight=f32[2] cpu"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(nn::dropout(x, 1.5, true, default_generator()),
                       doctest::Contains("dropout: p must be in [0, 1], got 1.5"), ConfigError);
}

TEST_CASE("nn errors: layer constructors name the option") {
  CHECK_THROWS_WITH_AS(nn::GroupNorm(3, 8), doctest::Contains("GroupNorm: num_channels must be divisible by num_groups"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(nn::Upsample(2, "bilinear"),
                       doctest::Contains("Upsample: mode 'bilinear' is not supported (allowed: 'nearest')"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(nn::GELU("fast"), doctest::Contains("GELU: approximate 'fast' is not supported"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(nn::Conv2d(3, 4, 0), doctest::Contains("Conv2d: kernel_size and stride must be >= 1"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(nn::MaxPool2d(2, 2, 3), doctest::Contains("MaxPool2d: need kernel_size >= 1"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(nn::LayerNorm(Shape{}), doctest::Contains("LayerNorm: normalized_shape must be non-empty"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(nn::MLP({4}), doctest::Contains("MLP: dims must list at least an input and an output width"),
                       ConfigError);
  nn::MLPOptions o;
  o.activation = "swish";
  CHECK_THROWS_WITH_AS(nn::MLP({4, 2}, o), doctest::Contains("activation 'swish' is not supported"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(nn::Dropout(-0.1), doctest::Contains("Dropout: p must be in [0, 1]"),
                       ConfigError);
}
