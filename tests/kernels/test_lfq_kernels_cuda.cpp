// CUDA vs CPU for the LFQ kernels (kernels/cuda/lfq.h): the element-wise forward,
// backward, commitment and decode (same group math, so values agree to an ulp or two
// and indices exactly), and the entropy terms in both modes (different summation
// orders: relative 1e-5). Runs only where a GPU answers.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/generator.h"
#include "kernels/ops.h"
#include "kernels/ops_scalar_quant.h"

using namespace vq;

namespace {

std::vector<float> host(const Tensor& t) { return t.to(cpu_device()).contiguous().to_vector<float>(); }
std::vector<int64_t> ihost(const Tensor& t) {
  return t.to(cpu_device()).contiguous().to_vector<int64_t>();
}

Tensor randn(const Shape& s, uint64_t seed, float stddev = 1.f) {
  Generator g(seed);
  return Tensor::randn(s, g, cpu_device(), 0.f, stddev);
}

void check_close(const std::vector<float>& a, const std::vector<float>& b, double rel, double abs) {
  REQUIRE(a.size() == b.size());
  int64_t bad = 0;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(static_cast<double>(a[i]) - b[i]);
    if (d > abs + rel * std::fabs(static_cast<double>(b[i]))) ++bad;
    worst = std::max(worst, d);
  }
  CHECK_MESSAGE(bad == 0, bad, " of ", a.size(), " elements differ; worst abs difference ", worst);
}

}  // namespace

TEST_CASE("lfq cuda: forward, commitment, backward and decode match the CPU") {
  const Device dev = cuda_device(0);
  for (int variant = 0; variant < 4; ++variant) {
    ops::LfqSpec spec;
    spec.codebook_dim = variant == 3 ? 16 : 6;
    spec.codebook_scale = variant == 1 ? 0.5 : 1.0;
    spec.spherical = variant >= 2;
    spec.soft_clamp_input_value = variant == 2 ? 1.5 : 0.0;
    CAPTURE(variant);
    const int64_t H = 2, W = H * spec.codebook_dim;
    const Tensor x = randn({3, 20011, W}, 10 + variant);
    const Tensor act = randn({3, 20011, W}, 20 + variant);
    const Tensor g = randn({3, 20011, W}, 30 + variant);
    const Tensor gu = randn({3, 20011, W}, 40 + variant);
    Generator mg(50 + variant);
    const Tensor mask = ops::lt(Tensor::rand({3 * 20011}, mg), 0.5).contiguous();
    for (bool training : {true, false}) {
      const ops::LfqOutput c = ops::lfq_forward(x, spec, H, training);
      const ops::LfqOutput d = ops::lfq_forward(x.to(dev), spec, H, training);
      CHECK(ihost(d.indices) == ihost(c.indices));
      check_close(host(d.quantized), host(c.quantized), 0, 0);
      check_close(host(d.u), host(c.u), 1e-6, 1e-7);
    }
    const ops::LfqOutput ca = ops::lfq_forward(x, spec, H, true, act);
    const ops::LfqOutput da = ops::lfq_forward(x.to(dev), spec, H, true, act.to(dev));
    check_close(host(da.quantized), host(ca.quantized), 0, 0);
    const Tensor u = ops::lfq_forward(x, spec, H, true).u;
    check_close(host(ops::lfq_commitment(u.to(dev), spec, H, mask.to(dev))),
                host(ops::lfq_commitment(u, spec, H, mask)), 1e-6, 0);
    check_close(host(ops::lfq_commitment(u.to(dev), spec, H)), host(ops::lfq_commitment(u, spec, H)),
                1e-6, 0);
    for (bool ste : {true, false}) {
      const Tensor gc = Tensor::scalar(0.37f);
      const std::vector<float> dc = host(ops::lfq_backward(g, gu, x, spec, H, ste, gc, mask));
      const std::vector<float> dd = host(ops::lfq_backward(g.to(dev), gu.to(dev), x.to(dev), spec,
                                                           H, ste, gc.to(dev), mask.to(dev)));
      check_close(dd, dc, 1e-5, 1e-7);
    }
    const Tensor idx = ops::lfq_forward(x, spec, H, false).indices;
    check_close(host(ops::lfq_indices_to_codes(idx.to(dev), spec)),
                host(ops::lfq_indices_to_codes(idx, spec)), 0, 0);
  }
}

TEST_CASE("lfq cuda: entropy statistics and gradients match the CPU (both modes)") {
  const Device dev = cuda_device(0);
  struct Case {
    int c;
    int64_t H, T;
    ops::LfqEntropyMode mode;
    bool rows;
    double beta;
  };
  using Mode = ops::LfqEntropyMode;
  const Case cases[] = {{5, 2, 301, Mode::exact, false, 1.0},       {10, 1, 257, Mode::exact, true, 100.0},
                        {5, 2, 301, Mode::factorized, false, 1.0},  {11, 1, 999, Mode::factorized, true, 100.0},
                        {16, 1, 70001, Mode::factorized, false, 100.0}, {7, 3, 500, Mode::unclamped, true, 3.0}};
  for (const Case& k : cases) {
    CAPTURE(k.c);
    CAPTURE(static_cast<int>(k.mode));
    ops::LfqSpec spec;
    spec.codebook_dim = k.c;
    spec.spherical = k.beta == 1.0;
    const Tensor x = randn({k.T, k.H * k.c}, 60 + k.c, 0.3f);
    const Tensor u = ops::lfq_forward(x, spec, k.H, true).u;
    Tensor rows;
    if (k.rows) {
      std::vector<int64_t> r;
      for (int64_t t = 0; t < k.T; t += 3) r.push_back(t);
      rows = Tensor::from_vector(r, {static_cast<int64_t>(r.size())});
    }
    const ops::LfqEntropyStats c = ops::lfq_entropy_stats(u, rows, spec, k.H, k.beta, k.mode);
    const ops::LfqEntropyStats d = ops::lfq_entropy_stats(
        u.to(dev), rows.defined() ? rows.to(dev) : rows, spec, k.H, k.beta, k.mode);
    check_close(host(d.per_sample_entropy), host(c.per_sample_entropy), 1e-5, 1e-7);
    check_close(host(d.avg_probs), host(c.avg_probs), 1e-4, 1e-8);
    check_close(host(ops::lfq_batch_entropy(d.avg_probs)), host(ops::lfq_batch_entropy(c.avg_probs)),
                1e-5, 1e-7);
    const Tensor gps = Tensor::scalar(0.6f), gb = Tensor::scalar(-1.1f);
    const Tensor Gc = ops::lfq_batch_entropy_backward(c.avg_probs, gb);
    const Tensor Gd = ops::lfq_batch_entropy_backward(c.avg_probs.to(dev), gb.to(dev));
    check_close(host(Gd), host(Gc), 1e-5, 1e-7);
    const std::vector<float> duc =
        host(ops::lfq_entropy_backward(u, rows, Gc, gps, spec, k.H, k.beta, k.mode));
    const std::vector<float> dud = host(ops::lfq_entropy_backward(
        u.to(dev), rows.defined() ? rows.to(dev) : rows, Gc.to(dev), gps.to(dev), spec, k.H,
        k.beta, k.mode));
    double scale = 0;
    for (float v : duc) scale = std::max(scale, static_cast<double>(std::fabs(v)));
    check_close(dud, duc, 1e-3, 1e-4 * scale);
  }
}
