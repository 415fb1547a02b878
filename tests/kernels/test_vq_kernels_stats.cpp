// Code statistics (counts and sums per code, with weights, masks and heads) and the
// rotation trick forward / backward on CPU: hand-computed cases, naive-loop references,
// thread-count invariance, finite differences of the rotation surrogate, and errors.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <vector>

#include "core/tensor.h"
#include "kernels/cpu/code_stats.h"
#include "kernels/cpu/rotation.h"
#include "kernels/ops_vq.h"
#include "tests/kernels/test_vq_kernels_util.h"

using namespace vq;
using vq_test::randn_vec;

TEST_CASE("code_stats: hand-computed counts and sums, weights, mask") {
  Tensor idx = Tensor::from_vector(std::vector<int64_t>{0, 2, 0, 1}, {4});
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8}, {4, 2});
  auto r = ops::code_stats(idx, x, 3);
  CHECK(r.counts.shape() == Shape{3});
  CHECK(r.sums.shape() == Shape{3, 2});
  CHECK(r.counts.to_vector<float>() == std::vector<float>{2, 1, 1});
  CHECK(r.sums.to_vector<float>() == std::vector<float>{6, 8, 7, 8, 3, 4});
  Tensor w = Tensor::from_vector({1, 0.5f, 2, 1}, {4});
  auto rw = ops::code_stats(idx, x, 3, w);
  CHECK(rw.counts.to_vector<float>() == std::vector<float>{3, 1, 0.5f});
  CHECK(rw.sums.to_vector<float>() == std::vector<float>{11, 14, 7, 8, 1.5f, 2});
  Tensor m = Tensor::from_vector(std::vector<uint8_t>{1, 1, 0, 1}, {4}, DType::boolean);
  auto rm = ops::code_stats(idx, x, 3, std::nullopt, m);
  CHECK(rm.counts.to_vector<float>() == std::vector<float>{1, 1, 1});
  CHECK(rm.sums.to_vector<float>() == std::vector<float>{1, 2, 7, 8, 3, 4});
  // a masked-out row may hold any index (padding): it is not checked and not counted
  Tensor idx_pad = Tensor::from_vector(std::vector<int64_t>{0, 2, -1, 1}, {4});
  CHECK(ops::code_stats(idx_pad, x, 3, std::nullopt, m).counts.to_vector<float>() ==
        std::vector<float>{1, 1, 1});
  // unused codes get zeros
  auto r5 = ops::code_stats(idx, x, 5);
  CHECK(r5.counts.to_vector<float>() == std::vector<float>{2, 1, 1, 0, 0});
}

TEST_CASE("code_stats: heads, shared x, shared mask") {
  // indices [2, 3]; x [2, 3, 1]; head 0 -> codes {1, 1, 0}, head 1 -> {0, 1, 1}
  Tensor idx = Tensor::from_vector(std::vector<int64_t>{1, 1, 0, 0, 1, 1}, {2, 3});
  Tensor x = Tensor::from_vector({1, 2, 3, 10, 20, 30}, {2, 3, 1});
  auto r = ops::code_stats(idx, x, 2);
  CHECK(r.counts.shape() == Shape{2, 2});
  CHECK(r.sums.shape() == Shape{2, 2, 1});
  CHECK(r.counts.to_vector<float>() == std::vector<float>{1, 2, 1, 2});
  CHECK(r.sums.to_vector<float>() == std::vector<float>{3, 3, 10, 50});
  // x [3, 1] shared by both heads
  Tensor xs = Tensor::from_vector({1, 2, 3}, {3, 1});
  CHECK(ops::code_stats(idx, xs, 2).sums.to_vector<float>() == std::vector<float>{3, 3, 1, 5});
  // mask [3] shared by both heads drops row 1 everywhere
  Tensor m = Tensor::from_vector(std::vector<uint8_t>{1, 0, 1}, {3}, DType::u8);
  CHECK(ops::code_stats(idx, x, 2, std::nullopt, m).sums.to_vector<float>() ==
        std::vector<float>{3, 1, 10, 30});
  // per-head weights [2, 3]
  Tensor w = Tensor::from_vector({1, 1, 1, 0, 1, 2}, {2, 3});
  CHECK(ops::code_stats(idx, x, 2, w).counts.to_vector<float>() == std::vector<float>{1, 2, 0, 3});
}

TEST_CASE("code_stats: random data equals a naive loop for 1 and 2 threads, bit for bit") {
  const int64_t H = 2, N = 3000, K = 37, D = 40;
  const auto x = randn_vec(H * N * D, 3);
  const auto wv = randn_vec(H * N, 4);
  std::vector<int64_t> idx(H * N);
  std::vector<uint8_t> mask(H * N);
  for (int64_t i = 0; i < H * N; ++i) {
    idx[i] = (i * 7919 + i / 13) % K;
    mask[i] = (i % 5) != 0;
  }
  // naive reference: rows in order, same arithmetic
  std::vector<float> cnt_ref(H * K, 0.f), sum_ref(H * K * D, 0.f);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t n = 0; n < N; ++n) {
      const int64_t o = h * N + n;
      if (!mask[o]) continue;
      const int64_t k = idx[o];
      cnt_ref[h * K + k] += wv[o];
      for (int64_t d = 0; d < D; ++d) sum_ref[(h * K + k) * D + d] += wv[o] * x[o * D + d];
    }
  cpu::CsShape s;
  s.H = H;
  s.N = N;
  s.K = K;
  s.D = D;
  s.idx_head_stride = N;
  s.x_head_stride = N * D;
  s.weight_head_stride = N;
  s.mask_head_stride = N;
  const int prev = omp_get_max_threads();
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    std::vector<float> cnt(H * K, -1.f), sum(H * K * D, -1.f);
    cpu::code_stats(cnt.data(), sum.data(), idx.data(), x.data(), wv.data(), mask.data(), s);
    CHECK(cnt == cnt_ref);
    CHECK(sum == sum_ref);
  }
  omp_set_num_threads(prev);
}

TEST_CASE("code_stats: error messages") {
  Tensor idx = Tensor::from_vector(std::vector<int64_t>{0, 2, 0, 3}, {4});
  Tensor x = Tensor::zeros({4, 2});
  CHECK_THROWS_WITH_AS(ops::code_stats(idx, x, 3),
                       doctest::Contains("code_stats: index 3 at position [3] is out of range for "
                                         "num_codes=3"),
                       Error);
  CHECK_THROWS_WITH_AS(ops::code_stats(idx, Tensor::zeros({5, 2}), 4),
                       doctest::Contains("got indices=i64[4] and x=f32[5, 2]"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::code_stats(idx, x, 4, Tensor::zeros({3})),
                       doctest::Contains("weights must be [N] or shaped like indices, got "
                                         "indices=i64[4] and weights=f32[3]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::code_stats(idx, x, 4, std::nullopt, Tensor::zeros({4})),
                       doctest::Contains("mask must be bool or u8, got mask=f32[4]"), DTypeError);
  CHECK_THROWS_WITH_AS(ops::code_stats(idx.to(DType::f32), x, 4),
                       doctest::Contains("indices must be i64, got indices=f32[4]"), DTypeError);
  CHECK_THROWS_WITH_AS(ops::code_stats(idx, x, 0), doctest::Contains("num_codes must be >= 1"),
                       ShapeError);
}

namespace {

// The reference's rotate_to, step by step in double with naive loops, for one row.
// With `frozen` given, u, qh, w and s are taken from it instead of from x: that is the
// surrogate whose gradient the backward kernel returns.
struct RotConst { std::vector<double> u, qh, w; double s; };

RotConst rot_constants(const float* x, const float* q, int64_t D) {
  RotConst c;
  double nx = 0, nq = 0;
  for (int64_t d = 0; d < D; ++d) {
    nx += double(x[d]) * x[d];
    nq += double(q[d]) * q[d];
  }
  nx = std::sqrt(nx);
  nq = std::sqrt(nq);
  const double mx = std::max(nx, 1e-6), mq = std::max(nq, 1e-6);
  c.u.resize(D);
  c.qh.resize(D);
  c.w.resize(D);
  double nv = 0;
  for (int64_t d = 0; d < D; ++d) {
    c.u[d] = x[d] / mx;
    c.qh[d] = q[d] / mq;
    nv += (c.u[d] + c.qh[d]) * (c.u[d] + c.qh[d]);
  }
  const double mv = std::max(std::sqrt(nv), 1e-6);
  for (int64_t d = 0; d < D; ++d) c.w[d] = (c.u[d] + c.qh[d]) / mv;
  c.s = nq / mx;
  return c;
}

std::vector<double> rot_apply(const RotConst& c, const std::vector<double>& e) {
  const int64_t D = static_cast<int64_t>(e.size());
  double ew = 0, eu = 0;
  for (int64_t d = 0; d < D; ++d) {
    ew += e[d] * c.w[d];
    eu += e[d] * c.u[d];
  }
  std::vector<double> out(D);
  for (int64_t d = 0; d < D; ++d) out[d] = c.s * (e[d] - 2 * ew * c.w[d] + 2 * eu * c.qh[d]);
  return out;
}

}  // namespace

TEST_CASE("rotation_trick: forward equals q, the x == 0 quirk, the composite reference") {
  const int64_t N = 6, D = 5;
  auto x = randn_vec(N * D, 31), q = randn_vec(N * D, 32);
  for (int64_t d = 0; d < D; ++d) {
    x[1 * D + d] = 0.f;                // x == 0 -> output 0
    x[2 * D + d] = -q[2 * D + d];        // antiparallel: u + qh == 0 exactly, still q
    x[3 * D + d] = 0.5f * q[3 * D + d];  // parallel
  }
  // (A scaled antiparallel x = -3 q is ill-conditioned in f32: u + qh is rounding noise
  // of ~1e-8 that the 1e-6 clamp amplifies, in the reference as much as here.)
  std::vector<float> out(N * D);
  cpu::rotation_trick_forward(out.data(), x.data(), q.data(), N, D);
  for (int64_t n = 0; n < N; ++n) {
    const auto c = rot_constants(x.data() + n * D, q.data() + n * D, D);
    std::vector<double> e(x.begin() + n * D, x.begin() + (n + 1) * D);
    const auto ref = rot_apply(c, e);
    for (int64_t d = 0; d < D; ++d) {
      const float o = out[n * D + d];
      CHECK(o == doctest::Approx(ref[d]).epsilon(1e-5).scale(1.0));
      if (n == 1) CHECK(o == 0.f);
      else CHECK(o == doctest::Approx(q[n * D + d]).epsilon(1e-5).scale(1.0));
    }
  }
  // Tensor API with leading dims, against the raw kernel
  Tensor xt = Tensor::from_vector(x, {2, 3, D}), qt = Tensor::from_vector(q, {2, 3, D});
  Tensor ot = ops::rotation_trick(xt, qt);
  CHECK(ot.shape() == Shape{2, 3, D});
  CHECK(ot.to_vector<float>() == out);
}

TEST_CASE("rotation_trick_backward: explicit R^T g, and finite differences of the surrogate") {
  const int64_t N = 4, D = 6;
  auto x = randn_vec(N * D, 41), q = randn_vec(N * D, 42, 2.f), g = randn_vec(N * D, 43);
  for (int64_t d = 0; d < D; ++d) x[3 * D + d] = -q[3 * D + d];  // antiparallel row
  std::vector<float> dx(N * D);
  cpu::rotation_trick_backward(dx.data(), g.data(), x.data(), q.data(), N, D);
  Tensor dxt = ops::rotation_trick_backward(Tensor::from_vector(g, {N, D}),
                                            Tensor::from_vector(x, {N, D}),
                                            Tensor::from_vector(q, {N, D}));
  CHECK(dxt.to_vector<float>() == dx);
  for (int64_t n = 0; n < N; ++n) {
    const auto c = rot_constants(x.data() + n * D, q.data() + n * D, D);
    // explicit matrix: dx = s R^T g with R = I - 2 w w^T + 2 qh u^T
    for (int64_t i = 0; i < D; ++i) {
      double acc = 0;
      for (int64_t j = 0; j < D; ++j) {
        const double Rji = (i == j ? 1.0 : 0.0) - 2 * c.w[j] * c.w[i] + 2 * c.qh[j] * c.u[i];
        acc += Rji * g[n * D + j];
      }
      CHECK(dx[n * D + i] == doctest::Approx(c.s * acc).epsilon(1e-5).scale(1.0));
    }
    // central differences in double of L(e) = g . surrogate(e), constants frozen at x
    const double h = 1e-3;
    for (int64_t i = 0; i < D; ++i) {
      std::vector<double> ep(x.begin() + n * D, x.begin() + (n + 1) * D), em = ep;
      ep[i] += h;
      em[i] -= h;
      const auto fp = rot_apply(c, ep), fm = rot_apply(c, em);
      double lp = 0, lm = 0;
      for (int64_t d = 0; d < D; ++d) {
        lp += g[n * D + d] * fp[d];
        lm += g[n * D + d] * fm[d];
      }
      CHECK(dx[n * D + i] == doctest::Approx((lp - lm) / (2 * h)).epsilon(1e-4).scale(1.0));
    }
  }
}

TEST_CASE("rotation_trick: both norm paths (near-antiparallel and typical rows) at D = 256") {
  // The kernels take |u + qh|^2 from |x|^2, |q|^2 and x.q, except for rows where that sum
  // is small (x nearly opposite q), which they sum directly. Cover both, forward and
  // backward, against the double-precision reference.
  const int64_t N = 8, D = 256;
  auto x = randn_vec(N * D, 51), q = randn_vec(N * D, 52), g = randn_vec(N * D, 53);
  auto noise = randn_vec(N * D, 54);
  for (int64_t d = 0; d < D; ++d) {
    x[0 * D + d] = -2.f * q[d] + 0.05f * noise[d];            // near-antiparallel
    x[1 * D + d] = -q[D + d] + 0.3f * noise[D + d];           // |u + qh|^2 ~ 0.1
    x[2 * D + d] = q[2 * D + d] + 0.1f * noise[2 * D + d];    // the usual VQ case
    x[3 * D + d] = 1e-3f * q[3 * D + d] + 1e-4f * noise[3 * D + d];  // tiny x
  }
  std::vector<float> out(N * D), dx(N * D);
  cpu::rotation_trick_forward(out.data(), x.data(), q.data(), N, D);
  cpu::rotation_trick_backward(dx.data(), g.data(), x.data(), q.data(), N, D);
  for (int64_t n = 0; n < N; ++n) {
    const auto c = rot_constants(x.data() + n * D, q.data() + n * D, D);
    std::vector<double> e(x.begin() + n * D, x.begin() + (n + 1) * D);
    const auto ref = rot_apply(c, e);
    double gw = 0, gqh = 0, scale = 0;
    for (int64_t d = 0; d < D; ++d) {
      gw += g[n * D + d] * c.w[d];
      gqh += g[n * D + d] * c.qh[d];
      scale = std::max(scale, std::abs(ref[d]));
    }
    INFO("row " << n);
    for (int64_t d = 0; d < D; ++d) {
      CHECK(out[n * D + d] == doctest::Approx(ref[d]).epsilon(1e-4).scale(scale));
      const double want = c.s * (g[n * D + d] - 2 * gw * c.w[d] + 2 * gqh * c.u[d]);
      CHECK(dx[n * D + d] == doctest::Approx(want).epsilon(1e-4).scale(c.s * 10));
    }
  }
}

TEST_CASE("rotation_trick: error messages") {
  CHECK_THROWS_WITH_AS(ops::rotation_trick(Tensor::zeros({2, 3}), Tensor::zeros({2, 4})),
                       "rotation_trick: x and q must have one shape, got x=f32[2, 3] and q=f32[2, 4]",
                       ShapeError);
  CHECK_THROWS_WITH_AS(
      ops::rotation_trick_backward(Tensor::zeros({2, 3}), Tensor::zeros({2, 3}), Tensor::zeros({3, 3})),
      doctest::Contains("rotation_trick_backward: grad_out and q must have one shape"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::rotation_trick(Tensor::zeros({2, 3}, DType::i64), Tensor::zeros({2, 3})),
                       doctest::Contains("x must be f32, got x=i64[2, 3]"), DTypeError);
}
