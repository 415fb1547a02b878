// max_pool2d's 2x2 / stride-2 CPU path (kernels/cpu/nn_pool_2x2.cpp) against the generic
// window loop and the plain scatter: hand-computed windows, random data full of ties,
// NaNs and -inf, odd sizes (last row / column dropped), every SIMD level, the parallel
// path, the backward's fallback for other geometries, and nn::max_pool2d's wiring.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "autograd/functions.h"
#include "core/generator.h"
#include "kernels/cpu/fsq_simd.h"
#include "kernels/cpu/nn_pool.h"
#include "nn/functional.h"

using namespace vq;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Values from {-2, ..., 2} (many ties), about 1 in 12 NaN and 1 in 12 -inf.
std::vector<float> tie_data(int64_t n, uint64_t seed) {
  Generator gen(seed);
  std::vector<float> u = Tensor::rand({n}, gen).to_vector<float>();
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i) {
    const int k = static_cast<int>(u[i] * 12.f);
    x[i] = k == 0 ? NAN : k == 1 ? -kInf : static_cast<float>(k % 5 - 2);
  }
  return x;
}

struct Pooled {
  std::vector<float> y;
  std::vector<int64_t> idx;
};

Pooled pool_2x2(const std::vector<float>& x, int64_t planes, int64_t H, int64_t W) {
  Pooled p;
  p.y.resize(planes * (H / 2) * (W / 2));
  p.idx.resize(p.y.size());
  cpu::max_pool2d_forward(p.y.data(), p.idx.data(), x.data(), planes, H, W, H / 2, W / 2, 2, 2, 2,
                          2, 0, 0);
  return p;
}

Pooled pool_generic(const std::vector<float>& x, int64_t planes, int64_t H, int64_t W, int64_t Ho,
                    int64_t Wo, int64_t K, int64_t S, int64_t P) {
  Pooled p;
  p.y.resize(planes * Ho * Wo);
  p.idx.resize(p.y.size());
  cpu::max_pool2d_forward_generic(p.y.data(), p.idx.data(), x.data(), planes, H, W, Ho, Wo, K, K, S,
                                  S, P, P);
  return p;
}

// The backward as a plain scatter: dx = 0, dx[idx] += dy in output order.
std::vector<float> scatter(const std::vector<float>& dy, const std::vector<int64_t>& idx,
                           int64_t planes, int64_t H, int64_t W, int64_t Ho, int64_t Wo) {
  std::vector<float> dx(planes * H * W, 0.f);
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int64_t o = 0; o < Ho * Wo; ++o)
      dx[pl * H * W + idx[pl * Ho * Wo + o]] += dy[pl * Ho * Wo + o];
  return dx;
}

}  // namespace

TEST_CASE("maxpool 2x2: hand-computed windows, ties, NaN first and last, -inf, odd sizes") {
  // One plane 3 x 5 (the last row and column are dropped), two windows.
  const std::vector<float> x = {1.f,   3.f,   7.f,   NAN,   9.f,  //
                                5.f,   5.f,   -kInf, 2.f,   9.f,  //
                                100.f, 100.f, 100.f, 100.f, 100.f};
  // Window (0,0): 1 3 / 5 5 -> 5, first at (1,0) = flat 5.
  // Window (0,1): 7 NaN / -inf 2 -> NaN at (0,3) = flat 3.
  const Pooled p = pool_2x2(x, 1, 3, 5);
  REQUIRE(p.y.size() == 2);
  CHECK(p.y[0] == 5.f);
  CHECK(p.idx[0] == 5);
  CHECK(std::isnan(p.y[1]));
  CHECK(p.idx[1] == 3);
  // All -inf: the first index; NaN in the last tap; equal values: the first.
  const std::vector<float> x2 = {-kInf, -kInf, 2.f, 2.f, 4.f, 4.f, 1.f, 0.f,  //
                                 -kInf, -kInf, 2.f, 2.f, 4.f, NAN, NAN, 0.f};
  const Pooled p2 = pool_2x2(x2, 1, 2, 8);
  CHECK(p2.y[0] == -kInf);
  CHECK(p2.idx[0] == 0);
  CHECK(p2.y[1] == 2.f);
  CHECK(p2.idx[1] == 2);
  CHECK(std::isnan(p2.y[2]));
  CHECK(p2.idx[2] == 13);
  CHECK(std::isnan(p2.y[3]));
  CHECK(p2.idx[3] == 14);
  // Backward: the gradient lands on the argmax, 0 elsewhere (dropped row / column too).
  std::vector<float> dx(15, -7.f);
  const std::vector<float> dy = {0.5f, -0.f};
  cpu::max_pool2d_backward(dx.data(), dy.data(), p.idx.data(), 1, 3, 5, 1, 2);
  const std::vector<float> want = {0, 0, 0, 0, 0, 0.5f, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  CHECK(dx == want);
  CHECK(!std::signbit(dx[3]));  // 0 + (-0) = +0, like the scatter
}

TEST_CASE("maxpool 2x2: same y, idx and gradient as the generic loop on random ties and NaNs") {
  struct Size {
    int64_t planes, H, W;
  };
  const Size sizes[] = {
      {1, 2, 2},   {3, 5, 5},  {4, 7, 9},  {2, 2, 3},    {5, 28, 28},
      {6, 14, 14}, {3, 9, 33}, {2, 33, 8}, {128, 28, 28}};  // the last: parallel path
  uint64_t seed = 1;
  for (const Size& s : sizes) {
    const int64_t Ho = s.H / 2, Wo = s.W / 2;
    const std::vector<float> x = tie_data(s.planes * s.H * s.W, seed++);
    const Pooled ref = pool_generic(x, s.planes, s.H, s.W, Ho, Wo, 2, 2, 0);
    Generator gen(seed++);
    std::vector<float> dy = Tensor::randn({s.planes * Ho * Wo}, gen).to_vector<float>();
    if (!dy.empty()) dy[0] = -0.f;
    const std::vector<float> dx_ref = scatter(dy, ref.idx, s.planes, s.H, s.W, Ho, Wo);
    for (int level = 0; level <= 2; ++level) {
      cpu::sq_force_simd(level);
      INFO("planes " << s.planes << " H " << s.H << " W " << s.W << " level " << level);
      const Pooled p = pool_2x2(x, s.planes, s.H, s.W);
      CHECK(same_bits(p.y, ref.y));
      CHECK(p.idx == ref.idx);
      std::vector<float> dx(x.size(), 3.f);  // overwritten
      cpu::max_pool2d_backward(dx.data(), dy.data(), p.idx.data(), s.planes, s.H, s.W, Ho, Wo);
      CHECK(same_bits(dx, dx_ref));
    }
    cpu::sq_force_simd(-1);
  }
}

TEST_CASE("maxpool 2x2: backward of other geometries with Ho = H/2 falls back to the scatter") {
  // Kernel 3, stride 2, padding 1 on 8 x 8: Ho = Wo = 4 = H/2, windows overlap, so some
  // argmaxes lie outside their 2x2 block (and pixels take two gradients).
  const int64_t planes = 6, H = 8, W = 8, Ho = 4, Wo = 4;
  const std::vector<float> x = tie_data(planes * H * W, 99);
  const Pooled p = pool_generic(x, planes, H, W, Ho, Wo, 3, 2, 1);
  Generator gen(5);
  const std::vector<float> dy = Tensor::randn({planes * Ho * Wo}, gen).to_vector<float>();
  std::vector<float> dx(x.size(), 3.f);
  cpu::max_pool2d_backward(dx.data(), dy.data(), p.idx.data(), planes, H, W, Ho, Wo);
  CHECK(same_bits(dx, scatter(dy, p.idx, planes, H, W, Ho, Wo)));
  // Kernel 3, stride 3 on 6 x 7: Ho = 2 != 3, the scatter directly.
  const Pooled q = pool_generic(x, 2, 6, 7, 2, 2, 3, 3, 0);
  std::vector<float> dq(2 * 6 * 7, 3.f);
  cpu::max_pool2d_backward(dq.data(), dy.data(), q.idx.data(), 2, 6, 7, 2, 2);
  CHECK(same_bits(dq, scatter(dy, q.idx, 2, 6, 7, 2, 2)));
}

TEST_CASE("maxpool 2x2: nn::max_pool2d forward and gradient, and its error message") {
  Generator gen(3);
  const std::vector<float> xv = tie_data(2 * 3 * 7 * 6, 17);
  Variable x(Tensor::from_vector(xv, {2, 3, 7, 6}), true);
  Variable y = nn::max_pool2d(x, {2, 2}, {2, 2});
  CHECK(y.shape() == Shape{2, 3, 3, 3});
  const Pooled ref = pool_generic(xv, 6, 7, 6, 3, 3, 2, 2, 0);
  CHECK(same_bits(y.value().to_vector<float>(), ref.y));
  Tensor gy = Tensor::randn({2, 3, 3, 3}, gen);
  y.backward(gy);
  CHECK(same_bits(x.grad().to_vector<float>(),
                  scatter(gy.to_vector<float>(), ref.idx, 6, 7, 6, 3, 3)));
  CHECK_THROWS_WITH_AS(
      nn::max_pool2d(Variable(Tensor::zeros({1, 1, 1, 3})), {2, 2}, {2, 2}),
      doctest::Contains("max_pool2d: kernel (2, 2) is larger than the padded input"), ShapeError);
}
