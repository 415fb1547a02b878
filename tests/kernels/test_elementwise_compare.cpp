// Comparisons, logical ops, where and the in-place ops (add_, mul_, lerp_, clamp_)
// on CPU: values, broadcasting, bool results, version counter bumps, error messages.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernels/ops.h"

using namespace vq;
using F = std::vector<float>;
using B = std::vector<uint8_t>;

namespace {
F vals(const Tensor& t) { return t.to_vector<float>(); }
B bools(const Tensor& t) {
  CHECK(t.dtype() == DType::boolean);
  return t.to_vector<uint8_t>();
}
Tensor mask(const B& v, const Shape& s) { return Tensor::from_vector(v, s, DType::boolean); }
}  // namespace

TEST_CASE("elementwise: comparisons on f32 with broadcasting return bool") {
  Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::from_vector({2, 2, 7}, {3});
  CHECK(ops::eq(a, b).shape() == Shape{2, 3});
  CHECK(bools(ops::eq(a, b)) == B{0, 1, 0, 0, 0, 0});
  CHECK(bools(ops::ne(a, b)) == B{1, 0, 1, 1, 1, 1});
  CHECK(bools(ops::lt(a, b)) == B{1, 0, 1, 0, 0, 1});
  CHECK(bools(ops::le(a, b)) == B{1, 1, 1, 0, 0, 1});
  CHECK(bools(ops::gt(a, b)) == B{0, 0, 0, 1, 1, 0});
  CHECK(bools(ops::ge(a, b)) == B{0, 1, 0, 1, 1, 0});
  // NaN: only ne is true.
  Tensor n = Tensor::from_vector({NAN}, {1});
  CHECK(bools(ops::eq(n, n)) == B{0});
  CHECK(bools(ops::ne(n, n)) == B{1});
  CHECK(bools(ops::lt(n, 0.0)) == B{0});
  // Non-contiguous operand.
  CHECK(bools(ops::gt(a.t(), Tensor::from_vector({3}, {1}))) == B{0, 1, 0, 1, 0, 1});
}

TEST_CASE("elementwise: comparisons with scalars, i64 and i32") {
  Tensor a = Tensor::from_vector({0.5f, 1, 1.5f}, {3});
  CHECK(bools(ops::eq(a, 1.0)) == B{0, 1, 0});
  CHECK(bools(ops::ne(a, 1.0)) == B{1, 0, 1});
  CHECK(bools(ops::lt(a, 1.0)) == B{1, 0, 0});
  CHECK(bools(ops::le(a, 1.0)) == B{1, 1, 0});
  CHECK(bools(ops::gt(a, 1.0)) == B{0, 0, 1});
  CHECK(bools(ops::ge(a, 1.0)) == B{0, 1, 1});
  // The scalar is rounded to f32 for an f32 tensor (like torch): 0.1f == 0.1.
  CHECK(bools(ops::eq(Tensor::from_vector({0.1f}, {1}), 0.1)) == B{1});
  Tensor i = Tensor::arange(4);  // i64 [0,1,2,3]
  CHECK(bools(ops::lt(i, 2.5)) == B{1, 1, 1, 0});  // non-integral scalar compares as a real
  CHECK(bools(ops::eq(i, 2.0)) == B{0, 0, 1, 0});
  CHECK(bools(ops::ge(i, Tensor::from_vector(std::vector<int64_t>{1, 3}, {2, 1}))) ==
        B{0, 1, 1, 1, 0, 0, 0, 1});
  Tensor k = Tensor::from_vector(std::vector<int32_t>{5, -1}, {2});
  CHECK(bools(ops::gt(k, Tensor::from_vector(std::vector<int32_t>{0, 0}, {2}))) == B{1, 0});
  CHECK(bools(ops::le(k, -1.0)) == B{0, 1});
  // Bool tensors compare too.
  CHECK(bools(ops::eq(mask({1, 0}, {2}), mask({1, 1}, {2}))) == B{1, 0});
}

TEST_CASE("elementwise: logical_not / and / or") {
  Tensor p = mask({1, 1, 0, 0}, {4});
  Tensor q = mask({1, 0, 1, 0}, {4});
  CHECK(bools(ops::logical_and(p, q)) == B{1, 0, 0, 0});
  CHECK(bools(ops::logical_or(p, q)) == B{1, 1, 1, 0});
  CHECK(bools(ops::logical_not(p)) == B{0, 0, 1, 1});
  // Truthiness of numbers: nonzero (NaN included) is true.
  CHECK(bools(ops::logical_not(Tensor::from_vector({0, 2, NAN}, {3}))) == B{1, 0, 0});
  // Broadcast [2,1] with [2].
  CHECK(bools(ops::logical_and(mask({1, 0}, {2, 1}), mask({1, 0}, {2}))) == B{1, 0, 0, 0});
  CHECK_THROWS_WITH_AS(ops::logical_or(p, Tensor::zeros({4})),
                       doctest::Contains("logical_or: dtype mismatch"), DTypeError);
}

TEST_CASE("elementwise: where with bool and u8 conditions, broadcasting all three") {
  Tensor c = mask({1, 0}, {2, 1});
  Tensor a = Tensor::from_vector({1, 2, 3}, {3});
  Tensor b = Tensor::scalar(-1.f);
  Tensor w = ops::where(c, a, b);
  CHECK(w.shape() == Shape{2, 3});
  CHECK(w.dtype() == DType::f32);
  CHECK(vals(w) == F{1, 2, 3, -1, -1, -1});
  Tensor cu8 = Tensor::from_vector(B{0, 7, 1}, {3}, DType::u8);
  CHECK(vals(ops::where(cu8, a, Tensor::zeros({3}))) == F{0, 2, 3});
  // Integer payloads, condition from a comparison.
  Tensor i = Tensor::arange(4);
  Tensor r = ops::where(ops::lt(i, 2.0), i, ops::neg(i));
  CHECK(r.dtype() == DType::i64);
  CHECK(r.to_vector<int64_t>() == std::vector<int64_t>{0, 1, -2, -3});
  CHECK_THROWS_WITH_AS(ops::where(Tensor::zeros({3}), a, a),
                       doctest::Contains("where: cond must be bool or u8, got f32[3] cpu"),
                       DTypeError);
  CHECK_THROWS_WITH_AS(ops::where(c, a, i), doctest::Contains("where: dtype mismatch"),
                       DTypeError);
  CHECK_THROWS_WITH_AS(ops::where(mask({1, 0}, {2}), a, a),
                       doctest::Contains("where: shapes cond=[2], a=[3], b=[3] cannot be"),
                       ShapeError);
}

TEST_CASE("elementwise: add_, mul_, lerp_, clamp_ write in place and bump the version") {
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor alias = x;  // shares storage
  uint64_t v = x.version();
  ops::add_(x, Tensor::from_vector({10, 20, 30}, {3}));
  CHECK(x.version() > v);
  CHECK(vals(alias) == F{11, 22, 33, 14, 25, 36});
  v = x.version();
  ops::add_(x, Tensor::from_vector({1, 2}, {2, 1}), -2.0);  // x -= 2 * [[1],[2]]
  CHECK(x.version() > v);
  CHECK(vals(x) == F{9, 20, 31, 10, 21, 32});
  v = x.version();
  ops::mul_(x, 0.5);
  CHECK(x.version() > v);
  CHECK(vals(x) == F{4.5f, 10, 15.5f, 5, 10.5f, 16});
  v = x.version();
  ops::mul_(x, Tensor::from_vector({2, 0, 1}, {3}));
  CHECK(x.version() > v);
  CHECK(vals(x) == F{9, 0, 15.5f, 10, 0, 16});
  v = x.version();
  ops::lerp_(x, Tensor::zeros({2, 3}), 0.5);
  CHECK(x.version() > v);
  CHECK(vals(x) == F{4.5f, 0, 7.75f, 5, 0, 8});
  v = x.version();
  ops::clamp_(x, 1.0, 6.0);
  CHECK(x.version() > v);
  CHECK(vals(x) == F{4.5f, 1, 6, 5, 1, 6});
  ops::clamp_(x, std::nullopt, 2.0);
  CHECK(vals(x) == F{2, 1, 2, 2, 1, 2});
}

TEST_CASE("elementwise: in-place on strided views, aliasing sources, i64") {
  // Strided destination: the transpose of a contiguous matrix.
  Tensor base = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor bt = base.t();  // [3, 2]
  ops::add_(bt, Tensor::from_vector({100, 200}, {2}));
  CHECK(vals(base) == F{101, 102, 103, 204, 205, 206});
  // Source overlapping the destination: m += m^T must read the old values.
  Tensor m = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
  ops::add_(m, m.t());
  CHECK(vals(m) == F{2, 5, 5, 8});
  ops::mul_(m, m);
  CHECK(vals(m) == F{4, 25, 25, 64});
  // Narrowed destination leaves the rest alone.
  Tensor row = base.narrow(0, 1, 1);
  ops::mul_(row, 0.0);
  CHECK(vals(base) == F{101, 102, 103, 0, 0, 0});
  // i64 in-place.
  Tensor i = Tensor::arange(3);
  ops::add_(i, Tensor::arange(3), 2.0);
  CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{0, 3, 6});
  ops::mul_(i, 3.0);
  CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{0, 9, 18});
}

TEST_CASE("elementwise: large in-place op on a strided destination (parallel chunks)") {
  const int64_t R = 257, C = 509;  // 130813 elements: rows straddle chunk borders
  std::vector<float> v(R * C), col(R);
  for (int64_t k = 0; k < R * C; ++k) v[k] = static_cast<float>(k % 977);
  for (int64_t r = 0; r < R; ++r) col[r] = static_cast<float>(r);
  Tensor base = Tensor::from_vector(v, {R, C});
  Tensor dt = base.t();  // [C, R], strides (1, C)
  ops::add_(dt, Tensor::from_vector(col, {R}), 2.0);  // base[r][c] += 2 r
  F got = vals(base);
  bool ok = true;
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; ++c) ok = ok && got[r * C + c] == v[r * C + c] + 2.f * col[r];
  CHECK(ok);
}

TEST_CASE("elementwise: in-place errors") {
  Tensor x = Tensor::zeros({3});
  CHECK_THROWS_WITH_AS(ops::add_(x, Tensor::zeros({2, 3})),
                       doctest::Contains("add_: src [2, 3] cannot be broadcast to dst [3]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::mul_(x, Tensor::zeros({4})),
                       doctest::Contains("mul_: shapes [3] and [4] cannot be broadcast"),
                       ShapeError);
  Tensor e = Tensor::zeros({1, 3}).expand({2, 3});
  CHECK_THROWS_WITH_AS(ops::clamp_(e, 0.0, 1.0),
                       doctest::Contains("clamp_: dst f32[2, 3] cpu is an expanded view"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::lerp_(x, Tensor::zeros({3}, DType::i64), 0.5),
                       doctest::Contains("lerp_: dtype mismatch: dst=f32[3] cpu, src=i64[3] cpu"),
                       DTypeError);
  Tensor i = Tensor::arange(3);
  CHECK_THROWS_WITH_AS(ops::clamp_(i, 0.0, 1.0), doctest::Contains("clamp_: expected f32"),
                       DTypeError);
  CHECK_THROWS_WITH_AS(ops::mul_(i, 0.5), doctest::Contains("mul_: scalar 0.5 is not an integer"),
                       DTypeError);
  const uint64_t v = x.version();
  CHECK_THROWS_AS(ops::add_(x, Tensor::zeros({5})), ShapeError);
  CHECK(x.version() == v);  // a failed op changes nothing
}
