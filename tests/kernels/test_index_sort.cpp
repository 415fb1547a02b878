// CPU tests of sort (stable, NaN last), topk (sorted, ties by index) and unique.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "kernels/ops.h"

using namespace vq;
using I64 = std::vector<int64_t>;
using F32 = std::vector<float>;

namespace {
Tensor ti(const I64& v, const Shape& s) { return Tensor::from_vector(v, s); }
Tensor tf(const F32& v, const Shape& s) { return Tensor::from_vector(v, s); }
}  // namespace

TEST_CASE("sort: ascending and descending are stable") {
  Tensor x = tf({3, 1, 2, 1, 3}, {5});
  auto [v, i] = ops::sort(x);
  CHECK(v.to_vector<float>() == F32{1, 1, 2, 3, 3});
  CHECK(i.to_vector<int64_t>() == I64{1, 3, 2, 0, 4});
  auto [vd, id] = ops::sort(x, 0, true);
  CHECK(vd.to_vector<float>() == F32{3, 3, 2, 1, 1});
  CHECK(id.to_vector<int64_t>() == I64{0, 4, 2, 1, 3});
}

TEST_CASE("sort: along dim 0 of a matrix, i64, special floats") {
  Tensor x = tf({5, 0, 1, 2, 3, 4}, {3, 2});  // columns [5, 1, 3] and [0, 2, 4]
  auto [v, i] = ops::sort(x, 0, true);
  CHECK(v.to_vector<float>() == F32{5, 4, 3, 2, 1, 0});
  CHECK(i.to_vector<int64_t>() == I64{0, 2, 2, 1, 1, 0});
  auto [vi, ii] = ops::sort(ti({-5, 7, 0, -9}, {4}));
  CHECK(vi.to_vector<int64_t>() == I64{-9, -5, 0, 7});
  CHECK(ii.to_vector<int64_t>() == I64{3, 0, 2, 1});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  auto [vs, is] = ops::sort(tf({nan, 1, -inf, -0.f, 0.f, inf}, {6}));
  CHECK(is.to_vector<int64_t>() == I64{2, 3, 4, 1, 5, 0});  // -0 and +0 tie: stable
  CHECK(std::isnan(vs.to_vector<float>()[5]));
}

TEST_CASE("sort: errors") {
  CHECK_THROWS_WITH_AS(ops::sort(Tensor::zeros({2}, DType::i32)),
                       doctest::Contains("sort: supports f32 and i64"), DTypeError);
  CHECK_THROWS_WITH_AS(ops::sort(Tensor::zeros({2, 2}), 3), doctest::Contains("sort"), ShapeError);
}

TEST_CASE("topk: largest and smallest, sorted, ties by lower index") {
  Tensor x = tf({1, 5, 3, 5, 2, 0, 9, 8}, {2, 4});
  auto [v, i] = ops::topk(x, 2);
  CHECK(v.shape() == Shape{2, 2});
  CHECK(v.to_vector<float>() == F32{5, 5, 9, 8});
  CHECK(i.to_vector<int64_t>() == I64{1, 3, 2, 3});
  auto [vs, is] = ops::topk(x, 3, 1, false);
  CHECK(vs.to_vector<float>() == F32{1, 3, 5, 0, 2, 8});
  CHECK(is.to_vector<int64_t>() == I64{0, 2, 1, 1, 0, 3});
  auto [v0, i0] = ops::topk(x, 1, 0);
  CHECK(v0.to_vector<float>() == F32{2, 5, 9, 8});
  CHECK(i0.to_vector<int64_t>() == I64{1, 0, 1, 1});
  CHECK(ops::topk(x, 0).first.shape() == Shape{2, 0});
}

TEST_CASE("topk: errors") {
  Tensor x = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH_AS(
      ops::topk(x, 4),
      doctest::Contains("topk: k=4 is out of range for dim 1 of size 3 (x=[2, 3])"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::topk(x, -1, 0), doctest::Contains("k=-1"), ShapeError);
}

TEST_CASE("unique: sorted values, inverse in the input's shape, counts") {
  auto r = ops::unique(ti({3, 1, 3, 2, 1, 3}, {2, 3}));
  CHECK(r.values.to_vector<int64_t>() == I64{1, 2, 3});
  CHECK(r.inverse.shape() == Shape{2, 3});
  CHECK(r.inverse.to_vector<int64_t>() == I64{2, 0, 2, 1, 0, 2});
  CHECK(r.counts.to_vector<int64_t>() == I64{2, 1, 3});
  auto f = ops::unique(tf({0.5f, -1.f, 0.5f}, {3}));
  CHECK(f.values.to_vector<float>() == F32{-1.f, 0.5f});
  CHECK(f.inverse.to_vector<int64_t>() == I64{1, 0, 1});
  CHECK(f.counts.to_vector<int64_t>() == I64{1, 2});
  auto e = ops::unique(Tensor::zeros({0}, DType::i64));
  CHECK(e.values.numel() == 0);
  CHECK(e.counts.numel() == 0);
}

TEST_CASE("unique: errors") {
  CHECK_THROWS_WITH_AS(ops::unique(Tensor::zeros({2}, DType::u8)),
                       doctest::Contains("unique: supports f32 and i64, got u8[2] cpu"),
                       DTypeError);
}
