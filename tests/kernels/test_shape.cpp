// CPU tests of cat, stack, split, split_sizes, chunk (views) and pad (constant mode,
// negative pads crop).
#include <doctest/doctest.h>

#include "kernels/ops.h"

using namespace vq;
using I64 = std::vector<int64_t>;
using F32 = std::vector<float>;

namespace {
Tensor tf(const F32& v, const Shape& s) { return Tensor::from_vector(v, s); }
Tensor ar(int64_t n, const Shape& s) {
  return Tensor::arange(0.0, double(n), 1.0, DType::f32).view(s);
}
}  // namespace

TEST_CASE("cat: along dim 0 and dim 1, non-contiguous inputs, i64") {
  Tensor a = ar(4, {2, 2}), b = tf({9, 8}, {1, 2});
  Tensor c0 = ops::cat({a, b}, 0);
  CHECK(c0.shape() == Shape{3, 2});
  CHECK(c0.to_vector<float>() == F32{0, 1, 2, 3, 9, 8});
  Tensor c1 = ops::cat({a, tf({7, 6, 5, 4, 3, 2}, {2, 3}), a.t()}, -1);
  CHECK(c1.shape() == Shape{2, 7});
  CHECK(c1.to_vector<float>() == F32{0, 1, 7, 6, 5, 0, 2, 2, 3, 4, 3, 2, 1, 3});
  Tensor e = Tensor::empty({2, 0});
  CHECK(ops::cat({e, a, e}, 1).to_vector<float>() == a.to_vector<float>());
  Tensor ci = ops::cat({Tensor::arange(2), Tensor::arange(3)}, 0);
  CHECK(ci.to_vector<int64_t>() == I64{0, 1, 0, 1, 2});
}

TEST_CASE("cat: errors name every shape") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({2, 4}), c = Tensor::zeros({3, 3});
  CHECK_THROWS_WITH_AS(
      ops::cat({a, b, c}, 0),
      doctest::Contains("cat: shapes [2, 3], [2, 4], [3, 3] must match except in dim 0"),
      ShapeError);
  CHECK_THROWS_WITH_AS(ops::cat({a, Tensor::zeros({6})}, 0),
                       doctest::Contains("shapes [2, 3], [6]"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::cat({}, 0), doctest::Contains("non-empty list"), ShapeError);
  CHECK_THROWS_AS(ops::cat({a, Tensor::zeros({2, 3}, DType::i64)}, 0), DTypeError);
  CHECK_THROWS_WITH_AS(ops::cat({Tensor::scalar(1.f)}, 0), doctest::Contains("zero-dimensional"),
                       ShapeError);
}

TEST_CASE("stack: new leading, middle and trailing dims") {
  Tensor a = tf({1, 2}, {2}), b = tf({3, 4}, {2});
  Tensor s0 = ops::stack({a, b}, 0);
  CHECK(s0.shape() == Shape{2, 2});
  CHECK(s0.to_vector<float>() == F32{1, 2, 3, 4});
  Tensor s1 = ops::stack({a, b}, 1);
  CHECK(s1.to_vector<float>() == F32{1, 3, 2, 4});
  Tensor sm = ops::stack({a, b, a}, -1);
  CHECK(sm.shape() == Shape{2, 3});
  CHECK(sm.to_vector<float>() == F32{1, 3, 1, 2, 4, 2});
}

TEST_CASE("stack: errors name every shape") {
  CHECK_THROWS_WITH_AS(
      ops::stack({Tensor::zeros({2}), Tensor::zeros({3}), Tensor::zeros({2})}, 0),
      doctest::Contains("stack: all tensors must have the same shape, got [2], [3], [2]"),
      ShapeError);
  CHECK_THROWS_WITH_AS(ops::stack({Tensor::zeros({2})}, 2), doctest::Contains("stack"), ShapeError);
}

TEST_CASE("split, split_sizes, chunk: views with torch's sizes") {
  Tensor x = ar(10, {5, 2});
  auto p = ops::split(x, 2, 0);
  REQUIRE(p.size() == 3);
  CHECK(p[0].shape() == Shape{2, 2});
  CHECK(p[2].shape() == Shape{1, 2});
  CHECK(p[2].to_vector<float>() == F32{8, 9});
  CHECK(p[1].same_storage(x));
  p[1].fill_(-1);  // writes go through to x
  CHECK(x.to_vector<float>()[4] == -1.f);
  auto q = ops::split_sizes(x, {1, 4}, 0);
  CHECK(q[1].shape() == Shape{4, 2});
  auto cols = ops::split(x, 1, 1);
  CHECK(cols.size() == 2);
  CHECK(cols[1].contiguous().to_vector<float>() == F32{1, 3, -1, -1, 9});
  auto c = ops::chunk(x, 3, 0);  // ceil(5 / 3) = 2 -> sizes 2, 2, 1
  REQUIRE(c.size() == 3);
  CHECK(c[2].shape() == Shape{1, 2});
  CHECK(ops::chunk(ar(6, {6}), 4, 0).size() == 3);  // torch: sizes 2, 2, 2
  CHECK(ops::chunk(Tensor::zeros({0}), 3, 0).size() == 3);
}

TEST_CASE("split, split_sizes, chunk: errors") {
  Tensor x = Tensor::zeros({4});
  CHECK_THROWS_WITH_AS(ops::split(x, 0, 0), doctest::Contains("split: split_size must be positive"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(
      ops::split_sizes(x, {1, 2}, 0),
      doctest::Contains("split_sizes: sizes [1, 2] must be non-negative and sum to 4"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::chunk(x, 0, 0), doctest::Contains("chunk: chunks must be positive"),
                       ShapeError);
}

TEST_CASE("pad: constant value, last dims first, negative pads crop") {
  Tensor x = ar(6, {2, 3});
  Tensor p = ops::pad(x, {1, 0}, -1);
  CHECK(p.shape() == Shape{2, 4});
  CHECK(p.to_vector<float>() == F32{-1, 0, 1, 2, -1, 3, 4, 5});
  Tensor p2 = ops::pad(x, {0, 1, 1, 0});
  CHECK(p2.shape() == Shape{3, 4});
  CHECK(p2.to_vector<float>() == F32{0, 0, 0, 0, 0, 1, 2, 0, 3, 4, 5, 0});
  Tensor crop = ops::pad(x, {-1, 1, 0, -1}, 7);
  CHECK(crop.shape() == Shape{1, 3});
  CHECK(crop.to_vector<float>() == F32{1, 2, 7});
  Tensor all = ops::pad(x, {-3, 2});  // nothing of x survives
  CHECK(all.to_vector<float>() == F32(4, 0.f));
  CHECK(ops::pad(x, {0, 0, -2, 0}).shape() == Shape{0, 3});
  Tensor pi = ops::pad(Tensor::arange(2), {1, 1}, 5);
  CHECK(pi.to_vector<int64_t>() == I64{5, 0, 1, 5});
}

TEST_CASE("pad: errors") {
  Tensor x = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH_AS(
      ops::pad(x, {1}),
      doctest::Contains("pad: pads must have an even length of at most 2 * ndim = 4, got 1"),
      ShapeError);
  CHECK_THROWS_WITH_AS(ops::pad(x, {1, 1, 1, 1, 1, 1}), doctest::Contains("got 6"), ShapeError);
  CHECK_THROWS_WITH_AS(
      ops::pad(x, {-2, -2}),
      doctest::Contains("padding (-2, -2) of dim 1 of x=[2, 3] gives negative size -1"),
      ShapeError);
}
