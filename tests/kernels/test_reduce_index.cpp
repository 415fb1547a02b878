// max/min with indices, argmax/argmin, amax/amin: hand-computed cases over rows and
// columns, ties (first index wins), NaN (wins, first NaN), long rows split into chunks,
// keepdim, negative dims, zero-size inputs and error messages.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/ops.h"

using namespace vq;

namespace {
std::vector<int64_t> idx(const Tensor& t) { return t.to_vector<int64_t>(); }
std::vector<float> val(const Tensor& t) { return t.to_vector<float>(); }
}  // namespace

TEST_CASE("max/min: rows and columns, ties keep the first index") {
  const Tensor x = Tensor::from_vector({1, 3, 3, 5, 2, 5}, {2, 3});
  auto [v1, i1] = ops::max(x, 1);
  CHECK(v1.shape() == Shape{2});
  CHECK(i1.dtype() == DType::i64);
  CHECK(val(v1) == std::vector<float>{3, 5});
  CHECK(idx(i1) == std::vector<int64_t>{1, 0});
  auto [w1, j1] = ops::min(x, -1);
  CHECK(val(w1) == std::vector<float>{1, 2});
  CHECK(idx(j1) == std::vector<int64_t>{0, 1});
  // Columns (dim 0): [1, 5] [3, 2] [3, 5]
  auto [v0, i0] = ops::max(x, 0);
  CHECK(val(v0) == std::vector<float>{5, 3, 5});
  CHECK(idx(i0) == std::vector<int64_t>{1, 0, 1});
  const Tensor tie = Tensor::from_vector({2, 7, 2, 7, 1, 7}, {3, 2});
  CHECK(idx(ops::argmax(tie, 0)) == std::vector<int64_t>{0, 0});
  CHECK(idx(ops::argmin(tie, 0)) == std::vector<int64_t>{2, 0});
  // keepdim
  auto [vk, ik] = ops::max(x, 1, true);
  CHECK(vk.shape() == Shape{2, 1});
  CHECK(ik.shape() == Shape{2, 1});
  // Middle dim of [2, 3, 4] = arange: the max along dim 1 is always at b = 2.
  const Tensor a = Tensor::arange(24, DType::f32).view({2, 3, 4});
  CHECK(idx(ops::argmax(a, 1)) == std::vector<int64_t>(8, 2));
  CHECK(idx(ops::argmin(a, -2)) == std::vector<int64_t>(8, 0));
  CHECK(ops::argmax(a, 1, true).shape() == Shape{2, 1, 4});
  // Non-contiguous input: argmax over dim 0 of a.t()-like view equals argmax over dim 1.
  const Tensor at = x.t();  // [3, 2]
  CHECK(idx(ops::argmax(at, 0)) == std::vector<int64_t>{1, 0});
}

TEST_CASE("max/min: NaN wins, first NaN") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor x = Tensor::from_vector(std::vector<float>{1, nan, 3, nan}, {4});
  auto [v, i] = ops::max(x, 0);
  CHECK(std::isnan(v.item<float>()));
  CHECK(i.item<int64_t>() == 1);
  auto [w, j] = ops::min(x, 0);
  CHECK(std::isnan(w.item<float>()));
  CHECK(j.item<int64_t>() == 1);
  CHECK(std::isnan(ops::amax(x).item<float>()));
  // Column path with a NaN in the second row.
  const Tensor c = Tensor::from_vector(std::vector<float>{1, 9, nan, 2}, {2, 2});
  CHECK(idx(ops::argmax(c, 0)) == std::vector<int64_t>{1, 0});
}

TEST_CASE("max: long rows across chunks keep the first maximum") {
  std::vector<float> v(200000, 0.f);
  v[65537] = 5.f;  // first maximum, in the second chunk of 65536
  v[70000] = 5.f;
  v[150000] = 4.f;
  v[10] = -3.f;
  const Tensor x = Tensor::from_vector(v, {1, 200000});
  auto [m, i] = ops::max(x, 1);
  CHECK(m.item<float>() == 5.f);
  CHECK(i.item<int64_t>() == 65537);
  CHECK(ops::argmin(x, 1).item<int64_t>() == 10);
  CHECK(ops::amax(x).item<float>() == 5.f);
  CHECK(ops::amin(x).item<float>() == -3.f);
}

TEST_CASE("amax/amin: scalar results") {
  const Tensor a = Tensor::arange(24, DType::f32).view({2, 3, 4}).transpose(0, 2);
  Tensor mx = ops::amax(a);
  CHECK(mx.shape() == Shape{});
  CHECK(mx.item<float>() == 23.f);
  CHECK(ops::amin(a).item<float>() == 0.f);
  CHECK(ops::amax(Tensor::scalar(-2.f)).item<float>() == -2.f);
}

TEST_CASE("max/argmax: zero-size inputs and errors") {
  // Reducing a non-empty dim of a tensor with another empty dim gives an empty result.
  auto [v, i] = ops::max(Tensor::empty({0, 3}), 1);
  CHECK(v.shape() == Shape{0});
  CHECK(i.shape() == Shape{0});
  CHECK_THROWS_WITH_AS(ops::max(Tensor::empty({2, 0}), 1),
                       doctest::Contains("max: cannot reduce over dim 1 of size 0 (x=[2, 0])"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::argmin(Tensor::empty({0, 3}), 0),
                       doctest::Contains("argmin: cannot reduce over dim 0 of size 0 (x=[0, 3])"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::amax(Tensor::empty({0})),
                       doctest::Contains("amax: empty input x=[0]"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::argmax(Tensor::zeros({2, 3}), 2),
                       doctest::Contains("argmax: dim 2 out of range for x=[2, 3]"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::min(Tensor::arange(3), 0), doctest::Contains("min: x must be f32"),
                       DTypeError);
}
