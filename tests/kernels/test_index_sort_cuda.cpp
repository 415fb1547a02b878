// CUDA vs CPU for sort, topk, unique, randperm and multinomial: all outputs must be
// identical (same integer keys, same stable order, same Philox draws for a seed).
// Runs only where a GPU answers.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "kernels/ops.h"

using namespace vq;
using I64 = std::vector<int64_t>;
using F32 = std::vector<float>;

namespace {

const Device kGpu = cuda_device(0);

// Small integers as floats: many ties, so stability is exercised.
Tensor tied_f(const Shape& s, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(-20, 20);
  F32 v(static_cast<size_t>(shape_numel(s)));
  for (auto& x : v) x = 0.5f * d(rng);
  return Tensor::from_vector(v, s);
}

// Same bits (NaN compares by bit pattern here).
bool same_bits(const F32& a, const F32& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], 4) != 0) return false;
  return true;
}

}  // namespace

TEST_CASE("cuda sort matches CPU: stable, both directions, any dim, NaN and signed zeros") {
  Tensor x = tied_f({64, 300}, 1);
  for (bool desc : {false, true}) {
    for (int64_t dim : {int64_t(1), int64_t(0)}) {
      CAPTURE(desc);
      CAPTURE(dim);
      auto [vg, ig] = ops::sort(x.to(kGpu), dim, desc);
      auto [vc, ic] = ops::sort(x, dim, desc);
      CHECK(vg.to_vector<float>() == vc.to_vector<float>());
      CHECK(ig.to_vector<int64_t>() == ic.to_vector<int64_t>());
    }
  }
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  Tensor s = Tensor::from_vector(F32{nan, 1, -inf, -0.f, 0.f, inf, nan, -1}, {8});
  auto [vs, is] = ops::sort(s.to(kGpu), 0, true);
  auto [vsc, isc] = ops::sort(s, 0, true);
  CHECK(is.to_vector<int64_t>() == isc.to_vector<int64_t>());
  CHECK(same_bits(vs.to_vector<float>(), vsc.to_vector<float>()));
  // One long line and i64 values.
  Tensor longf = tied_f({200000}, 2);
  CHECK(ops::sort(longf.to(kGpu)).second.to_vector<int64_t>() ==
        ops::sort(longf).second.to_vector<int64_t>());
  Tensor xi = Tensor::from_vector(I64{5, -3, 5, 1ll << 40, -(1ll << 40), 0}, {2, 3});
  CHECK(ops::sort(xi.to(kGpu), 1).second.to_vector<int64_t>() ==
        ops::sort(xi, 1).second.to_vector<int64_t>());
}

TEST_CASE("cuda topk matches CPU") {
  Tensor x = tied_f({100, 257}, 3);
  for (bool largest : {true, false}) {
    CAPTURE(largest);
    auto [vg, ig] = ops::topk(x.to(kGpu), 9, -1, largest);
    auto [vc, ic] = ops::topk(x, 9, -1, largest);
    CHECK(vg.shape() == Shape{100, 9});
    CHECK(vg.to_vector<float>() == vc.to_vector<float>());
    CHECK(ig.to_vector<int64_t>() == ic.to_vector<int64_t>());
  }
  auto [v0, i0] = ops::topk(x.to(kGpu), 4, 0);
  CHECK(i0.to_vector<int64_t>() == ops::topk(x, 4, 0).second.to_vector<int64_t>());
  CHECK_THROWS_WITH_AS(ops::topk(x.to(kGpu), 258), doctest::Contains("k=258 is out of range"),
                       ShapeError);
}

TEST_CASE("cuda unique matches CPU") {
  Tensor x = tied_f({50, 40}, 4);
  auto g = ops::unique(x.to(kGpu));
  auto c = ops::unique(x);
  CHECK(g.values.to_vector<float>() == c.values.to_vector<float>());
  CHECK(g.inverse.shape() == Shape{50, 40});
  CHECK(g.inverse.to_vector<int64_t>() == c.inverse.to_vector<int64_t>());
  CHECK(g.counts.to_vector<int64_t>() == c.counts.to_vector<int64_t>());
  Tensor xi = Tensor::from_vector(I64{7, 7, 7}, {3});
  auto gi = ops::unique(xi.to(kGpu));
  CHECK(gi.values.to_vector<int64_t>() == I64{7});
  CHECK(gi.counts.to_vector<int64_t>() == I64{3});
  CHECK(gi.inverse.to_vector<int64_t>() == I64{0, 0, 0});
}

TEST_CASE("cuda randperm equals CPU randperm for the same generator state") {
  Generator a(123), b(123);
  Tensor pg = ops::randperm(100000, a, kGpu);
  CHECK(pg.device().is_cuda());
  CHECK(pg.to_vector<int64_t>() == ops::randperm(100000, b).to_vector<int64_t>());
  CHECK(a.offset() == b.offset());
  CHECK(ops::randperm(5, a, kGpu).to_vector<int64_t>() == ops::randperm(5, b).to_vector<int64_t>());
}

TEST_CASE("cuda multinomial equals CPU multinomial for the same generator state") {
  Generator g0(5);
  Tensor p = Tensor::rand({64, 300}, g0, cpu_device(), 0.f, 1.f);
  for (bool repl : {true, false}) {
    CAPTURE(repl);
    Generator a(77), b(77);
    Tensor sg = ops::multinomial(p.to(kGpu), 20, repl, a);
    Tensor sc = ops::multinomial(p, 20, repl, b);
    CHECK(sg.shape() == Shape{64, 20});
    CHECK(sg.to_vector<int64_t>() == sc.to_vector<int64_t>());
    CHECK(a.offset() == b.offset());
  }
  Generator a(8), b(8);
  Tensor v = Tensor::from_vector(F32{0, 1, 2, 0, 4}, {5});
  CHECK(ops::multinomial(v.to(kGpu), 1000, true, a).to_vector<int64_t>() ==
        ops::multinomial(v, 1000, true, b).to_vector<int64_t>());
  CHECK(ops::multinomial(v.to(kGpu), 3, false, a).to_vector<int64_t>() ==
        ops::multinomial(v, 3, false, b).to_vector<int64_t>());
}

TEST_CASE("cuda multinomial validates its input on the device") {
  Generator g(0);
  Tensor neg = Tensor::from_vector(F32{1, -1}, {2}, kGpu);
  CHECK_THROWS_WITH_AS(ops::multinomial(neg, 1, true, g),
                       doctest::Contains("probs must be finite and non-negative"), ShapeError);
  Tensor zero = Tensor::from_vector(F32{1, 1, 0, 0}, {2, 2}, kGpu);
  CHECK_THROWS_WITH_AS(ops::multinomial(zero, 1, true, g),
                       doctest::Contains("every row of probs must have a positive sum"),
                       ShapeError);
  Tensor sparse = Tensor::from_vector(F32{1, 0, 1}, {3}, kGpu);
  CHECK_THROWS_WITH_AS(ops::multinomial(sparse, 3, false, g),
                       doctest::Contains("only 2 categories with non-zero probability"),
                       ShapeError);
}
