// Reductions, additive family: sum, mean, var, norm over dim sets (all, one, several,
// negative, keepdim, non-contiguous input, zero-size), count_nonzero / any / all, and
// error messages. Expected values are computed by hand in the comments.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/ops.h"

using namespace vq;

namespace {

// x = arange(24) as f32 [2, 3, 4]: x[a][b][c] = 12a + 4b + c.
Tensor x234() { return Tensor::arange(24, DType::f32).view({2, 3, 4}); }

void check_close(const Tensor& t, const std::vector<float>& want, double tol = 1e-5) {
  const std::vector<float> got = t.to_vector<float>();
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("element ", i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(tol));
  }
}

}  // namespace

TEST_CASE("sum: all dims, one dim, several dims, negative dims") {
  const Tensor x = x234();
  Tensor all = ops::sum(x);
  CHECK(all.shape() == Shape{});
  CHECK(all.item<float>() == 276.f);  // 0 + 1 + ... + 23
  // dim 0: x[0][i] + x[1][i] = 2i + 12
  Tensor s0 = ops::sum(x, {0});
  CHECK(s0.shape() == Shape{3, 4});
  check_close(s0, {12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34});
  // dim 1: sum_b (12a + 4b + c) = 36a + 12 + 3c
  Tensor s1 = ops::sum(x, {1});
  CHECK(s1.shape() == Shape{2, 4});
  check_close(s1, {12, 15, 18, 21, 48, 51, 54, 57});
  // dims {0, 2}: sum_a sum_c (12a + 4b + c) = 48 + 32b + 12 = 60 + 32b
  check_close(ops::sum(x, {0, 2}), {60, 92, 124});
  check_close(ops::sum(x, {2, 0}), {60, 92, 124});
  check_close(ops::sum(x, {-1, -3}), {60, 92, 124});
  // dim -1: sum_c (4k + c) = 16k + 6 for row k
  check_close(ops::sum(x, {-1}), {6, 22, 38, 54, 70, 86});
  // dims {0, 1}: leading dims of a contiguous tensor (column reduction): 6 * 0..3 sums
  check_close(ops::sum(x, {0, 1}), {60, 66, 72, 78});
  // dims {1, 2}: trailing block: 16 * ... per a: sum of 12a + (0..11) = 144a + 66
  check_close(ops::sum(x, {1, 2}), {66, 210});
}

TEST_CASE("sum: keepdim, non-contiguous input, scalar and zero-size inputs") {
  const Tensor x = x234();
  Tensor k = ops::sum(x, {1}, true);
  CHECK(k.shape() == Shape{2, 1, 4});
  check_close(k, {12, 15, 18, 21, 48, 51, 54, 57});
  CHECK(ops::sum(x, {}, true).shape() == Shape{1, 1, 1});
  CHECK(ops::sum(x, {0, 2}, true).shape() == Shape{1, 3, 1});
  // xt[c][b][a] = x[a][b][c]; summing xt over its dim 2 = x over dim 0, laid out [c][b].
  const Tensor xt = x.transpose(0, 2);
  Tensor st = ops::sum(xt, {2});
  CHECK(st.shape() == Shape{4, 3});
  std::vector<float> want;
  for (int c = 0; c < 4; ++c)
    for (int b = 0; b < 3; ++b) want.push_back(2.f * (4 * b + c) + 12.f);
  check_close(st, want);
  // Non-range dims of a non-contiguous tensor: xt over {0, 2} = x over {2, 0}.
  check_close(ops::sum(xt, {0, 2}), {60, 92, 124});
  // A size-1 dim between reduced dims.
  const Tensor y = Tensor::arange(6, DType::f32).view({2, 1, 3});
  check_close(ops::sum(y, {0, 2}), {15});
  // Scalars: "dim 0" of a rank-0 tensor is allowed, like torch.
  const Tensor s = Tensor::scalar(3.f);
  CHECK(ops::sum(s).item<float>() == 3.f);
  CHECK(ops::sum(s, {0}).item<float>() == 3.f);
  // Zero-size: empty sums are 0; an empty kept dim gives an empty result.
  const Tensor z = Tensor::empty({0, 3});
  check_close(ops::sum(z, {0}), {0, 0, 0});
  CHECK(ops::sum(z, {1}).shape() == Shape{0});
  CHECK(ops::sum(z).item<float>() == 0.f);
}

TEST_CASE("sum: long rows and long columns match a double reference") {
  Generator gen(7);
  // Row path across several chunks (inner == 1, R = 20000), and the column path
  // (sum over dim 0 of [3000, 5], a bias gradient) across several chunks.
  const Tensor rows = Tensor::randn({2, 20000}, gen);
  const Tensor cols = Tensor::randn({3000, 5}, gen);
  const std::vector<float> rv = rows.to_vector<float>(), cv = cols.to_vector<float>();
  std::vector<float> rw(2, 0.f), cw(5, 0.f);
  for (int i = 0; i < 2; ++i) {
    double acc = 0;
    for (int j = 0; j < 20000; ++j) acc += rv[i * 20000 + j];
    rw[i] = static_cast<float>(acc);
  }
  for (int j = 0; j < 5; ++j) {
    double acc = 0;
    for (int i = 0; i < 3000; ++i) acc += cv[i * 5 + j];
    cw[j] = static_cast<float>(acc);
  }
  const std::vector<float> rs = ops::sum(rows, {1}).to_vector<float>();
  const std::vector<float> cs = ops::sum(cols, {0}).to_vector<float>();
  for (int i = 0; i < 2; ++i) CHECK(rs[i] == doctest::Approx(rw[i]).epsilon(1e-6));
  for (int j = 0; j < 5; ++j) CHECK(cs[j] == doctest::Approx(cw[j]).epsilon(1e-6));
  // 10^6 copies of 0.1f: double accumulation gives the correctly rounded float.
  const Tensor tenth = Tensor::full({1000000}, 0.1);
  CHECK(ops::sum(tenth).item<float>() == static_cast<float>(1e6 * double(0.1f)));
  // Deterministic: the same call twice gives the same bits.
  CHECK(ops::sum(rows, {1}).to_vector<float>() == rs);
}

TEST_CASE("sum: errors name the op, the dims and the shape") {
  const Tensor x = x234();
  CHECK_THROWS_WITH_AS(ops::sum(x, {3}), doctest::Contains("sum: dim 3 out of range for x=[2, 3, 4]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::sum(x, {1, -2}),
                       doctest::Contains("sum: dim 1 repeated in dims=[1, -2] for x=[2, 3, 4]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::sum(Tensor::arange(3)), doctest::Contains("sum: x must be f32"),
                       DTypeError);
  CHECK_THROWS_WITH_AS(ops::mean(x, {-4}), doctest::Contains("mean: dim -4 out of range"),
                       ShapeError);
}

TEST_CASE("mean: dims and empty input") {
  const Tensor x = x234();
  CHECK(ops::mean(x).item<float>() == 11.5f);
  // dim 1: (36a + 12 + 3c) / 3 = 12a + 4 + c
  check_close(ops::mean(x, {1}), {4, 5, 6, 7, 16, 17, 18, 19});
  check_close(ops::mean(x, {0, 2}, true), {7.5f, 11.5f, 15.5f});
  CHECK(ops::mean(x, {0, 2}, true).shape() == Shape{1, 3, 1});
  CHECK(std::isnan(ops::mean(Tensor::empty({0})).item<float>()));  // torch: nan
}

TEST_CASE("var: unbiased and biased, several dims, precision, too few samples") {
  const Tensor v = Tensor::from_vector({1, 2, 3, 4}, {4});
  // mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5
  CHECK(ops::var(v).item<float>() == doctest::Approx(5.0 / 3.0));
  CHECK(ops::var(v, {}, false).item<float>() == doctest::Approx(1.25));
  // Values far from 0: the two-pass form keeps full precision.
  const Tensor far = Tensor::from_vector({10001, 10002, 10003, 10004}, {4});
  CHECK(ops::var(far).item<float>() == doctest::Approx(5.0 / 3.0).epsilon(1e-6));
  const Tensor x = x234();
  // along dim 1 the values are c0 + {0, 4, 8}: unbiased var 16, biased 32/3
  check_close(ops::var(x, {1}), std::vector<float>(8, 16.f));
  check_close(ops::var(x, {1}, false, true), std::vector<float>(8, 32.f / 3.f));
  CHECK(ops::var(x, {1}, false, true).shape() == Shape{2, 1, 4});
  // dims {0, 2}: values 12a + c + 4b: biased var = var(c) + var(12a) = 1.25 + 36 = 37.25,
  // unbiased = 37.25 * 8 / 7
  check_close(ops::var(x, {0, 2}, false), {37.25f, 37.25f, 37.25f});
  check_close(ops::var(x, {0, 2}), std::vector<float>(3, 37.25f * 8.f / 7.f));
  // One sample: unbiased divides by 0 -> nan (torch), biased gives 0.
  CHECK(std::isnan(ops::var(Tensor::ones({1})).item<float>()));
  CHECK(ops::var(Tensor::ones({1}), {}, false).item<float>() == 0.f);
  CHECK_THROWS_WITH_AS(ops::var(x, {5}), doctest::Contains("var: dim 5 out of range for x=[2, 3, 4]"),
                       ShapeError);
}

TEST_CASE("norm: p = 2, 1, inf, 3, over dims") {
  const Tensor v = Tensor::from_vector({3, -4}, {2});
  CHECK(ops::norm(v).item<float>() == doctest::Approx(5.0));
  CHECK(ops::norm(v, {}, 1.0).item<float>() == doctest::Approx(7.0));
  CHECK(ops::norm(v, {}, INFINITY).item<float>() == doctest::Approx(4.0));
  CHECK(ops::norm(v, {}, 3.0).item<float>() == doctest::Approx(std::cbrt(91.0)));
  const Tensor m = Tensor::from_vector({3, 4, 6, -8}, {2, 2});
  check_close(ops::norm(m, {1}), {5, 10});
  check_close(ops::norm(m, {0}), {std::sqrt(45.f), std::sqrt(80.f)});
  CHECK(ops::norm(m, {-1}, 2.0, true).shape() == Shape{2, 1});
  check_close(ops::norm(m, {0}, INFINITY), {6, 8});
  CHECK(ops::norm(Tensor::empty({0})).item<float>() == 0.f);
  CHECK_THROWS_WITH_AS(ops::norm(m, {}, 0.0), doctest::Contains("norm: p must be > 0"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(ops::norm(m, {2}), doctest::Contains("norm: dim 2 out of range for x=[2, 2]"),
                       ShapeError);
}

TEST_CASE("count_nonzero, any, all") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor f = Tensor::from_vector(std::vector<float>{0, 1, -2, 0, nan}, {5});
  const Tensor c = ops::count_nonzero(f);
  CHECK(c.dtype() == DType::i64);
  CHECK(c.shape() == Shape{});
  CHECK(c.item<int64_t>() == 3);  // NaN counts as non-zero
  CHECK(ops::count_nonzero(Tensor::from_vector(std::vector<int64_t>{0, 5, 0, 7}, {2, 2}))
            .item<int64_t>() == 2);
  const Tensor b = Tensor::from_vector(std::vector<uint8_t>{0, 1, 1, 0, 1, 0}, {2, 3},
                                       DType::boolean);
  CHECK(ops::count_nonzero(b).item<int64_t>() == 3);
  CHECK(ops::count_nonzero(b.t()).item<int64_t>() == 3);
  CHECK(ops::any(b));
  CHECK_FALSE(ops::all(b));
  const Tensor ones = Tensor::from_vector(std::vector<uint8_t>{1, 1, 1}, {3}, DType::boolean);
  CHECK(ops::all(ones));
  const Tensor zeros = Tensor::from_vector(std::vector<uint8_t>{0, 0}, {2}, DType::boolean);
  CHECK_FALSE(ops::any(zeros));
  // Empty: any is false, all is true (like torch).
  const Tensor empty = Tensor::empty({0}, DType::boolean);
  CHECK_FALSE(ops::any(empty));
  CHECK(ops::all(empty));
  CHECK(ops::count_nonzero(Tensor::empty({0, 4})).item<int64_t>() == 0);
  CHECK_THROWS_WITH_AS(ops::any(f), doctest::Contains("any: x must be bool or u8, got f32[5]"),
                       DTypeError);
  CHECK_THROWS_WITH_AS(ops::all(f), doctest::Contains("all: x must be bool or u8"), DTypeError);
}
