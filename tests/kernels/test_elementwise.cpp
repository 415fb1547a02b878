// Elementwise binary and scalar arithmetic on CPU: broadcasting, non-contiguous inputs,
// i64 index arithmetic, the parallel multi-chunk path, and the error messages.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernels/ops.h"

using namespace vq;
using F = std::vector<float>;
using I = std::vector<int64_t>;

namespace {
F vals(const Tensor& t) { return t.to_vector<float>(); }
I ivals(const Tensor& t) { return t.to_vector<int64_t>(); }
Tensor m23() { return Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}); }
}  // namespace

TEST_CASE("elementwise: add/sub/mul/div broadcast [2,3] with [3]") {
  Tensor a = m23();
  Tensor b = Tensor::from_vector({10, 20, 30}, {3});
  Tensor s = ops::add(a, b);
  CHECK(s.shape() == Shape{2, 3});
  CHECK(s.dtype() == DType::f32);
  CHECK(vals(s) == F{11, 22, 33, 14, 25, 36});
  CHECK(vals(ops::add(b, a)) == F{11, 22, 33, 14, 25, 36});
  CHECK(vals(ops::sub(a, b)) == F{-9, -18, -27, -6, -15, -24});
  CHECK(vals(ops::sub(b, a)) == F{9, 18, 27, 6, 15, 24});
  CHECK(vals(ops::mul(a, b)) == F{10, 40, 90, 40, 100, 180});
  CHECK(vals(ops::div(b, a)) == F{10, 10, 10, 2.5f, 4, 5});
}

TEST_CASE("elementwise: outer broadcast [2,1] * [1,3] and scalar tensors") {
  Tensor c = Tensor::from_vector({1, 2}, {2, 1});
  Tensor r = Tensor::from_vector({3, 4, 5}, {1, 3});
  Tensor p = ops::mul(c, r);
  CHECK(p.shape() == Shape{2, 3});
  CHECK(vals(p) == F{3, 4, 5, 6, 8, 10});
  // 0-dim tensor broadcasts against anything.
  Tensor z = ops::add(Tensor::scalar(0.5f), m23());
  CHECK(z.shape() == Shape{2, 3});
  CHECK(vals(z) == F{1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f});
  Tensor zz = ops::mul(Tensor::scalar(2.f), Tensor::scalar(3.f));
  CHECK(zz.dim() == 0);
  CHECK(zz.item<float>() == 6.f);
  // [3,1,2] + [4,1] -> [3,4,2]
  Tensor x = Tensor::arange(6, DType::f32).view({3, 1, 2});
  Tensor y = Tensor::from_vector({0, 10, 20, 30}, {4, 1});
  Tensor q = ops::add(x, y);
  CHECK(q.shape() == Shape{3, 4, 2});
  F v = vals(q);
  CHECK(v[0] == 0.f);
  CHECK(v[1] == 1.f);
  CHECK(v[2] == 10.f);
  CHECK(v[7] == 31.f);
  CHECK(v[8] == 2.f);
  CHECK(v[23] == 35.f);
  // Empty tensors broadcast to an empty result.
  Tensor e = ops::add(Tensor::zeros({0, 3}), Tensor::ones({3}));
  CHECK(e.shape() == Shape{0, 3});
  CHECK(e.numel() == 0);
}

TEST_CASE("elementwise: non-contiguous inputs (transpose, slice, expand)") {
  Tensor a = m23();                                      // [[1,2,3],[4,5,6]]
  Tensor at = a.t();                                     // [[1,4],[2,5],[3,6]]
  Tensor b = Tensor::from_vector({10, 20, 30, 40, 50, 60}, {3, 2});
  CHECK(vals(ops::add(at, b)) == F{11, 24, 32, 45, 53, 66});
  CHECK(vals(ops::mul(at, at)) == F{1, 16, 4, 25, 9, 36});
  // Both transposed: output is contiguous [3, 2].
  Tensor s = ops::sub(at, b.contiguous().view({2, 3}).t());  // b viewed [[10,20,30],[40,50,60]]^T
  CHECK(s.is_contiguous());
  CHECK(vals(s) == F{1 - 10, 4 - 40, 2 - 20, 5 - 50, 3 - 30, 6 - 60});
  // Strided slice: every other column.
  Tensor cols = a.slice(1, 0, 3, 2);                     // [[1,3],[4,6]]
  CHECK(vals(ops::mul(cols, 2.0)) == F{2, 6, 8, 12});
  // Transposed input with a broadcast row.
  Tensor row = Tensor::from_vector({100, 200}, {2});
  CHECK(vals(ops::add(at, row)) == F{101, 204, 102, 205, 103, 206});
  // Expanded (stride 0) input.
  Tensor ex = Tensor::from_vector({1, 2}, {2, 1}).expand({2, 3});
  CHECK(vals(ops::add(ex, a)) == F{2, 3, 4, 6, 7, 8});
}

TEST_CASE("elementwise: tensor-scalar ops") {
  Tensor a = Tensor::from_vector({1, -2, 4}, {3});
  CHECK(vals(ops::add(a, 0.5)) == F{1.5f, -1.5f, 4.5f});
  CHECK(vals(ops::sub(a, 1.0)) == F{0, -3, 3});
  CHECK(vals(ops::rsub(a, 10.0)) == F{9, 12, 6});
  CHECK(vals(ops::mul(a, -2.0)) == F{-2, 4, -8});
  CHECK(vals(ops::div(a, 4.0)) == F{0.25f, -0.5f, 1});
  // The scalar is rounded to f32 first, like PyTorch: 0.1 + 0.2 in float.
  CHECK(vals(ops::add(Tensor::from_vector({0.1f}, {1}), 0.2))[0] == 0.1f + 0.2f);
  CHECK(std::isinf(vals(ops::div(a, 0.0))[0]));
}

TEST_CASE("elementwise: pow, maximum, minimum") {
  Tensor x = Tensor::from_vector({1.1f, -3.f, 0.5f}, {3});
  F sq = vals(ops::pow(x, 2.0));
  CHECK(sq[0] == 1.1f * 1.1f);  // exact square, not exp(2 log x)
  CHECK(sq[1] == 9.f);          // negative base with an integral exponent
  CHECK(sq[2] == 0.25f);
  CHECK(vals(ops::pow(x, 3.0)) == F{1.1f * 1.1f * 1.1f, -27.f, 0.125f});
  CHECK(vals(ops::pow(x, -1.0)) == F{1.f / 1.1f, -1.f / 3.f, 2.f});
  CHECK(vals(ops::pow(x, -2.0))[2] == 4.f);
  F h = vals(ops::pow(Tensor::from_vector({4, 9, -1}, {3}), 0.5));
  CHECK(h[0] == 2.f);
  CHECK(h[1] == 3.f);
  CHECK(std::isnan(h[2]));
  CHECK(vals(ops::pow(Tensor::from_vector({4, 16}, {2}), -0.5)) == F{0.5f, 0.25f});
  CHECK(vals(ops::pow(Tensor::from_vector({4, 9}, {2}), 1.5)) == F{8, 27});
  CHECK(vals(ops::pow(Tensor::from_vector({2, 3}, {2}), 0.0)) == F{1, 1});
  CHECK(vals(ops::pow(Tensor::from_vector({2, 3}, {2}), Tensor::from_vector({3, 2}, {2}))) ==
        F{8, 9});
  // pow broadcasts a [2,1] base against a [2] exponent.
  CHECK(vals(ops::pow(Tensor::from_vector({2, 3}, {2, 1}), Tensor::from_vector({1, 2}, {2}))) ==
        F{2, 4, 3, 9});

  Tensor a = Tensor::from_vector({1, 5, NAN, -1}, {4});
  Tensor b = Tensor::from_vector({2, 3, 0, NAN}, {4});
  F mx = vals(ops::maximum(a, b));
  CHECK(mx[0] == 2.f);
  CHECK(mx[1] == 5.f);
  CHECK(std::isnan(mx[2]));  // NaN propagates from either side
  CHECK(std::isnan(mx[3]));
  F mn = vals(ops::minimum(a, b));
  CHECK(mn[0] == 1.f);
  CHECK(mn[1] == 3.f);
  CHECK(std::isnan(mn[2]));
  CHECK(std::isnan(mn[3]));
  CHECK(vals(ops::maximum(m23(), Tensor::from_vector({3, 3, 3}, {3}))) == F{3, 3, 3, 4, 5, 6});
}

TEST_CASE("elementwise: i64 arithmetic for index math") {
  Tensor i = Tensor::arange(3);  // [0, 1, 2]
  Tensor j = Tensor::from_vector(std::vector<int64_t>{10, 20}, {2, 1});
  Tensor s = ops::add(j, i);
  CHECK(s.dtype() == DType::i64);
  CHECK(s.shape() == Shape{2, 3});
  CHECK(ivals(s) == I{10, 11, 12, 20, 21, 22});
  CHECK(ivals(ops::sub(i, j)) == I{-10, -9, -8, -20, -19, -18});
  CHECK(ivals(ops::mul(j, i)) == I{0, 10, 20, 0, 20, 40});
  CHECK(ivals(ops::mul(i, 4.0)) == I{0, 4, 8});
  CHECK(ivals(ops::add(i, 5.0)) == I{5, 6, 7});
  CHECK(ivals(ops::sub(i, 1.0)) == I{-1, 0, 1});
  CHECK(ivals(ops::rsub(i, 2.0)) == I{2, 1, 0});
  CHECK(ivals(ops::neg(i)) == I{0, -1, -2});
  CHECK(ivals(ops::abs(ops::sub(i, 2.0))) == I{2, 1, 0});
  CHECK(ivals(ops::maximum(i, Tensor::from_vector(std::vector<int64_t>{1}, {1}))) == I{1, 1, 2});
  CHECK(ivals(ops::minimum(i, Tensor::from_vector(std::vector<int64_t>{1}, {1}))) == I{0, 1, 1});
  // Values beyond 2^53 stay exact (no detour through double).
  const int64_t big = (int64_t(1) << 60) + 1;
  Tensor bt = Tensor::from_vector(std::vector<int64_t>{big}, {1});
  CHECK(ivals(ops::add(bt, bt))[0] == 2 * big);
}

TEST_CASE("elementwise: large inputs take the parallel chunked path") {
  // 300 x 700 = 210000 elements: several chunks, rows split across chunk borders.
  const int64_t R = 300, C = 700;
  std::vector<float> av(R * C), bv(C), cv(R);
  for (int64_t k = 0; k < R * C; ++k) av[k] = static_cast<float>(k % 1000) * 0.5f;
  for (int64_t k = 0; k < C; ++k) bv[k] = static_cast<float>(k);
  for (int64_t k = 0; k < R; ++k) cv[k] = static_cast<float>(k) * 3.f;
  Tensor a = Tensor::from_vector(av, {R, C});
  Tensor b = Tensor::from_vector(bv, {C});
  Tensor c = Tensor::from_vector(cv, {R, 1});
  F s = vals(ops::add(a, b));
  F m = vals(ops::mul(a, c));
  Tensor at = a.t();  // [C, R], non-contiguous
  F t = vals(ops::sub(at, Tensor::from_vector(cv, {R})));
  bool ok_s = true, ok_m = true, ok_t = true;
  for (int64_t r = 0; r < R; ++r)
    for (int64_t k = 0; k < C; ++k) {
      ok_s = ok_s && s[r * C + k] == av[r * C + k] + bv[k];
      ok_m = ok_m && m[r * C + k] == av[r * C + k] * cv[r];
      ok_t = ok_t && t[k * R + r] == av[r * C + k] - cv[r];
    }
  CHECK(ok_s);
  CHECK(ok_m);
  CHECK(ok_t);
}

TEST_CASE("elementwise: binary op errors name the op, shapes and dtypes") {
  Tensor a = Tensor::zeros({2, 3});
  Tensor b = Tensor::zeros({4});
  CHECK_THROWS_WITH_AS(ops::add(a, b),
                       doctest::Contains("add: shapes [2, 3] and [4] cannot be broadcast together"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::mul(Tensor::zeros({2, 1}), Tensor::zeros({3, 2})),
                       doctest::Contains("mul: shapes [2, 1] and [3, 2]"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::add(a, Tensor::zeros({2, 3}, DType::i64)),
                       doctest::Contains("add: dtype mismatch: a=f32[2, 3] cpu, b=i64[2, 3] cpu"),
                       DTypeError);
  CHECK_THROWS_WITH_AS(ops::div(Tensor::arange(3), Tensor::arange(3)),
                       doctest::Contains("div: expected f32 tensors, got a=i64[3]"), DTypeError);
  CHECK_THROWS_WITH_AS(ops::pow(Tensor::arange(3), 2.0), doctest::Contains("pow: expected f32"),
                       DTypeError);
  CHECK_THROWS_WITH_AS(ops::add(Tensor::arange(3), 0.5),
                       doctest::Contains("add: scalar 0.5 is not an integer"), DTypeError);
  CHECK_THROWS_WITH_AS(ops::sub(Tensor::zeros({2}, DType::i32), Tensor::zeros({2}, DType::i32)),
                       doctest::Contains("sub: expected f32 or i64 tensors, got a=i32[2]"),
                       DTypeError);
  CHECK_THROWS_WITH_AS(ops::maximum(Tensor(), a), doctest::Contains("maximum: a is an undefined"),
                       Error);
}
