// LFQ kernels and ops (kernels/ops_scalar_quant.h, kernels/cpu/lfq*.h): hand-computed
// quantization and indices, spherical (BSQ) codes, bit-exact decode round trips, the
// commitment term, the backward through soft clamp and normalization (central
// differences), the entropy terms in every mode (exact, factorized, unclamped) against a
// naive enumeration in double, their gradients, row subsets, and error messages.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/generator.h"
#include "kernels/cpu/fsq_simd.h"
#include "kernels/ops_scalar_quant.h"

using namespace vq;
using Mode = ops::LfqEntropyMode;

namespace {

std::vector<float> vec(const Tensor& t) { return t.contiguous().to_vector<float>(); }
std::vector<int64_t> ivec(const Tensor& t) { return t.contiguous().to_vector<int64_t>(); }

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

Tensor randn(const Shape& s, uint64_t seed, float stddev = 1.f) {
  Generator g(seed);
  return Tensor::randn(s, g, cpu_device(), 0.f, stddev);
}

// The reference's entropy terms by brute force in double: P = softmax(2 beta u.C_k)
// with C_k,i = +-m (bit i of k, most significant first), H = -sum P log max(P, 1e-5).
struct Naive {
  double per_sample = 0, batch = 0;
  std::vector<double> avg;
};
Naive naive_entropy(const std::vector<float>& u, int64_t T, int64_t H, int c, double beta,
                    double m, const std::vector<int64_t>& rows = {}) {
  const int64_t K = int64_t{1} << c;
  const int64_t nt = rows.empty() ? T : static_cast<int64_t>(rows.size());
  Naive r;
  r.avg.assign(static_cast<size_t>(H * K), 0.0);
  std::vector<double> l(static_cast<size_t>(K));
  for (int64_t t = 0; t < nt; ++t) {
    const int64_t row = rows.empty() ? t : rows[t];
    for (int64_t h = 0; h < H; ++h) {
      const float* ut = u.data() + (row * H + h) * c;
      double mx = -1e300;
      for (int64_t k = 0; k < K; ++k) {
        double d = 0;
        for (int i = 0; i < c; ++i) d += ut[i] * (((k >> (c - 1 - i)) & 1) ? m : -m);
        l[k] = 2 * beta * d;
        mx = std::max(mx, l[k]);
      }
      double z = 0;
      for (int64_t k = 0; k < K; ++k) z += std::exp(l[k] - mx);
      for (int64_t k = 0; k < K; ++k) {
        const double p = std::exp(l[k] - mx) / z;
        r.per_sample -= p * std::log(std::max(p, 1e-5));
        r.avg[h * K + k] += p / nt;
      }
    }
  }
  r.per_sample /= static_cast<double>(nt * H);
  for (int64_t h = 0; h < H; ++h) {
    double e = 0;
    for (int64_t k = 0; k < K; ++k) e -= r.avg[h * K + k] * std::log(std::max(r.avg[h * K + k], 1e-5));
    r.batch += e / H;
  }
  return r;
}

}  // namespace

TEST_CASE("lfq kernels: hand-computed codes and most-significant-first indices") {
  ops::LfqSpec spec;
  spec.codebook_dim = 4;
  spec.codebook_scale = 0.5;
  const Tensor x = Tensor::from_vector({0.5f, -1.f, 0.f, 2.f, -3.f, 4.f, 5.f, -6.f}, {2, 4});
  for (bool training : {false, true}) {
    const ops::LfqOutput o = ops::lfq_forward(x, spec, 1, training);
    const std::vector<float> q = vec(o.quantized);
    // zero maps to -scale (bit 0)
    const std::vector<float> want = {0.5f, -0.5f, -0.5f, 0.5f, -0.5f, 0.5f, 0.5f, -0.5f};
    for (int i = 0; i < 8; ++i) CHECK(q[i] == want[i]);
    CHECK(ivec(o.indices) == std::vector<int64_t>{0b1001, 0b0110});
    CHECK(o.indices.shape() == Shape{2, 1});
  }
  // Two codebooks of 2 bits: [b, n, 2 * 2] -> indices [b, n, 2]
  spec.codebook_dim = 2;
  const ops::LfqOutput o2 = ops::lfq_forward(x.reshape({1, 2, 4}), spec, 2, true);
  CHECK(ivec(o2.indices) == std::vector<int64_t>{0b10, 0b01, 0b01, 0b10});
  CHECK(o2.indices.shape() == Shape{1, 2, 2});
}

TEST_CASE("lfq kernels: spherical codes and soft clamp") {
  ops::LfqSpec spec;
  spec.codebook_dim = 2;
  spec.spherical = true;
  spec.codebook_scale = 2.0;
  const Tensor x = Tensor::from_vector({3.f, -4.f, 0.f, 0.f}, {2, 2});
  const ops::LfqOutput o = ops::lfq_forward(x, spec, 1, false);
  const std::vector<float> u = vec(o.u), q = vec(o.quantized);
  CHECK(u[0] == doctest::Approx(1.2f));   // 3/5 * 2
  CHECK(u[1] == doctest::Approx(-1.6f));  // -4/5 * 2
  CHECK(u[2] == 0.f);                     // 0 / max(0, 1e-12)
  const float s = 2.f / std::sqrt(8.f) * 2.f;  // +-scale / |+-scale| * scale = sqrt(2)
  CHECK(q[0] == doctest::Approx(s));
  CHECK(q[1] == doctest::Approx(-s));
  CHECK(q[2] == doctest::Approx(-s));
  CHECK(ivec(o.indices) == std::vector<int64_t>{2, 0});

  ops::LfqSpec sc;
  sc.codebook_dim = 2;
  sc.soft_clamp_input_value = 1.5;
  const Tensor y = Tensor::from_vector({3.f, -0.3f}, {1, 2});
  const std::vector<float> uy = vec(ops::lfq_forward(y, sc, 1, true).u);
  CHECK(uy[0] == doctest::Approx(std::tanh(2.0) * 1.5));
  CHECK(uy[1] == doctest::Approx(std::tanh(-0.2) * 1.5));
}

TEST_CASE("lfq kernels: decode round trip is bit-exact (train and eval, every option)") {
  for (int variant = 0; variant < 4; ++variant) {
    ops::LfqSpec spec;
    spec.codebook_dim = 5;
    spec.codebook_scale = variant == 1 ? 0.5 : 1.0;
    spec.spherical = variant >= 2;
    spec.soft_clamp_input_value = variant == 3 ? 2.0 : 0.0;
    const Tensor x = randn({3, 50, 10}, 100 + variant);
    for (bool training : {true, false}) {
      const ops::LfqOutput o = ops::lfq_forward(x, spec, 2, training);
      const Tensor codes = ops::lfq_indices_to_codes(o.indices, spec);
      CHECK(codes.shape() == Shape{3, 50, 2, 5});
      CHECK(same_bits(vec(codes), vec(o.quantized)));
    }
  }
  ops::LfqSpec spec;
  spec.codebook_dim = 3;
  const std::vector<float> c =
      vec(ops::lfq_indices_to_codes(Tensor::from_vector(std::vector<int64_t>{-1, 5}, {2}), spec));
  CHECK(c == std::vector<float>{0.f, 0.f, 0.f, 1.f, -1.f, 1.f});
}

TEST_CASE("lfq kernels: every SIMD path gives the same bits") {
  ops::LfqSpec spec;
  spec.codebook_dim = 6;
  const Tensor x = randn({1001, 12}, 7);
  std::vector<std::vector<float>> q;
  std::vector<std::vector<int64_t>> idx;
  for (int level = 0; level <= 2; ++level) {
    cpu::sq_force_simd(level);
    const ops::LfqOutput o = ops::lfq_forward(x, spec, 2, true);
    q.push_back(vec(o.quantized));
    idx.push_back(ivec(o.indices));
    spec.soft_clamp_input_value = 1.5;  // then the general path
    q.push_back(vec(ops::lfq_forward(x, spec, 2, true).quantized));
    spec.soft_clamp_input_value = 0;
  }
  cpu::sq_force_simd(-1);
  for (int level = 1; level <= 2; ++level) {
    CHECK(same_bits(q[2 * level], q[0]));
    CHECK(same_bits(q[2 * level + 1], q[1]));
    CHECK(idx[level] == idx[0]);
  }
}

TEST_CASE("lfq kernels: commitment value and gradient, with a row mask") {
  ops::LfqSpec spec;
  spec.codebook_dim = 2;
  const Tensor u = Tensor::from_vector({0.5f, -2.f, 1.f, 0.f, -0.25f, 3.f}, {3, 2});
  // (u - q)^2: row 0: 0.25 + 1; row 1: 0 + 1; row 2: 0.5625 + 4
  CHECK(ops::lfq_commitment(u, spec, 1).item<float>() ==
        doctest::Approx((1.25 + 1 + 4.5625) / 6));
  const Tensor mask = Tensor::from_vector(std::vector<uint8_t>{1, 0, 1}, {3}, DType::boolean);
  CHECK(ops::lfq_commitment(u, spec, 1, mask).item<float>() == doctest::Approx((1.25 + 4.5625) / 4));
  const Tensor none = Tensor::from_vector(std::vector<uint8_t>{0, 0, 0}, {3}, DType::boolean);
  CHECK(ops::lfq_commitment(u, spec, 1, none).item<float>() == 0.f);
  // d/du of w * mean = w * 2 (u - q) / count on selected rows; the STE gradient on top.
  const Tensor g = Tensor::ones({3, 2});
  const std::vector<float> dx =
      vec(ops::lfq_backward(g, Tensor(), u, spec, 1, true, Tensor::scalar(0.5f), mask));
  const std::vector<float> uv = vec(u);
  const std::vector<float> qv = {1.f, -1.f, 1.f, -1.f, -1.f, 1.f};
  for (int i = 0; i < 6; ++i) {
    const double commit = (i / 2 == 1) ? 0.0 : 0.5 * 2 * (uv[i] - qv[i]) / 4;
    CHECK(dx[i] == doctest::Approx(1.0 + commit));
  }
  // Not ste_to_u: grad_out is ignored (it belongs to the activation's input).
  CHECK(vec(ops::lfq_backward(g, Tensor(), u, spec, 1, false)) == std::vector<float>(6, 0.f));
}

TEST_CASE("lfq kernels: backward through soft clamp and spherical normalization") {
  ops::LfqSpec spec;
  spec.codebook_dim = 3;
  spec.spherical = true;
  spec.codebook_scale = 1.5;
  spec.soft_clamp_input_value = 2.0;
  const Tensor x = randn({4, 6}, 9);
  const Tensor g = randn({4, 6}, 10);
  const Tensor gu = randn({4, 6}, 11);
  const Tensor gc = Tensor::scalar(0.7f);
  const std::vector<float> dx = vec(ops::lfq_backward(g, gu, x, spec, 2, true, gc));
  // f(x) = sum g * u(x) + sum gu * u(x) + 0.7 * mean((u - q)^2), q fixed (straight-through)
  const std::vector<float> qv = vec(ops::lfq_forward(x, spec, 2, false).quantized);
  const std::vector<float> gv = vec(g), guv = vec(gu);
  auto f = [&](const std::vector<float>& xv) {
    const std::vector<float> u = vec(ops::lfq_forward(Tensor::from_vector(xv, {4, 6}), spec, 2, false).u);
    double s = 0;
    for (int i = 0; i < 24; ++i) s += (gv[i] + guv[i]) * u[i] + 0.7 * (u[i] - qv[i]) * (u[i] - qv[i]) / 24;
    return s;
  };
  std::vector<float> xv = vec(x);
  for (int i = 0; i < 24; ++i) {
    const float keep = xv[i];
    const float e = 1e-2f;
    xv[i] = keep + e;
    const double fp = f(xv);
    xv[i] = keep - e;
    const double fm = f(xv);
    xv[i] = keep;
    CHECK(dx[i] == doctest::Approx((fp - fm) / (2 * e)).epsilon(2e-2).scale(1e-2));
  }
}

TEST_CASE("lfq kernels: exact entropy matches the brute-force reference formula") {
  for (double beta : {1.0, 100.0}) {
    ops::LfqSpec spec;
    spec.codebook_dim = 5;
    spec.spherical = beta == 1.0;
    const Tensor u0 = randn({37, 10}, 13);
    // entropy terms read the transformed input u
    const Tensor u = ops::lfq_forward(u0, spec, 2, true).u;
    const double m = spec.spherical ? 1.0 / std::sqrt(5.0) : 1.0;
    const Naive ref = naive_entropy(vec(u), 37, 2, 5, beta, m);
    for (Mode mode : {Mode::exact, Mode::factorized}) {
      // both reproduce the clamped formula; the batch term is the same math in all modes
      const ops::LfqEntropyStats s = ops::lfq_entropy_stats(u, Tensor(), spec, 2, beta, mode);
      CHECK(s.per_sample_entropy.item<float>() == doctest::Approx(ref.per_sample).epsilon(1e-5));
      CHECK(ops::lfq_batch_entropy(s.avg_probs).item<float>() == doctest::Approx(ref.batch).epsilon(1e-5));
      const std::vector<float> avg = vec(s.avg_probs);
      for (size_t k = 0; k < avg.size(); ++k) CHECK(avg[k] == doctest::Approx(ref.avg[k]).epsilon(1e-4).scale(1e-6));
    }
    // unclamped: the true entropy, never below the clamped one
    const ops::LfqEntropyStats f = ops::lfq_entropy_stats(u, Tensor(), spec, 2, beta, Mode::unclamped);
    CHECK(f.per_sample_entropy.item<float>() >= ref.per_sample * (1 - 1e-6));
    CHECK(f.per_sample_entropy.item<float>() == doctest::Approx(ref.per_sample).epsilon(0.05));
  }
}

TEST_CASE("lfq kernels: entropy on a row subset and an empty selection") {
  ops::LfqSpec spec;
  spec.codebook_dim = 4;
  const Tensor u = randn({20, 4}, 17);
  const std::vector<int64_t> rows = {3, 7, 0, 19, 11};
  const Tensor r = Tensor::from_vector(rows, {5});
  const Naive ref = naive_entropy(vec(u), 20, 1, 4, 2.0, 1.0, rows);
  for (Mode mode : {Mode::exact, Mode::factorized, Mode::unclamped}) {
    const ops::LfqEntropyStats s = ops::lfq_entropy_stats(u, r, spec, 1, 2.0, mode);
    CHECK(ops::lfq_batch_entropy(s.avg_probs).item<float>() == doctest::Approx(ref.batch).epsilon(1e-5));
    if (mode != Mode::unclamped)
      CHECK(s.per_sample_entropy.item<float>() == doctest::Approx(ref.per_sample).epsilon(1e-5));
    // the gradient touches only the selected rows
    const std::vector<float> du = vec(ops::lfq_entropy_backward(
        u, r, ops::lfq_batch_entropy_backward(s.avg_probs, Tensor::scalar(-1.f)), Tensor::scalar(1.f),
        spec, 1, 2.0, mode));
    for (int64_t row = 0; row < 20; ++row) {
      const bool sel = std::find(rows.begin(), rows.end(), row) != rows.end();
      double n = 0;
      for (int i = 0; i < 4; ++i) n += std::fabs(du[row * 4 + i]);
      CHECK((n > 0) == sel);
    }
  }
  const Tensor empty = Tensor::from_vector(std::vector<int64_t>{}, {0});
  const ops::LfqEntropyStats e = ops::lfq_entropy_stats(u, empty, spec, 1, 2.0);
  CHECK(e.per_sample_entropy.item<float>() == 0.f);
  CHECK(vec(e.avg_probs) == std::vector<float>(16, 0.f));
}

TEST_CASE("lfq kernels: entropy gradients match central differences (every mode)") {
  for (Mode mode : {Mode::exact, Mode::factorized, Mode::unclamped}) {
    for (int c : {3, 6}) {
      ops::LfqSpec spec;
      spec.codebook_dim = c;
      const double beta = 0.7;
      const Tensor u = randn({9, 2 * c}, 23 + c, 0.5f);
      const float gps = 0.8f, gb = -1.3f;
      auto f = [&](const std::vector<float>& uv) {
        const ops::LfqEntropyStats s =
            ops::lfq_entropy_stats(Tensor::from_vector(uv, {9, 2 * c}), Tensor(), spec, 2, beta, mode);
        return gps * static_cast<double>(s.per_sample_entropy.item<float>()) +
               gb * static_cast<double>(ops::lfq_batch_entropy(s.avg_probs).item<float>());
      };
      const ops::LfqEntropyStats s = ops::lfq_entropy_stats(u, Tensor(), spec, 2, beta, mode);
      const std::vector<float> du = vec(ops::lfq_entropy_backward(
          u, Tensor(), ops::lfq_batch_entropy_backward(s.avg_probs, Tensor::scalar(gb)),
          Tensor::scalar(gps), spec, 2, beta, mode));
      std::vector<float> uv = vec(u);
      for (int i = 0; i < 9 * 2 * c; i += 5) {
        const float keep = uv[i], e = 2e-2f;
        uv[i] = keep + e;
        const double fp = f(uv);
        uv[i] = keep - e;
        const double fm = f(uv);
        uv[i] = keep;
        CHECK(du[i] == doctest::Approx((fp - fm) / (2 * e)).epsilon(2e-2).scale(2e-3));
      }
    }
  }
}

TEST_CASE("lfq kernels: error messages") {
  ops::LfqSpec spec;
  spec.codebook_dim = 4;
  CHECK_THROWS_WITH_AS(ops::lfq_forward(Tensor::zeros({2, 6}), spec, 1, true),
                       doctest::Contains("lfq_forward: x last dim must be num_codebooks * codebook_dim = 4, got x=f32[2, 6]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::lfq_forward(Tensor::zeros({2, 4}), spec, 1, true, Tensor::zeros({2, 5})),
                       doctest::Contains("act must have x's shape"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::lfq_commitment(Tensor::zeros({3, 4}), spec, 1,
                                           Tensor::from_vector(std::vector<uint8_t>{1, 0}, {2}, DType::boolean)),
                       doctest::Contains("row_mask must have one entry per row (3)"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::lfq_entropy_stats(Tensor::zeros({3, 4}), Tensor::from_vector(std::vector<int64_t>{5}, {1}),
                                              spec, 1, 100.0),
                       doctest::Contains("row 5 out of range for 3 rows"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::lfq_entropy_backward(Tensor::zeros({3, 4}), Tensor(), Tensor::zeros({1, 8}), Tensor(),
                                                 spec, 1, 100.0),
                       doctest::Contains("grad_avg_probs must be [num_codebooks, 2^codebook_dim] = [1, 16], got f32[1, 8]"),
                       ShapeError);
  ops::LfqSpec bad;
  bad.codebook_dim = 0;
  CHECK_THROWS_WITH_AS(ops::lfq_forward(Tensor::zeros({2, 4}), bad, 1, true),
                       doctest::Contains("codebook_dim (log2 codebook_size) must be in [1, 62]"), ConfigError);
  CHECK_THROWS_WITH_AS(ops::lfq_batch_entropy(Tensor::zeros({2, 3})),
                       doctest::Contains("avg_probs must be [H, 2^c], got f32[2, 3]"), ShapeError);
}
