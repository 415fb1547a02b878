// CUDA VQ kernels against their CPU twins on the same inputs: nearest-code search on
// every CUDA path (small-D registers, fused tiled GEMM, cuBLAS + argmin) including the
// code-split merge and heads, top-k, the similarity matrix, code statistics (weights,
// masks, heads, a hot code, determinism) and the rotation trick. Indices must agree
// exactly except documented near-ties (fp64 costs within 1e-5 of the cost scale);
// scores within 1e-5 relative. Runs only where a GPU answers (vq_cuda_tests).
#include <doctest/doctest.h>

#include <cmath>
#include <optional>
#include <vector>

#include "core/tensor.h"
#include "kernels/cpu/nearest_code.h"
#include "kernels/cuda/nearest_code.h"
#include "kernels/ops_vq.h"
#include "tests/kernels/test_vq_kernels_util.h"

using namespace vq;
using vq::ops::VqMetric;
using vq_test::randn_vec;

namespace {

Device gpu() { return cuda_device(0); }

Tensor host(const std::vector<float>& v, const Shape& s) { return Tensor::from_vector(v, s); }

const char* path_name(cuda::NcCudaPath p) {
  switch (p) {
    case cuda::NcCudaPath::small_d: return "small_d";
    case cuda::NcCudaPath::tiled: return "tiled";
    case cuda::NcCudaPath::gemm: return "gemm";
    default: return "automatic";
  }
}

// Compares CUDA indices / scores [H, N] with the CPU fp64 oracle on the same data.
void compare_top1(const std::vector<float>& x, const std::vector<float>& c, int64_t H, int64_t N,
                  int64_t K, int64_t D, bool shared_x, bool shared_codes, bool ip,
                  const std::vector<int64_t>& gi, const std::vector<float>& gs, const char* what) {
  cpu::NcShape s;
  s.H = H;
  s.N = N;
  s.K = K;
  s.D = D;
  s.x_head_stride = shared_x ? 0 : N * D;
  s.codes_head_stride = shared_codes ? 0 : K * D;
  std::vector<int64_t> ri(H * N);
  std::vector<float> rs(H * N);
  cpu::nearest_code_naive(ri.data(), rs.data(), x.data(), c.data(), s, ip);
  int64_t bad_idx = 0, bad_score = 0, ties = 0;
  for (int64_t h = 0; h < H; ++h)
    for (int64_t n = 0; n < N; ++n) {
      const int64_t o = h * N + n;
      const float* xr = x.data() + h * s.x_head_stride + n * D;
      const float* ch = c.data() + h * s.codes_head_stride;
      if (gi[o] < 0 || gi[o] >= K) { ++bad_idx; continue; }
      if (gi[o] != ri[o]) {
        if (vq_test::same_or_near_tie(xr, ch, D, gi[o], ri[o], ip)) ++ties;
        else ++bad_idx;
      }
      const float* cf = ch + gi[o] * D;
      const double want = vq_test::pair_cost(xr, cf, D, ip) * (ip ? -1.0 : 1.0);
      if (std::fabs(gs[o] - want) > 1e-5 * vq_test::cost_scale(xr, cf, cf, D, ip)) ++bad_score;
    }
  INFO(what, " H=", H, " N=", N, " K=", K, " D=", D, " ip=", ip, " near_ties=", ties);
  CHECK(bad_idx == 0);
  CHECK(bad_score == 0);
  CHECK(ties * 100 <= H * N + 100);
}

}  // namespace

TEST_CASE("cuda nearest_code: every path matches the CPU oracle") {
  struct Case { int64_t H, N, K, D; };
  const Case cases[] = {{1, 1, 1, 1},     {1, 100, 17, 3},   {1, 1000, 300, 8},  {2, 257, 1000, 16},
                        {1, 999, 129, 17}, {1, 513, 64, 32},  {1, 300, 257, 33},  {3, 200, 130, 64},
                        {1, 5, 5000, 8},   {1, 7, 4096, 64},  {1, 1000, 100, 130}, {1, 64, 200, 600},
                        {1, 50, 70, 0}};
  uint32_t seed = 100;
  for (const Case& cs : cases) {
    const auto x = randn_vec(cs.H * cs.N * cs.D, seed++);
    const auto c = randn_vec(cs.H * cs.K * cs.D, seed++);
    Tensor xg = host(x, {cs.H * cs.N * cs.D}).to(gpu());
    Tensor cg = host(c, {cs.H * cs.K * cs.D}).to(gpu());
    for (bool ip : {false, true})
      for (auto path : {cuda::NcCudaPath::small_d, cuda::NcCudaPath::tiled, cuda::NcCudaPath::gemm,
                        cuda::NcCudaPath::automatic}) {
        Tensor gi = Tensor::empty({cs.H * cs.N}, DType::i64, gpu());
        Tensor gs = Tensor::empty({cs.H * cs.N}, DType::f32, gpu());
        cuda::nearest_code(gi.data<int64_t>(), gs.data<float>(), xg.data<float>(), cg.data<float>(),
                           cs.H, cs.N, cs.K, cs.D, cs.N * cs.D, cs.K * cs.D, ip, 0, path);
        compare_top1(x, c, cs.H, cs.N, cs.K, cs.D, false, false, ip, gi.to_vector<int64_t>(),
                     gs.to_vector<float>(), path_name(path));
      }
  }
}

TEST_CASE("cuda nearest_code: head broadcasting and the Tensor API agree with CPU") {
  Generator gen(77);
  const int64_t H = 3, N = 300, K = 150, D = 40;
  Tensor x3 = Tensor::randn({H, N, D}, gen), c2 = Tensor::randn({K, D}, gen);
  Tensor x2 = Tensor::randn({N, D}, gen), c3 = Tensor::randn({H, K, D}, gen);
  for (auto metric : {VqMetric::euclidean, VqMetric::inner_product}) {
    const bool ip = metric == VqMetric::inner_product;
    auto a = ops::nearest_code(x3.to(gpu()), c2.to(gpu()), metric);
    CHECK(a.indices.shape() == Shape{H, N});
    compare_top1(x3.to_vector<float>(), c2.to_vector<float>(), H, N, K, D, false, true, ip,
                 a.indices.to_vector<int64_t>(), a.scores.to_vector<float>(), "shared codes");
    auto b = ops::nearest_code(x2.to(gpu()), c3.to(gpu()), metric);
    compare_top1(x2.to_vector<float>(), c3.to_vector<float>(), H, N, K, D, true, false, ip,
                 b.indices.to_vector<int64_t>(), b.scores.to_vector<float>(), "shared x");
  }
  // exact ties: four codes at distance 1 from the origin -> index 0 on every path
  Tensor xt = Tensor::from_vector({0, 0}, {1, 2}).to(gpu());
  Tensor ct = Tensor::from_vector({1, 0, 0, 1, -1, 0, 0, -1}, {4, 2}).to(gpu());
  CHECK(ops::nearest_code(xt, ct).indices.to_vector<int64_t>() == std::vector<int64_t>{0});
  for (auto path : {cuda::NcCudaPath::tiled, cuda::NcCudaPath::gemm}) {
    Tensor gi = Tensor::empty({1}, DType::i64, gpu()), gs = Tensor::empty({1}, DType::f32, gpu());
    cuda::nearest_code(gi.data<int64_t>(), gs.data<float>(), xt.data<float>(), ct.data<float>(), 1,
                       1, 4, 2, 2, 8, false, 0, path);
    CHECK(gi.to_vector<int64_t>() == std::vector<int64_t>{0});
    CHECK(gs.to_vector<float>() == std::vector<float>{1.f});
  }
  CHECK_THROWS_WITH_AS(ops::nearest_code(x2.to(gpu()), c2), doctest::Contains("must be on one device"),
                       DeviceError);
}

TEST_CASE("cuda nearest_code_topk and code_similarity agree with CPU") {
  Generator gen(5);
  const int64_t H = 2, N = 150, K = 333, D = 24;
  Tensor x = Tensor::randn({H, N, D}, gen), c = Tensor::randn({H, K, D}, gen);
  const auto xv = x.to_vector<float>(), cv = c.to_vector<float>();
  for (auto metric : {VqMetric::euclidean, VqMetric::inner_product}) {
    const bool ip = metric == VqMetric::inner_product;
    for (int64_t k : {1, 5, 32}) {
      auto g = ops::nearest_code_topk(x.to(gpu()), c.to(gpu()), k, metric);
      auto r = ops::nearest_code_topk(x, c, k, metric);
      CHECK(g.indices.shape() == Shape{H, N, k});
      const auto gi = g.indices.to_vector<int64_t>(), ri = r.indices.to_vector<int64_t>();
      const auto gs = g.scores.to_vector<float>(), rs = r.scores.to_vector<float>();
      int64_t bad = 0;
      for (int64_t o = 0; o < H * N * k; ++o) {
        const int64_t h = o / (N * k), n = (o / k) % N;
        const float* xr = xv.data() + (h * N + n) * D;
        const float* ch = cv.data() + h * K * D;
        if (!vq_test::same_or_near_tie(xr, ch, D, gi[o], ri[o], ip)) ++bad;
        if (std::fabs(gs[o] - rs[o]) > 1e-5 * vq_test::cost_scale(xr, ch + gi[o] * D, ch + ri[o] * D, D, ip))
          ++bad;
      }
      INFO("k=", k, " ip=", ip);
      CHECK(bad == 0);
    }
    const auto gsim = ops::code_similarity(x.to(gpu()), c.to(gpu()), metric).to_vector<float>();
    const auto rsim = ops::code_similarity(x, c, metric).to_vector<float>();
    REQUIRE(gsim.size() == rsim.size());
    int64_t bad = 0;
    for (size_t i = 0; i < gsim.size(); ++i)
      if (std::fabs(gsim[i] - rsim[i]) > 1e-5 * std::max(1.f, std::fabs(rsim[i]))) ++bad;
    CHECK(bad == 0);
  }
}

TEST_CASE("cuda code_stats: counts exact, sums 1e-5, hot code, masks, heads, determinism") {
  const int64_t H = 2, N = 20000, K = 50, D = 20;
  const auto x = randn_vec(H * N * D, 9);
  const auto w = randn_vec(H * N, 10);
  std::vector<int64_t> idx(H * N);
  std::vector<uint8_t> mask(H * N);
  for (int64_t i = 0; i < H * N; ++i) {
    idx[i] = (i % 10 != 0) ? 3 : (i * 31) % K;  // code 3 gets 90% of the rows (many chunks)
    mask[i] = (i % 7) != 0;
  }
  Tensor xi = Tensor::from_vector(x, {H, N, D});
  Tensor ii = Tensor::from_vector(idx, {H, N});
  Tensor wi = Tensor::from_vector(w, {H, N});
  Tensor mi = Tensor::from_vector(mask, {H, N}, DType::boolean);
  for (int variant = 0; variant < 3; ++variant) {
    const bool use_w = variant >= 1, use_m = variant >= 2;
    // fp64 reference and the sum of |terms| per output (the scale of f32 rounding)
    std::vector<double> cnt64(H * K, 0), sum64(H * K * D, 0), cabs(H * K, 0), sabs(H * K * D, 0);
    for (int64_t g = 0; g < H * N; ++g) {
      if (use_m && !mask[g]) continue;
      const int64_t c = (g / N) * K + idx[g];
      const double wv = use_w ? w[g] : 1.0;
      cnt64[c] += wv;
      cabs[c] += std::fabs(wv);
      for (int64_t d = 0; d < D; ++d) {
        sum64[c * D + d] += wv * x[g * D + d];
        sabs[c * D + d] += std::fabs(wv * x[g * D + d]);
      }
    }
    std::optional<Tensor> wc, wg, mc, mg;
    if (use_w) { wc = wi; wg = wi.to(gpu()); }
    if (use_m) { mc = mi; mg = mi.to(gpu()); }
    auto r = ops::code_stats(ii, xi, K, wc, mc);
    auto g = ops::code_stats(ii.to(gpu()), xi.to(gpu()), K, wg, mg);
    auto g2 = ops::code_stats(ii.to(gpu()), xi.to(gpu()), K, wg, mg);
    const auto rc = r.counts.to_vector<float>(), gc = g.counts.to_vector<float>();
    const auto gs = g.sums.to_vector<float>();
    CHECK(gc == g2.counts.to_vector<float>());  // deterministic, bit for bit
    CHECK(gs == g2.sums.to_vector<float>());
    if (!use_w) CHECK(gc == rc);  // integer counts are exact on both devices
    int64_t bad = 0;
    for (int64_t i = 0; i < H * K; ++i)
      if (std::fabs(gc[i] - cnt64[i]) > 1e-5 * cabs[i] + 1e-6) ++bad;
    for (int64_t i = 0; i < H * K * D; ++i)
      if (std::fabs(gs[i] - sum64[i]) > 1e-5 * sabs[i] + 1e-6) ++bad;
    INFO("variant=", variant);
    CHECK(bad == 0);
  }
  // out-of-range indices are skipped on CUDA (the CPU op would throw): mask them on CPU
  std::vector<int64_t> bad_idx = {0, -1, 2, 7};
  std::vector<uint8_t> keep = {1, 0, 1, 0};
  Tensor xs = Tensor::from_vector({1, 2, 3, 4}, {4, 1});
  auto g = ops::code_stats(Tensor::from_vector(bad_idx, {4}).to(gpu()), xs.to(gpu()), 3);
  auto r = ops::code_stats(Tensor::from_vector(bad_idx, {4}), xs, 3, std::nullopt,
                           Tensor::from_vector(keep, {4}, DType::u8));
  CHECK(g.counts.to_vector<float>() == r.counts.to_vector<float>());
  CHECK(g.sums.to_vector<float>() == std::vector<float>{1, 0, 3});
}

TEST_CASE("cuda rotation_trick forward and backward agree with CPU") {
  const int64_t N = 1000;
  for (int64_t D : {3, 32, 200}) {
    const auto x = randn_vec(N * D, 61), q = randn_vec(N * D, 62), g = randn_vec(N * D, 63);
    Tensor xt = Tensor::from_vector(x, {N, D}), qt = Tensor::from_vector(q, {N, D});
    Tensor gt = Tensor::from_vector(g, {N, D});
    const auto rf = ops::rotation_trick(xt, qt).to_vector<float>();
    const auto gf = ops::rotation_trick(xt.to(gpu()), qt.to(gpu())).to_vector<float>();
    const auto rb = ops::rotation_trick_backward(gt, xt, qt).to_vector<float>();
    const auto gb =
        ops::rotation_trick_backward(gt.to(gpu()), xt.to(gpu()), qt.to(gpu())).to_vector<float>();
    int64_t bad = 0;
    for (size_t i = 0; i < rf.size(); ++i) {
      if (std::fabs(gf[i] - rf[i]) > 1e-5 * std::max(1.f, std::fabs(rf[i]))) ++bad;
      if (std::fabs(gb[i] - rb[i]) > 1e-5 * std::max(1.f, std::fabs(rb[i]))) ++bad;
    }
    INFO("D=", D);
    CHECK(bad == 0);
  }
}
