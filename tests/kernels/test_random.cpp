// CPU tests of randperm and multinomial: permutation property, reproducibility from the
// generator state, and sampling statistics (counts within 5 sigma of expectation).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/ops.h"

using namespace vq;
using I64 = std::vector<int64_t>;
using F32 = std::vector<float>;

namespace {
Tensor tf(const F32& v, const Shape& s) { return Tensor::from_vector(v, s); }

// |count - n p| <= 5 sigma for every category.
void check_counts(const std::vector<int64_t>& counts, const std::vector<double>& p, int64_t n) {
  for (size_t k = 0; k < p.size(); ++k) {
    const double mean = n * p[k], sigma = std::sqrt(n * p[k] * (1 - p[k]));
    INFO("category " << k << ": count " << counts[k] << ", expected " << mean);
    CHECK(std::fabs(counts[k] - mean) <= 5 * sigma + 1e-9);
  }
}
}  // namespace

TEST_CASE("randperm: a permutation, reproducible from the generator state") {
  Generator g(42);
  I64 a = ops::randperm(1000, g).to_vector<int64_t>();
  I64 sorted = a;
  std::sort(sorted.begin(), sorted.end());
  I64 iota(1000);
  std::iota(iota.begin(), iota.end(), 0);
  CHECK(sorted == iota);
  CHECK(a != iota);
  CHECK(g.offset() == 1000);  // one counter per element
  Generator h(42);
  CHECK(ops::randperm(1000, h).to_vector<int64_t>() == a);
  CHECK(ops::randperm(1000, h).to_vector<int64_t>() != a);  // the offset moved on
  CHECK(ops::randperm(0, g).numel() == 0);
  CHECK(ops::randperm(1, g).to_vector<int64_t>() == I64{0});
  // Position 0 is roughly uniform over 4 values.
  std::vector<int64_t> first(4, 0);
  Generator u(7);
  for (int t = 0; t < 4000; ++t) ++first[ops::randperm(4, u).to_vector<int64_t>()[0]];
  check_counts(first, {0.25, 0.25, 0.25, 0.25}, 4000);
}

TEST_CASE("randperm: errors") {
  Generator g(0);
  CHECK_THROWS_WITH_AS(ops::randperm(-1, g), doctest::Contains("randperm: n must be non-negative"),
                       ShapeError);
}

TEST_CASE("multinomial with replacement: frequencies follow the weights") {
  Generator g(1);
  const int64_t n = 40000;
  Tensor s = ops::multinomial(tf({1, 2, 3, 4}, {4}), n, true, g);
  CHECK(s.shape() == Shape{n});
  CHECK(s.dtype() == DType::i64);
  std::vector<int64_t> counts(4, 0);
  for (int64_t v : s.to_vector<int64_t>()) ++counts[v];
  check_counts(counts, {0.1, 0.2, 0.3, 0.4}, n);
  // Zero weights are never drawn; rows are independent.
  Tensor p2 = tf({0, 1, 0, 3, 5, 0, 0, 0}, {2, 4});
  I64 s2 = ops::multinomial(p2, 1000, true, g).to_vector<int64_t>();
  for (int64_t j = 0; j < 1000; ++j) CHECK((s2[j] == 1 || s2[j] == 3));
  for (int64_t j = 1000; j < 2000; ++j) CHECK(s2[j] == 0);
  // Same generator state, same samples.
  Generator a(9), b(9);
  CHECK(ops::multinomial(p2, 50, true, a).to_vector<int64_t>() ==
        ops::multinomial(p2, 50, true, b).to_vector<int64_t>());
}

TEST_CASE("multinomial without replacement: distinct samples, first and second draw laws") {
  Generator g(3);
  const int64_t R = 20000;
  const F32 w = {1, 2, 3, 4};
  F32 rows;
  for (int64_t r = 0; r < R; ++r) rows.insert(rows.end(), w.begin(), w.end());
  I64 s = ops::multinomial(tf(rows, {R, 4}), 2, false, g).to_vector<int64_t>();
  const std::vector<double> p = {0.1, 0.2, 0.3, 0.4};
  std::vector<int64_t> first(4, 0), second(4, 0);
  for (int64_t r = 0; r < R; ++r) {
    CHECK(s[2 * r] != s[2 * r + 1]);
    ++first[s[2 * r]];
    ++second[s[2 * r + 1]];
  }
  check_counts(first, p, R);
  // P(second = j) = sum over i != j of p_i * p_j / (1 - p_i).
  std::vector<double> p2(4, 0.0);
  for (int j = 0; j < 4; ++j)
    for (int i = 0; i < 4; ++i)
      if (i != j) p2[j] += p[i] * p[j] / (1 - p[i]);
  check_counts(second, p2, R);
  // num_samples == K gives a permutation; zero-weight categories are excluded.
  I64 all = ops::multinomial(tf(w, {4}), 4, false, g).to_vector<int64_t>();
  std::sort(all.begin(), all.end());
  CHECK(all == I64{0, 1, 2, 3});
  for (int t = 0; t < 50; ++t) {
    I64 two = ops::multinomial(tf({0, 1, 0, 1}, {4}), 2, false, g).to_vector<int64_t>();
    std::sort(two.begin(), two.end());
    CHECK(two == I64{1, 3});
  }
}

TEST_CASE("multinomial: errors") {
  Generator g(0);
  CHECK_THROWS_WITH_AS(ops::multinomial(tf({1, -1}, {2}), 1, true, g),
                       doctest::Contains("probs must be finite and non-negative"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::multinomial(tf({1, NAN}, {2}), 1, true, g),
                       doctest::Contains("finite and non-negative"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::multinomial(tf({1, 1, 0, 0}, {2, 2}), 1, true, g),
                       doctest::Contains("every row of probs must have a positive sum"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(
      ops::multinomial(tf({1, 1}, {2}), 3, false, g),
      doctest::Contains("cannot draw 3 samples without replacement from 2 categories"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::multinomial(tf({1, 0, 1}, {3}), 3, false, g),
                       doctest::Contains("only 2 categories with non-zero probability"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::multinomial(tf({1}, {1, 1, 1}), 1, true, g),
                       doctest::Contains("probs must be [K] or [R, K]"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::multinomial(tf({1}, {1}), 0, true, g),
                       doctest::Contains("num_samples must be positive"), ShapeError);
}
