// CUDA reductions vs their CPU twins on the same inputs: sum/mean/var/norm over dim sets
// (row path, column path, the two-stage long-R path, permuted dims), max/min/arg* with
// ties and NaN, amax/amin, logsumexp/softmax/log_softmax, count_nonzero/any/all,
// zero-size inputs, errors, and run-to-run bit-identical results.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/ops.h"

using namespace vq;

namespace {

const Device kGpu = cuda_device(0);

// Same values within tol * (1 + |cpu|) (NaN matches NaN, inf matches the same inf); one
// CHECK per tensor, reporting the first mismatch.
void check_same(const Tensor& gpu, const Tensor& cpu_ref, double tol = 1e-5) {
  REQUIRE(gpu.device().is_cuda());
  CHECK(gpu.shape() == cpu_ref.shape());
  CHECK(gpu.dtype() == cpu_ref.dtype());
  const std::vector<float> g = gpu.to_vector<float>(), c = cpu_ref.to_vector<float>();
  REQUIRE(g.size() == c.size());
  size_t bad = c.size();
  for (size_t i = 0; i < c.size() && bad == c.size(); ++i) {
    bool ok;
    if (std::isnan(c[i])) {
      ok = std::isnan(g[i]);
    } else if (std::isinf(c[i])) {
      ok = g[i] == c[i];
    } else {
      ok = std::fabs(double(g[i]) - c[i]) <= tol * (1.0 + std::fabs(c[i]));
    }
    if (!ok) bad = i;
  }
  INFO("first mismatch at ", bad, " of ", c.size(), ": gpu ", bad < g.size() ? g[bad] : 0.f,
       " cpu ", bad < c.size() ? c[bad] : 0.f);
  CHECK(bad == c.size());
}

void check_index(const Tensor& gpu, const Tensor& cpu_ref) {
  CHECK(gpu.shape() == cpu_ref.shape());
  CHECK(gpu.to_vector<int64_t>() == cpu_ref.to_vector<int64_t>());
}

}  // namespace

TEST_CASE("cuda reduce: sum/mean/var/norm over dim sets match the CPU") {
  Generator gen(21);
  const Tensor x = Tensor::randn({7, 300, 5}, gen);
  const Tensor xg = x.to(kGpu);
  const std::vector<std::vector<int64_t>> dim_sets = {{}, {0}, {1}, {2}, {0, 2}, {-1}, {0, 1}, {1, 2}};
  for (const auto& dims : dim_sets) {
    for (bool keep : {false, true}) {
      INFO("dims size ", dims.size(), " first ", dims.empty() ? 99 : dims[0], " keepdim ", keep);
      check_same(ops::sum(xg, dims, keep), ops::sum(x, dims, keep));
      check_same(ops::mean(xg, dims, keep), ops::mean(x, dims, keep));
      check_same(ops::var(xg, dims, true, keep), ops::var(x, dims, true, keep));
      check_same(ops::var(xg, dims, false, keep), ops::var(x, dims, false, keep));
      for (double p : {1.0, 2.0, 3.0, double(INFINITY)})
        check_same(ops::norm(xg, dims, p, keep), ops::norm(x, dims, p, keep), 1e-5);
    }
  }
  // Non-contiguous input (permuted before the kernel).
  const Tensor xt = x.transpose(0, 1);
  check_same(ops::sum(xt.to(kGpu), {0, 2}), ops::sum(xt, {0, 2}));
  check_same(ops::sum(x.to(kGpu).transpose(0, 1), {1}), ops::sum(xt, {1}));
}

TEST_CASE("cuda reduce: short rows share a block, narrow columns span slabs") {
  Generator gen(25);
  // inner == 1 with R from 1 to 300 (TY = 32 ... 256, several rows per block), and
  // inner = 3 (a column tile spans several slabs o).
  for (int64_t R : {1, 5, 32, 33, 100, 300}) {
    INFO("R ", R);
    const Tensor x = Tensor::randn({1000, R}, gen);
    const Tensor xg = x.to(kGpu);
    check_same(ops::sum(xg, {1}), ops::sum(x, {1}));
    check_same(ops::var(xg, {1}, false), ops::var(x, {1}, false));
    check_same(ops::norm(xg, {1}), ops::norm(x, {1}));
    check_index(ops::argmax(xg, 1), ops::argmax(x, 1));
    check_same(ops::softmax(xg, 1), ops::softmax(x, 1));
    check_same(ops::logsumexp(xg, 1), ops::logsumexp(x, 1));
  }
  const Tensor n = Tensor::randn({50, 40, 3}, gen);
  const Tensor ng = n.to(kGpu);
  check_same(ops::sum(ng, {1}), ops::sum(n, {1}));
  check_index(ops::argmin(ng, 1), ops::argmin(n, 1));
  check_same(ops::log_softmax(ng, 1), ops::log_softmax(n, 1));
}

TEST_CASE("cuda reduce: long reductions (two-stage path) match and are deterministic") {
  Generator gen(22);
  const Tensor full = Tensor::randn({1 << 20}, gen);       // one output, R = 2^20
  const Tensor tall = Tensor::randn({50000, 3}, gen);      // bias-gradient shape, dim 0
  const Tensor rows = Tensor::randn({3, 40000}, gen);      // few long rows
  const Tensor fg = full.to(kGpu), tg = tall.to(kGpu), rg = rows.to(kGpu);
  check_same(ops::sum(fg), ops::sum(full), 1e-5);
  check_same(ops::mean(fg), ops::mean(full), 1e-5);
  check_same(ops::var(fg), ops::var(full), 1e-5);
  check_same(ops::norm(fg), ops::norm(full), 1e-5);
  check_same(ops::norm(fg, {}, INFINITY), ops::norm(full, {}, INFINITY));
  check_same(ops::sum(tg, {0}), ops::sum(tall, {0}), 1e-5);
  check_same(ops::var(tg, {0}), ops::var(tall, {0}), 1e-5);
  check_same(ops::sum(rg, {1}), ops::sum(rows, {1}), 1e-5);
  // Bit-identical run to run.
  CHECK(ops::sum(fg).to_vector<float>() == ops::sum(fg).to_vector<float>());
  CHECK(ops::sum(tg, {0}).to_vector<float>() == ops::sum(tg, {0}).to_vector<float>());
  CHECK(ops::var(rg, {1}).to_vector<float>() == ops::var(rg, {1}).to_vector<float>());
}

TEST_CASE("cuda reduce: max/min/argmax/argmin/amax/amin match, ties and NaN") {
  Generator gen(23);
  const Tensor x = Tensor::randn({6, 33, 40}, gen);
  const Tensor xg = x.to(kGpu);
  for (int64_t d : {0, 1, 2, -1}) {
    for (bool keep : {false, true}) {
      INFO("dim ", d, " keepdim ", keep);
      auto [vg, ig] = ops::max(xg, d, keep);
      auto [vc, ic] = ops::max(x, d, keep);
      check_same(vg, vc, 0.0);
      check_index(ig, ic);
      auto [wg, jg] = ops::min(xg, d, keep);
      auto [wc, jc] = ops::min(x, d, keep);
      check_same(wg, wc, 0.0);
      check_index(jg, jc);
      check_index(ops::argmax(xg, d, keep), ops::argmax(x, d, keep));
      check_index(ops::argmin(xg, d, keep), ops::argmin(x, d, keep));
    }
  }
  check_same(ops::amax(xg), ops::amax(x), 0.0);
  check_same(ops::amin(xg), ops::amin(x), 0.0);
  // Ties: rows of equal values (first index), in rows and in columns; a long row.
  const Tensor tie = Tensor::from_vector({2, 7, 7, 2, 7, 7, 1, 7, 7}, {3, 3});
  check_index(ops::argmax(tie.to(kGpu), 1), ops::argmax(tie, 1));
  check_index(ops::argmax(tie.to(kGpu), 0), ops::argmax(tie, 0));
  check_index(ops::argmin(tie.to(kGpu), 0), ops::argmin(tie, 0));
  std::vector<float> lv(100000, 1.f);
  lv[777] = 3.f;
  lv[99999] = 3.f;
  const Tensor longrow = Tensor::from_vector(lv, {1, 100000});
  CHECK(ops::argmax(longrow.to(kGpu), 1).to_vector<int64_t>() == std::vector<int64_t>{777});
  CHECK(ops::argmin(longrow.to(kGpu), 1).to_vector<int64_t>() == std::vector<int64_t>{0});
  // NaN wins, first NaN.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor n = Tensor::from_vector(std::vector<float>{1, nan, 3, nan, 5, 0}, {2, 3});
  for (int64_t d : {0, 1}) {
    auto [vg, ig] = ops::max(n.to(kGpu), d);
    auto [vc, ic] = ops::max(n, d);
    check_same(vg, vc, 0.0);
    check_index(ig, ic);
    check_index(ops::argmin(n.to(kGpu), d), ops::argmin(n, d));
  }
  CHECK(std::isnan(ops::amax(n.to(kGpu)).item<float>()));
}

TEST_CASE("cuda reduce: logsumexp/softmax/log_softmax match, large and infinite values") {
  Generator gen(24);
  const Tensor x = Tensor::randn({5, 64, 9}, gen, Device{}, 0.f, 4.f);
  const Tensor xg = x.to(kGpu);
  for (int64_t d : {0, 1, 2, -1}) {
    INFO("dim ", d);
    check_same(ops::logsumexp(xg, d), ops::logsumexp(x, d));
    check_same(ops::logsumexp(xg, d, true), ops::logsumexp(x, d, true));
    check_same(ops::softmax(xg, d), ops::softmax(x, d), 1e-5);
    check_same(ops::log_softmax(xg, d), ops::log_softmax(x, d), 1e-5);
  }
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor odd = Tensor::from_vector({1000, 1000, -inf, -inf, 0, -inf, 3, 1}, {4, 2});
  check_same(ops::logsumexp(odd.to(kGpu), 1), ops::logsumexp(odd, 1));
  check_same(ops::softmax(odd.to(kGpu), 1), ops::softmax(odd, 1));
  check_same(ops::log_softmax(odd.to(kGpu), 1), ops::log_softmax(odd, 1));
  const Tensor wide = Tensor::randn({3, 5000}, gen);
  check_same(ops::softmax(wide.to(kGpu), 1), ops::softmax(wide, 1), 1e-5);
}

TEST_CASE("cuda reduce: count_nonzero/any/all, zero-size inputs, errors") {
  const Tensor f = Tensor::from_vector({0, 1, -2, 0, 5}, {5});
  CHECK(ops::count_nonzero(f.to(kGpu)).item<int64_t>() == 3);
  CHECK(ops::count_nonzero(f.to(kGpu)).device().is_cuda());
  const Tensor i = Tensor::from_vector(std::vector<int64_t>{0, 5, 0, 7}, {4});
  CHECK(ops::count_nonzero(i.to(kGpu)).item<int64_t>() == 2);
  std::vector<uint8_t> bits(300000, 0);
  for (size_t k = 0; k < bits.size(); k += 3) bits[k] = 1;
  const Tensor b = Tensor::from_vector(bits, {300000}, DType::boolean).to(kGpu);
  CHECK(ops::count_nonzero(b).item<int64_t>() == 100000);
  CHECK(ops::any(b));
  CHECK_FALSE(ops::all(b));
  CHECK(ops::all(Tensor::empty({0}, DType::boolean, kGpu)));
  CHECK_FALSE(ops::any(Tensor::empty({0}, DType::boolean, kGpu)));
  // Zero-size.
  check_same(ops::sum(Tensor::empty({0, 3}, DType::f32, kGpu), {0}), ops::sum(Tensor::empty({0, 3}), {0}));
  CHECK(ops::sum(Tensor::empty({0, 3}, DType::f32, kGpu), {1}).shape() == Shape{0});
  CHECK(std::isinf(ops::logsumexp(Tensor::empty({2, 0}, DType::f32, kGpu), 1).to_vector<float>()[0]));
  CHECK_THROWS_WITH_AS(ops::max(Tensor::empty({2, 0}, DType::f32, kGpu), 1),
                       doctest::Contains("max: cannot reduce over dim 1 of size 0"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::sum(Tensor::ones({2, 3}, DType::f32, kGpu), {2}),
                       doctest::Contains("sum: dim 2 out of range for x=[2, 3]"), ShapeError);
}
