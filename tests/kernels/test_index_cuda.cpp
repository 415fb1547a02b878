// CUDA vs CPU for gather, index_select, masked_fill, one_hot, scatter_add, index_add,
// bincount and cumsum on identical inputs: exact for copies and integer outputs, 1e-6
// relative for float sums; keyed sums are also checked bit-identical across 3 runs.
// Runs only where a GPU answers (vq_cuda_tests exits 77 otherwise).
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "kernels/ops.h"

using namespace vq;
using I64 = std::vector<int64_t>;
using F32 = std::vector<float>;

namespace {

const Device kGpu = cuda_device(0);

I64 rand_idx(size_t n, int64_t k, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> d(0, k - 1);
  I64 v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
Tensor rand_f(const Shape& s, uint64_t seed) {
  Generator g(seed);
  return Tensor::rand(s, g, cpu_device(), -1.f, 1.f);
}
void check_close(const Tensor& gpu, const Tensor& cpu, double rel = 1e-6) {
  REQUIRE(gpu.device().is_cuda());
  REQUIRE(gpu.shape() == cpu.shape());
  F32 a = gpu.to_vector<float>(), b = cpu.to_vector<float>();
  int64_t bad = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::fabs(a[i] - b[i]) <= rel * std::fabs(b[i]) + 1e-6)) ++bad;
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("cuda gather and index_select match CPU exactly") {
  Tensor x = rand_f({5, 7, 3}, 1);
  Tensor idx = Tensor::from_vector(rand_idx(5 * 4 * 3, 7, 2), {5, 4, 3});
  CHECK(ops::gather(x.to(kGpu), 1, idx.to(kGpu)).to_vector<float>() ==
        ops::gather(x, 1, idx).to_vector<float>());
  // Index smaller than x in a non-gathered dim; i64 data.
  Tensor xi = Tensor::arange(60).view({5, 12});
  Tensor gi = Tensor::from_vector(rand_idx(3 * 6, 5, 3), {3, 6});
  CHECK(ops::gather(xi.to(kGpu), 0, gi.to(kGpu)).to_vector<int64_t>() ==
        ops::gather(xi, 0, gi).to_vector<int64_t>());
  // Codebook lookup [K, D] with N indices, and a middle dim of a 3-D tensor.
  Tensor embed = rand_f({1024, 64}, 4);
  Tensor codes = Tensor::from_vector(rand_idx(5000, 1024, 5), {5000});
  Tensor q = ops::index_select(embed.to(kGpu), 0, codes.to(kGpu));
  CHECK(q.shape() == Shape{5000, 64});
  CHECK(q.to_vector<float>() == ops::index_select(embed, 0, codes).to_vector<float>());
  Tensor mid = Tensor::from_vector(I64{2, 0, 2}, {3});
  CHECK(ops::index_select(x.to(kGpu), 1, mid.to(kGpu)).to_vector<float>() ==
        ops::index_select(x, 1, mid).to_vector<float>());
}

TEST_CASE("cuda index ops reject out-of-range indices before any read") {
  Tensor x = Tensor::zeros({2, 7}, DType::f32, kGpu);
  Tensor bad = Tensor::from_vector(I64{0, 7}, {2, 1}, kGpu);
  CHECK_THROWS_WITH_AS(ops::gather(x, 1, bad),
                       doctest::Contains("gather: index 7 is out of bounds for dim 1 with size 7"),
                       ShapeError);
  Tensor neg = Tensor::from_vector(I64{-2}, {1}, kGpu);
  CHECK_THROWS_WITH_AS(ops::index_select(x, 1, neg), doctest::Contains("index -2 is out of bounds"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::index_add(x, 0, Tensor::from_vector(I64{2}, {1}, kGpu),
                                      Tensor::ones({1, 7}, DType::f32, kGpu)),
                       doctest::Contains("index 2 is out of bounds for dim 0 with size 2"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::bincount(neg), doctest::Contains("non-negative, got -2"), ShapeError);
  CHECK_THROWS_AS(ops::gather(x, 1, Tensor::zeros({2, 1}, DType::i64)), DeviceError);
}

TEST_CASE("cuda masked_fill and one_hot match CPU exactly") {
  Tensor x = rand_f({4, 5}, 6);
  Tensor m = Tensor::from_vector(std::vector<uint8_t>{1, 0, 0, 1, 1}, {5}, DType::boolean);
  CHECK(ops::masked_fill(x.to(kGpu), m.to(kGpu), -3.5).to_vector<float>() ==
        ops::masked_fill(x, m, -3.5).to_vector<float>());
  Tensor xi = Tensor::arange(6).view({2, 3});
  Tensor mi = Tensor::from_vector(std::vector<uint8_t>{1, 0}, {2, 1}, DType::u8);
  CHECK(ops::masked_fill(xi.to(kGpu), mi.to(kGpu), 7).to_vector<int64_t>() ==
        ops::masked_fill(xi, mi, 7).to_vector<int64_t>());
  Tensor idx = Tensor::from_vector(rand_idx(300, 17, 7), {10, 30});
  Tensor a = ops::one_hot(idx.to(kGpu), 17);
  CHECK(a.dtype() == DType::i64);
  CHECK(a.to_vector<int64_t>() == ops::one_hot(idx, 17).to_vector<int64_t>());
  CHECK(ops::one_hot(idx.to(kGpu), -1, DType::f32).to_vector<float>() ==
        ops::one_hot(idx, -1, DType::f32).to_vector<float>());
}

TEST_CASE("cuda index_add_: codebook statistics match CPU, deterministic across runs") {
  const int64_t K = 1024, D = 256, N = 16384;
  Tensor src = rand_f({N, D}, 8);
  Tensor src_g = src.to(kGpu);
  // Spread over all codes, and collapsed onto a few codes (long multi-piece segments).
  for (int64_t ncodes : {K, int64_t(3)}) {
    CAPTURE(ncodes);
    Tensor idx = Tensor::from_vector(rand_idx(N, ncodes, 9), {N});
    Tensor idx_g = idx.to(kGpu);
    Tensor base = rand_f({K, D}, 10);
    Tensor ref = base.clone();
    ops::index_add_(ref, 0, idx, src, 0.5);
    std::vector<F32> runs;
    for (int r = 0; r < 3; ++r) {
      Tensor t = base.to(kGpu);
      ops::index_add_(t, 0, idx_g, src_g, 0.5);
      runs.push_back(t.to_vector<float>());
      if (r == 0) check_close(t, ref);
    }
    CHECK(runs[0] == runs[1]);
    CHECK(runs[0] == runs[2]);
  }
  // i64 and a middle dim.
  Tensor ci = Tensor::from_vector(rand_idx(1000, 10, 11), {1000});
  Tensor ones = Tensor::ones({1000}, DType::i64);
  CHECK(ops::index_add(Tensor::zeros({10}, DType::i64, kGpu), 0, ci.to(kGpu), ones.to(kGpu), 3)
            .to_vector<int64_t>() ==
        ops::index_add(Tensor::zeros({10}, DType::i64), 0, ci, ones, 3).to_vector<int64_t>());
  Tensor x3 = rand_f({3, 6, 5}, 12);
  Tensor s3 = rand_f({3, 40, 5}, 13);
  Tensor i3 = Tensor::from_vector(rand_idx(40, 6, 14), {40});
  check_close(ops::index_add(x3.to(kGpu), 1, i3.to(kGpu), s3.to(kGpu)),
              ops::index_add(x3, 1, i3, s3));
}

TEST_CASE("cuda scatter_add matches CPU, deterministic across runs") {
  const int64_t N = 200000;
  Tensor idx = Tensor::from_vector(rand_idx(N, 5, 15), {N});
  Tensor src = rand_f({N}, 16);
  Tensor ref = ops::scatter_add(Tensor::zeros({5}), 0, idx, src);
  F32 a = ops::scatter_add(Tensor::zeros({5}, DType::f32, kGpu), 0, idx.to(kGpu), src.to(kGpu))
              .to_vector<float>();
  F32 b = ops::scatter_add(Tensor::zeros({5}, DType::f32, kGpu), 0, idx.to(kGpu), src.to(kGpu))
              .to_vector<float>();
  CHECK(a == b);
  check_close(Tensor::from_vector(a, {5}).to(kGpu), ref);
  // 2-D along dim 1 with an index smaller than src and base.
  Tensor base = rand_f({4, 6}, 17);
  Tensor s2 = rand_f({5, 9}, 18);
  Tensor i2 = Tensor::from_vector(rand_idx(3 * 8, 6, 19), {3, 8});
  check_close(ops::scatter_add(base.to(kGpu), 1, i2.to(kGpu), s2.to(kGpu)),
              ops::scatter_add(base, 1, i2, s2));
  Tensor si = Tensor::arange(24).view({3, 8});
  CHECK(ops::scatter_add(Tensor::zeros({4, 6}, DType::i64, kGpu), 1, i2.to(kGpu), si.to(kGpu))
            .to_vector<int64_t>() ==
        ops::scatter_add(Tensor::zeros({4, 6}, DType::i64), 1, i2, si).to_vector<int64_t>());
}

TEST_CASE("cuda bincount matches CPU (shared and global histograms, weights)") {
  for (int64_t M : {int64_t(7), int64_t(20000)}) {
    CAPTURE(M);
    Tensor idx = Tensor::from_vector(rand_idx(100000, M, 20), {100000});
    CHECK(ops::bincount(idx.to(kGpu), M + 3).to_vector<int64_t>() ==
          ops::bincount(idx, M + 3).to_vector<int64_t>());
    Tensor w = rand_f({100000}, 21);
    check_close(ops::bincount(idx.to(kGpu), 0, w.to(kGpu)), ops::bincount(idx, 0, w));
  }
}

TEST_CASE("cuda cumsum matches CPU (many short lines, few long lines, i64)") {
  Tensor a = rand_f({300, 50}, 22);
  check_close(ops::cumsum(a.to(kGpu), 1), ops::cumsum(a, 1));
  check_close(ops::cumsum(a.to(kGpu), 0), ops::cumsum(a, 0));
  Tensor b = rand_f({3, 100000}, 23);  // block-per-line path
  check_close(ops::cumsum(b.to(kGpu), 1), ops::cumsum(b, 1), 1e-5);
  Tensor i = Tensor::from_vector(rand_idx(20000, 1000, 24), {2, 10000});
  CHECK(ops::cumsum(i.to(kGpu), 1).to_vector<int64_t>() == ops::cumsum(i, 1).to_vector<int64_t>());
}
