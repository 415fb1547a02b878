// CPU tests of gather, index_select, masked_fill and one_hot: hand-computed cases and
// error messages (out-of-range indices name the value and the size).
#include <doctest/doctest.h>

#include "kernels/ops.h"

using namespace vq;
using I64 = std::vector<int64_t>;
using F32 = std::vector<float>;

namespace {
Tensor ti(const I64& v, const Shape& s) { return Tensor::from_vector(v, s); }
Tensor tf(const F32& v, const Shape& s) { return Tensor::from_vector(v, s); }
}  // namespace

TEST_CASE("gather: along dim 1 and dim 0, like torch.gather") {
  Tensor x = tf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor g1 = ops::gather(x, 1, ti({2, 0, 1, 1}, {2, 2}));
  CHECK(g1.shape() == Shape{2, 2});
  CHECK(g1.to_vector<float>() == F32{3, 1, 5, 5});
  Tensor g0 = ops::gather(x, 0, ti({1, 0, 1}, {1, 3}));
  CHECK(g0.to_vector<float>() == F32{4, 2, 6});
  // Negative dim, index smaller than x in a non-gathered dim, non-contiguous x.
  Tensor gm = ops::gather(x, -1, ti({1}, {1, 1}));
  CHECK(gm.to_vector<float>() == F32{2});
  Tensor gt = ops::gather(x.t(), 0, ti({1, 0}, {1, 2}));  // x.t() = [[1,4],[2,5],[3,6]]
  CHECK(gt.to_vector<float>() == F32{2, 4});
  // i64 data and a 3-D case.
  Tensor xi = Tensor::arange(8).view({2, 2, 2});
  Tensor g3 = ops::gather(xi, 2, ti({1, 1, 0, 0, 1, 0, 0, 1}, {2, 2, 2}));
  CHECK(g3.to_vector<int64_t>() == I64{1, 1, 2, 2, 5, 4, 6, 7});
}

TEST_CASE("gather: errors name the index value, the size and the shapes") {
  Tensor x = tf({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK_THROWS_WITH_AS(ops::gather(x, 1, ti({3, 0}, {2, 1})),
                       doctest::Contains("gather: index 3 is out of bounds for dim 1 with size 3"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::gather(x, 1, ti({-1, 0}, {2, 1})),
                       doctest::Contains("index -1 is out of bounds"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::gather(x, 1, ti({0, 0}, {2})),
                       doctest::Contains("x=f32[2, 3] cpu, index=i64[2] cpu"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::gather(x, 1, ti({0, 0, 0}, {3, 1})),
                       doctest::Contains("index size 3 exceeds x size 2 at dim 0"), ShapeError);
  CHECK_THROWS_AS(ops::gather(x, 1, tf({0, 0}, {2, 1})), DTypeError);
}

TEST_CASE("index_select: rows, columns, codebook lookup") {
  Tensor x = tf({1, 2, 3, 4, 5, 6}, {3, 2});
  CHECK(ops::index_select(x, 0, ti({2, 0, 2}, {3})).to_vector<float>() == F32{5, 6, 1, 2, 5, 6});
  Tensor c = ops::index_select(x, 1, ti({1}, {1}));
  CHECK(c.shape() == Shape{3, 1});
  CHECK(c.to_vector<float>() == F32{2, 4, 6});
  // Codebook lookup: embed [K=4, D=3], indices [5] -> [5, 3].
  Tensor embed = Tensor::arange(12.0, 24.0, 1.0, DType::f32).view({4, 3});
  Tensor q = ops::index_select(embed, 0, ti({3, 3, 0, 1, 2}, {5}));
  CHECK(q.shape() == Shape{5, 3});
  CHECK(q.to_vector<float>() == F32{21, 22, 23, 21, 22, 23, 12, 13, 14, 15, 16, 17, 18, 19, 20});
  CHECK(ops::index_select(x, 0, Tensor::zeros({0}, DType::i64)).shape() == Shape{0, 2});
}

TEST_CASE("index_select: errors") {
  Tensor x = tf({1, 2, 3, 4, 5, 6}, {3, 2});
  CHECK_THROWS_WITH_AS(
      ops::index_select(x, 0, ti({0, 3}, {2})),
      doctest::Contains("index_select: index 3 is out of bounds for dim 0 with size 3"),
      ShapeError);
  CHECK_THROWS_WITH_AS(ops::index_select(x, 0, ti({0, 1}, {1, 2})),
                       doctest::Contains("index must be 0-D or 1-D"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::index_select(x, 2, ti({0}, {1})), doctest::Contains("index_select"),
                       ShapeError);
}

TEST_CASE("masked_fill: broadcast mask, f32 and i64") {
  Tensor x = tf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor m = Tensor::from_vector(std::vector<uint8_t>{1, 0, 1}, {3}, DType::boolean);
  CHECK(ops::masked_fill(x, m, -1.5).to_vector<float>() == F32{-1.5f, 2, -1.5f, -1.5f, 5, -1.5f});
  Tensor mr = Tensor::from_vector(std::vector<uint8_t>{0, 1}, {2, 1}, DType::u8);
  CHECK(ops::masked_fill(x, mr, 0).to_vector<float>() == F32{1, 2, 3, 0, 0, 0});
  Tensor xi = Tensor::arange(4);
  Tensor mi = Tensor::from_vector(std::vector<uint8_t>{0, 0, 1, 1}, {4}, DType::boolean);
  CHECK(ops::masked_fill(xi, mi, 9).to_vector<int64_t>() == I64{0, 1, 9, 9});
  CHECK(x.to_vector<float>() == F32{1, 2, 3, 4, 5, 6});  // input untouched
}

TEST_CASE("masked_fill: errors") {
  Tensor x = tf({1, 2, 3, 4}, {2, 2});
  Tensor m3 = Tensor::from_vector(std::vector<uint8_t>{1, 0, 1}, {3}, DType::boolean);
  CHECK_THROWS_WITH_AS(ops::masked_fill(x, m3, 0), doctest::Contains("masked_fill"), ShapeError);
  Tensor big = Tensor::from_vector(std::vector<uint8_t>(8, 1), {2, 2, 2}, DType::boolean);
  CHECK_THROWS_WITH_AS(ops::masked_fill(x, big, 0),
                       doctest::Contains("mask [2, 2, 2] cannot be broadcast to x [2, 2]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::masked_fill(x, tf({1, 0}, {2}), 0),
                       doctest::Contains("mask must be bool or u8"), DTypeError);
}

TEST_CASE("one_hot: i64 default, f32, inferred classes, any index shape") {
  Tensor oh = ops::one_hot(ti({2, 0, 1}, {3}), 3);
  CHECK(oh.dtype() == DType::i64);
  CHECK(oh.shape() == Shape{3, 3});
  CHECK(oh.to_vector<int64_t>() == I64{0, 0, 1, 1, 0, 0, 0, 1, 0});
  Tensor of = ops::one_hot(ti({1, 0}, {2, 1}), 2, DType::f32);
  CHECK(of.shape() == Shape{2, 1, 2});
  CHECK(of.to_vector<float>() == F32{0, 1, 1, 0});
  CHECK(ops::one_hot(ti({3, 1}, {2}), -1).shape() == Shape{2, 4});
  Tensor ob = ops::one_hot(ti({1}, {1}), 2, DType::boolean);
  CHECK(ob.dtype() == DType::boolean);
  CHECK(ob.to_vector<uint8_t>() == std::vector<uint8_t>{0, 1});
}

TEST_CASE("one_hot: errors") {
  CHECK_THROWS_WITH_AS(ops::one_hot(ti({0, 3}, {2}), 3),
                       doctest::Contains("one_hot: class values must be in [0, 3), got 3"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::one_hot(ti({-2}, {1}), 3), doctest::Contains("got -2"), ShapeError);
  CHECK_THROWS_AS(ops::one_hot(tf({0}, {1}), 3), DTypeError);
}
