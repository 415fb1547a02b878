// CPU tests of scatter_add, index_add / index_add_, bincount and cumsum: hand-computed
// cases, error messages, and determinism of the keyed sums under many duplicates
// (identical across runs, equal to a serial double-precision sum within 1e-6 relative).
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "kernels/cpu/index.h"
#include "kernels/ops.h"

using namespace vq;
using I64 = std::vector<int64_t>;
using F32 = std::vector<float>;

namespace {
Tensor ti(const I64& v, const Shape& s) { return Tensor::from_vector(v, s); }
Tensor tf(const F32& v, const Shape& s) { return Tensor::from_vector(v, s); }

I64 random_indices(size_t n, int64_t k, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> dist(0, k - 1);
  I64 v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}
F32 random_values(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  F32 v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}
}  // namespace

TEST_CASE("scatter_add: torch.scatter_add examples") {
  // 1-D with duplicates.
  Tensor base = tf({1, 1, 1}, {3});
  Tensor out = ops::scatter_add(base, 0, ti({0, 2, 0, 2, 2}, {5}), tf({1, 2, 3, 4, 5}, {5}));
  CHECK(out.to_vector<float>() == F32{5, 1, 12});
  CHECK(base.to_vector<float>() == F32{1, 1, 1});
  // 2-D along dim 0: out[idx[i][j]][j] += src[i][j].
  Tensor z = Tensor::zeros({3, 2});
  Tensor o0 = ops::scatter_add(z, 0, ti({0, 1, 2, 0}, {2, 2}), tf({1, 2, 3, 4}, {2, 2}));
  CHECK(o0.to_vector<float>() == F32{1, 4, 0, 2, 3, 0});
  // Along dim 1 with an index smaller than src and base in dim 0.
  Tensor b2 = Tensor::zeros({3, 3});
  Tensor s2 = tf({1, 2, 3, 4, 5, 6, 7, 8, 9}, {3, 3});
  Tensor o1 = ops::scatter_add(b2, 1, ti({2, 2, 0, 1}, {2, 2}), s2);
  CHECK(o1.to_vector<float>() == F32{0, 0, 3, 4, 5, 0, 0, 0, 0});
  // i64.
  Tensor oi =
      ops::scatter_add(Tensor::zeros({2}, DType::i64), 0, ti({1, 1, 0}, {3}), ti({5, 6, 7}, {3}));
  CHECK(oi.to_vector<int64_t>() == I64{7, 11});
}

TEST_CASE("scatter_add: errors") {
  Tensor base = Tensor::zeros({3});
  CHECK_THROWS_WITH_AS(
      ops::scatter_add(base, 0, ti({0, 3}, {2}), tf({1, 2}, {2})),
      doctest::Contains("scatter_add: index 3 is out of bounds for dim 0 with size 3"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::scatter_add(base, 0, ti({0, 1, 2}, {3}), tf({1, 2}, {2})),
                       doctest::Contains("index size 3 exceeds src size 2 at dim 0"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::scatter_add(base, 0, ti({0}, {1, 1}), tf({1}, {1, 1})),
                       doctest::Contains("same number of dims"), ShapeError);
  CHECK_THROWS_AS(ops::scatter_add(base, 0, ti({0}, {1}), ti({1}, {1})), DTypeError);
}

TEST_CASE("index_add: rows into a codebook table, alpha, inner dims") {
  Tensor table = Tensor::zeros({3, 2});
  Tensor src = tf({1, 2, 3, 4, 5, 6, 7, 8}, {4, 2});
  Tensor out = ops::index_add(table, 0, ti({2, 0, 2, 2}, {4}), src);
  CHECK(out.to_vector<float>() == F32{3, 4, 0, 0, 13, 16});
  CHECK(table.to_vector<float>() == F32(6, 0.f));
  Tensor half = ops::index_add(Tensor::ones({3, 2}), 0, ti({1}, {1}), tf({2, 4}, {1, 2}), 0.5);
  CHECK(half.to_vector<float>() == F32{1, 1, 2, 3, 1, 1});
  // Along dim 1 of [2, 3, 2] with 2 indices: out[:, idx[j], :] += src[:, j, :].
  Tensor x3 = Tensor::zeros({2, 3, 2});
  Tensor s3 = Tensor::arange(1.0, 9.0, 1.0, DType::f32).view({2, 2, 2});
  Tensor o3 = ops::index_add(x3, 1, ti({1, 1}, {2}), s3);
  CHECK(o3.to_vector<float>() == F32{0, 0, 4, 6, 0, 0, 0, 0, 12, 14, 0, 0});
  // i64 counts.
  Tensor c =
      ops::index_add(Tensor::zeros({2}, DType::i64), 0, ti({1, 1, 0}, {3}), ti({1, 1, 1}, {3}), 2);
  CHECK(c.to_vector<int64_t>() == I64{2, 4});
}

TEST_CASE("index_add_: in place, bumps the version, works on a non-contiguous dst") {
  Tensor dst = Tensor::zeros({2, 2});
  uint64_t v0 = dst.version();
  ops::index_add_(dst, 0, ti({1, 1}, {2}), tf({1, 2, 3, 4}, {2, 2}));
  CHECK(dst.to_vector<float>() == F32{0, 0, 4, 6});
  CHECK(dst.version() > v0);
  Tensor base = Tensor::zeros({2, 3});
  Tensor view = base.t();  // [3, 2], non-contiguous
  ops::index_add_(view, 0, ti({2, 0}, {2}), tf({1, 2, 3, 4}, {2, 2}));
  CHECK(base.to_vector<float>() == F32{3, 0, 1, 4, 0, 2});
}

TEST_CASE("index_add: errors") {
  Tensor t = Tensor::zeros({3, 2});
  CHECK_THROWS_WITH_AS(
      ops::index_add(t, 0, ti({0, 5}, {2}), Tensor::ones({2, 2})),
      doctest::Contains("index_add: index 5 is out of bounds for dim 0 with size 3"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::index_add(t, 0, ti({0, 1}, {2}), Tensor::ones({3, 2})),
                       doctest::Contains("src must have shape [2, 2]"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::index_add_(t, 0, ti({0}, {1}), Tensor::ones({1, 3})),
                       doctest::Contains("dst=f32[3, 2] cpu, index=i64[1] cpu, src=f32[1, 3] cpu"),
                       ShapeError);
  CHECK_THROWS_AS(ops::index_add(t, 0, ti({0}, {1}), Tensor::ones({1, 2}, DType::i64)), DTypeError);
  Tensor ti64 = Tensor::zeros({2}, DType::i64);
  CHECK_THROWS_WITH_AS(ops::index_add(ti64, 0, ti({0}, {1}), ti({1}, {1}), 0.5),
                       doctest::Contains("alpha must be integral"), DTypeError);
}

TEST_CASE("index_add_: deterministic with many duplicates, equal to a serial double sum") {
  const int64_t N = 8192, K = 7, D = 64;  // N * D above the parallel threshold
  I64 idx = random_indices(N, K, 1);
  F32 val = random_values(N * D, 2);
  std::vector<double> ref(K * D, 0.0);
  for (int64_t j = 0; j < N; ++j)
    for (int64_t d = 0; d < D; ++d) ref[idx[j] * D + d] += val[j * D + d];
  Tensor index = ti(idx, {N});
  Tensor src = tf(val, {N, D});
  std::vector<F32> runs;
  for (int r = 0; r < 3; ++r) {
    Tensor t = Tensor::zeros({K, D});
    ops::index_add_(t, 0, index, src);
    runs.push_back(t.to_vector<float>());
  }
  CHECK(runs[0] == runs[1]);
  CHECK(runs[0] == runs[2]);
  for (int64_t i = 0; i < K * D; ++i)
    CHECK(std::fabs(runs[0][i] - ref[i]) <= 1e-6 * std::fabs(ref[i]) + 1e-6);
}

TEST_CASE("segment_sum: dense and sorted schedules give identical bits") {
  const int64_t N = 3000, M = 50, O = 2, I = 37;  // odd width: SIMD tails
  I64 keys = random_indices(N, M, 5);
  F32 src = random_values(O * N * I, 6);
  F32 base = random_values(O * M * I, 7);
  F32 dense = base, sorted = base;
  cpu::segment_sum(dense.data(), src.data(), keys.data(), N, M, O, I, -0.75,
                   cpu::SegmentPath::dense);
  cpu::segment_sum(sorted.data(), src.data(), keys.data(), N, M, O, I, -0.75,
                   cpu::SegmentPath::sorted);
  CHECK(dense == sorted);
  CHECK(dense != base);
  I64 si(O * N * I, 3), bi(O * M * I, 1), di = bi, so = bi;
  cpu::segment_sum(di.data(), si.data(), keys.data(), N, M, O, I, 2, cpu::SegmentPath::dense);
  cpu::segment_sum(so.data(), si.data(), keys.data(), N, M, O, I, 2, cpu::SegmentPath::sorted);
  CHECK(di == so);
  int64_t count0 = 0;
  for (int64_t k : keys) count0 += (k == 0);
  CHECK(di[0] == 1 + 2 * 3 * count0);
}

TEST_CASE("scatter_add: deterministic with many duplicates, equal to a serial double sum") {
  const int64_t N = 100000, K = 5;
  I64 idx = random_indices(N, K, 3);
  F32 val = random_values(N, 4);
  std::vector<double> ref(K, 0.0);
  for (int64_t j = 0; j < N; ++j) ref[idx[j]] += val[j];
  Tensor index = ti(idx, {N}), src = tf(val, {N});
  F32 a = ops::scatter_add(Tensor::zeros({K}), 0, index, src).to_vector<float>();
  F32 b = ops::scatter_add(Tensor::zeros({K}), 0, index, src).to_vector<float>();
  F32 c = ops::scatter_add(Tensor::zeros({K}), 0, index, src).to_vector<float>();
  CHECK(a == b);
  CHECK(a == c);
  for (int64_t k = 0; k < K; ++k)
    CHECK(std::fabs(a[k] - ref[k]) <= 1e-6 * std::fabs(ref[k]) + 1e-6);
  // The weighted bincount is the same keyed sum.
  F32 w = ops::bincount(index, 0, src).to_vector<float>();
  CHECK(w == a);
}

TEST_CASE("bincount: counts, minlength, weights") {
  Tensor c = ops::bincount(ti({1, 1, 3, 0, 1}, {5}));
  CHECK(c.dtype() == DType::i64);
  CHECK(c.to_vector<int64_t>() == I64{1, 3, 0, 1});
  CHECK(ops::bincount(ti({1}, {1}), 4).to_vector<int64_t>() == I64{0, 1, 0, 0});
  CHECK(ops::bincount(Tensor::zeros({0}, DType::i64), 2).to_vector<int64_t>() == I64{0, 0});
  Tensor w = ops::bincount(ti({0, 2, 2}, {3}), 0, tf({0.5f, 1.f, 2.f}, {3}));
  CHECK(w.dtype() == DType::f32);
  CHECK(w.to_vector<float>() == F32{0.5f, 0.f, 3.f});
}

TEST_CASE("bincount: errors") {
  CHECK_THROWS_WITH_AS(ops::bincount(ti({0, -3}, {2})),
                       doctest::Contains("bincount: index values must be non-negative, got -3"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::bincount(ti({0, 1}, {1, 2})), doctest::Contains("must be 1-D"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::bincount(ti({0, 1}, {2}), 0, tf({1}, {1})),
                       doctest::Contains("index=i64[2] cpu, weights=f32[1] cpu"), ShapeError);
}

TEST_CASE("cumsum: f32 and i64 along any dim") {
  Tensor x = tf({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(ops::cumsum(x, 1).to_vector<float>() == F32{1, 3, 6, 4, 9, 15});
  CHECK(ops::cumsum(x, 0).to_vector<float>() == F32{1, 2, 3, 5, 7, 9});
  CHECK(ops::cumsum(x.t(), -1).to_vector<float>() == F32{1, 5, 2, 7, 3, 9});
  Tensor xi = ti({3, -1, 4}, {3});
  Tensor ci = ops::cumsum(xi, 0);
  CHECK(ci.dtype() == DType::i64);
  CHECK(ci.to_vector<int64_t>() == I64{3, 2, 6});
  Tensor b = Tensor::from_vector(std::vector<uint8_t>{1, 0, 1}, {3}, DType::boolean);
  CHECK(ops::cumsum(b, 0).to_vector<int64_t>() == I64{1, 1, 2});
  // Long line: accumulation in double keeps 0.1 * k exact to float rounding.
  Tensor tenth = Tensor::full({100000}, 0.1);
  CHECK(ops::cumsum(tenth, 0).to_vector<float>().back() ==
        static_cast<float>(100000 * static_cast<double>(0.1f)));
}

TEST_CASE("cumsum: errors") {
  CHECK_THROWS_WITH_AS(ops::cumsum(Tensor::zeros({2, 2}), 2), doctest::Contains("cumsum"),
                       ShapeError);
  CHECK_THROWS_AS(ops::cumsum(Tensor::zeros({2}, DType::f64), 0), DTypeError);
}
