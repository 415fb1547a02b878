// Nearest-code search on CPU: hand-computed cases through the Tensor API, every fast
// path (small-D register tiles and the blocked sgemm path, at each SIMD level this CPU
// has) against the scalar fp64 oracle on random data, heads and head broadcasting,
// top-k, the materialized similarity matrix, and the error messages.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <vector>

#include "core/tensor.h"
#include "kernels/cpu/nearest_code.h"
#include "kernels/ops_vq.h"
#include "tests/kernels/test_vq_kernels_util.h"

using namespace vq;
using vq::ops::VqMetric;
using vq_test::randn_vec;

namespace {

// x = [[0,0],[2,1],[3,3]], codes = [[1,0],[0,2],[3,2]] (distances worked out by hand).
Tensor hand_x() { return Tensor::from_vector({0, 0, 2, 1, 3, 3}, {3, 2}); }
Tensor hand_codes() { return Tensor::from_vector({1, 0, 0, 2, 3, 2}, {3, 2}); }

std::vector<cpu::SimdLevel> levels() {
  std::vector<cpu::SimdLevel> l{cpu::SimdLevel::scalar};
  if (cpu::simd_level() >= cpu::SimdLevel::avx2) l.push_back(cpu::SimdLevel::avx2);
  if (cpu::simd_level() >= cpu::SimdLevel::avx512) l.push_back(cpu::SimdLevel::avx512);
  return l;
}

cpu::NcShape shape2d(int64_t N, int64_t K, int64_t D) {
  cpu::NcShape s;
  s.N = N;
  s.K = K;
  s.D = D;
  s.x_head_stride = N * D;
  s.codes_head_stride = K * D;
  return s;
}

// Runs `path` at `lvl` and compares with the oracle: indices equal except near-ties,
// scores within 1e-5 of the cost scale of the returned code's fp64 cost.
void check_against_oracle(const std::vector<float>& x, const std::vector<float>& c,
                          const cpu::NcShape& s, bool ip, cpu::NcPath path, cpu::SimdLevel lvl) {
  const int64_t rows = s.H * s.N;
  std::vector<int64_t> i_ref(rows), i_fast(rows);
  std::vector<float> s_ref(rows), s_fast(rows);
  cpu::nearest_code_naive(i_ref.data(), s_ref.data(), x.data(), c.data(), s, ip);
  cpu::nearest_code(i_fast.data(), s_fast.data(), x.data(), c.data(), s, ip, path, lvl);
  int64_t bad_idx = 0, bad_score = 0, near_ties = 0;
  for (int64_t h = 0; h < s.H; ++h) {
    const float* ch = c.data() + h * s.codes_head_stride;
    for (int64_t n = 0; n < s.N; ++n) {
      const int64_t o = h * s.N + n;
      const float* xr = x.data() + h * s.x_head_stride + n * s.D;
      if (i_fast[o] < 0 || i_fast[o] >= s.K) { ++bad_idx; continue; }
      if (i_fast[o] != i_ref[o]) {
        if (vq_test::same_or_near_tie(xr, ch, s.D, i_fast[o], i_ref[o], ip)) ++near_ties;
        else ++bad_idx;
      }
      const float* cf = ch + i_fast[o] * s.D;
      const double want = vq_test::pair_cost(xr, cf, s.D, ip) * (ip ? -1.0 : 1.0);
      const double tol = 1e-5 * vq_test::cost_scale(xr, cf, cf, s.D, ip) + 1e-30;
      if (std::fabs(double(s_fast[o]) - want) > tol) ++bad_score;
    }
  }
  INFO("path=", int(path), " simd=", cpu::simd_level_name(lvl), " ip=", ip, " H=", s.H,
       " N=", s.N, " K=", s.K, " D=", s.D, " near_ties=", near_ties);
  CHECK(bad_idx == 0);
  CHECK(bad_score == 0);
  CHECK(near_ties * 100 <= rows + 100);  // near-ties must stay rare
}

}  // namespace

TEST_CASE("nearest_code: hand-computed Euclidean and inner product, ties to lowest index") {
  auto r = ops::nearest_code(hand_x(), hand_codes());
  // row 1 = [2,1] is at squared distance 2 from codes 0 and 2: the lower index wins
  CHECK(r.indices.to_vector<int64_t>() == std::vector<int64_t>{0, 0, 2});
  CHECK(r.scores.to_vector<float>() == std::vector<float>{1, 2, 1});
  CHECK(r.indices.shape() == Shape{3});
  auto p = ops::nearest_code(hand_x(), hand_codes(), VqMetric::inner_product);
  // row 0 = [0,0] has x.c = 0 for every code: index 0
  CHECK(p.indices.to_vector<int64_t>() == std::vector<int64_t>{0, 2, 2});
  CHECK(p.scores.to_vector<float>() == std::vector<float>{0, 8, 15});
}

TEST_CASE("nearest_code: every path on the hand case and on exact ties") {
  // 4 codes at distance 1 from the origin: all tie, index 0 must win on every path
  const std::vector<float> x = {0, 0, 0.5f, 0};
  const std::vector<float> c = {1, 0, 0, 1, -1, 0, 0, -1};
  for (auto path : {cpu::NcPath::naive, cpu::NcPath::small_d, cpu::NcPath::blocked})
    for (auto lvl : levels()) {
      std::vector<int64_t> idx(2);
      std::vector<float> sc(2);
      cpu::nearest_code(idx.data(), sc.data(), x.data(), c.data(), shape2d(2, 4, 2), false, path, lvl);
      CHECK(idx == std::vector<int64_t>{0, 0});
      CHECK(sc[0] == 1.f);
      CHECK(sc[1] == doctest::Approx(0.25f));
    }
  // duplicated codes (same lane of another panel, and another lane): the first copy wins
  const int64_t K = 40, D = 8;
  std::vector<float> codes = randn_vec(K * D, 11);
  for (int64_t d = 0; d < D; ++d) {
    codes[21 * D + d] = codes[5 * D + d];   // lane 5 of panel 1 == code 5
    codes[37 * D + d] = codes[30 * D + d];  // other lane, other panel
  }
  std::vector<float> xs(2 * D);
  for (int64_t d = 0; d < D; ++d) {
    xs[d] = codes[5 * D + d] + 1e-3f;
    xs[D + d] = codes[30 * D + d] - 1e-3f;
  }
  for (auto path : {cpu::NcPath::naive, cpu::NcPath::small_d, cpu::NcPath::blocked})
    for (auto lvl : levels())
      for (bool ip : {false, true}) {
        if (ip) continue;  // with inner products a duplicate is not nearest by construction
        std::vector<int64_t> idx(2);
        std::vector<float> sc(2);
        cpu::nearest_code(idx.data(), sc.data(), xs.data(), codes.data(), shape2d(2, K, D), ip,
                          path, lvl);
        CHECK(idx == std::vector<int64_t>{5, 30});
      }
}

TEST_CASE("nearest_code: fast paths agree with the fp64 oracle on random data") {
  struct Case { int64_t N, K, D; };
  const Case cases[] = {{1, 1, 1},    {7, 5, 3},     {33, 16, 8},   {50, 17, 16},
                        {64, 100, 31}, {65, 33, 32}, {40, 257, 33}, {300, 1000, 8},
                        {19, 64, 130}, {600, 300, 40}, {37, 70, 0}};
  uint32_t seed = 1;
  for (const Case& cs : cases) {
    const auto x = randn_vec(cs.N * cs.D, seed++);
    const auto c = randn_vec(cs.K * cs.D, seed++);
    for (bool ip : {false, true})
      for (auto lvl : levels())
        for (auto path : {cpu::NcPath::small_d, cpu::NcPath::blocked, cpu::NcPath::automatic})
          check_against_oracle(x, c, shape2d(cs.N, cs.K, cs.D), ip, path, lvl);
  }
}

TEST_CASE("nearest_code: the blocked path gives the same answer with 1 and 2 threads") {
  const int64_t N = 700, K = 500, D = 64;
  const auto x = randn_vec(N * D, 5), c = randn_vec(K * D, 6);
  std::vector<int64_t> i1(N), i2(N);
  std::vector<float> s1(N), s2(N);
  const int prev = omp_get_max_threads();
  omp_set_num_threads(1);
  cpu::nearest_code(i1.data(), s1.data(), x.data(), c.data(), shape2d(N, K, D), false,
                    cpu::NcPath::blocked);
  omp_set_num_threads(2);
  cpu::nearest_code(i2.data(), s2.data(), x.data(), c.data(), shape2d(N, K, D), false,
                    cpu::NcPath::blocked);
  omp_set_num_threads(prev);
  int64_t differ = 0;
  for (int64_t n = 0; n < N; ++n)
    if (i1[n] != i2[n] && !vq_test::same_or_near_tie(x.data() + n * D, c.data(), D, i1[n], i2[n], false))
      ++differ;
  CHECK(differ == 0);
}

TEST_CASE("nearest_code: heads and head broadcasting match per-head calls") {
  Generator gen(123);
  const int64_t H = 3, N = 45, K = 70, D = 12;
  Tensor x3 = Tensor::randn({H, N, D}, gen), c3 = Tensor::randn({H, K, D}, gen);
  Tensor x2 = Tensor::randn({N, D}, gen), c2 = Tensor::randn({K, D}, gen);
  for (auto metric : {VqMetric::euclidean, VqMetric::inner_product}) {
    auto both = ops::nearest_code(x3, c3, metric);
    auto shared_codes = ops::nearest_code(x3, c2, metric);
    auto shared_x = ops::nearest_code(x2, c3, metric);
    auto one_head = ops::nearest_code(x3.narrow(0, 1, 1), c3, metric);  // x H=1 broadcasts
    CHECK(both.indices.shape() == Shape{H, N});
    CHECK(shared_codes.scores.shape() == Shape{H, N});
    CHECK(shared_x.indices.shape() == Shape{H, N});
    CHECK(one_head.indices.shape() == Shape{H, N});
    for (int64_t h = 0; h < H; ++h) {
      auto a = ops::nearest_code(x3.select(0, h), c3.select(0, h), metric);
      auto b = ops::nearest_code(x3.select(0, h), c2, metric);
      auto c = ops::nearest_code(x2, c3.select(0, h), metric);
      auto d = ops::nearest_code(x3.select(0, 1), c3.select(0, h), metric);
      CHECK(both.indices.select(0, h).to_vector<int64_t>() == a.indices.to_vector<int64_t>());
      CHECK(both.scores.select(0, h).to_vector<float>() == a.scores.to_vector<float>());
      CHECK(shared_codes.indices.select(0, h).to_vector<int64_t>() == b.indices.to_vector<int64_t>());
      CHECK(shared_x.indices.select(0, h).to_vector<int64_t>() == c.indices.to_vector<int64_t>());
      CHECK(one_head.indices.select(0, h).to_vector<int64_t>() == d.indices.to_vector<int64_t>());
    }
  }
  // non-contiguous input: a transposed view gives the same result as its copy
  Tensor xt = Tensor::randn({D, N}, gen).t();
  CHECK(ops::nearest_code(xt, c2).indices.to_vector<int64_t>() ==
        ops::nearest_code(xt.contiguous(), c2).indices.to_vector<int64_t>());
}

TEST_CASE("nearest_code_topk: hand case, oracle agreement, k = 1 equals top-1") {
  auto r = ops::nearest_code_topk(hand_x(), hand_codes(), 3);
  CHECK(r.indices.shape() == Shape{3, 3});
  // row 0: distances 1, 4, 13; row 1: 2, 5, 2 (tie: index order); row 2: 13, 10, 1
  CHECK(r.indices.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 0, 2, 1, 2, 1, 0});
  CHECK(r.scores.to_vector<float>() == std::vector<float>{1, 4, 13, 2, 2, 5, 1, 10, 13});
  auto p = ops::nearest_code_topk(hand_x(), hand_codes(), 2, VqMetric::inner_product);
  CHECK(p.indices.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 0, 2, 1});
  CHECK(p.scores.to_vector<float>() == std::vector<float>{0, 0, 8, 2, 15, 6});

  const int64_t H = 2, N = 90, K = 300, D = 20, k = 7;
  const auto x = randn_vec(H * N * D, 21), c = randn_vec(H * K * D, 22);
  cpu::NcShape s = shape2d(N, K, D);
  s.H = H;
  for (bool ip : {false, true}) {
    std::vector<int64_t> ia(H * N * k), ib(H * N * k);
    std::vector<float> sa(H * N * k), sb(H * N * k);
    cpu::nearest_code_topk(ia.data(), sa.data(), x.data(), c.data(), s, k, ip);
    cpu::nearest_code_topk_naive(ib.data(), sb.data(), x.data(), c.data(), s, k, ip);
    int64_t bad = 0;
    for (int64_t o = 0; o < H * N * k; ++o) {
      const int64_t h = o / (N * k), n = (o / k) % N;
      const float* xr = x.data() + (h * N + n) * D;
      const float* ch = c.data() + h * K * D;
      if (!vq_test::same_or_near_tie(xr, ch, D, ia[o], ib[o], ip)) ++bad;
      if (std::fabs(sa[o] - sb[o]) > 1e-5 * vq_test::cost_scale(xr, ch + ia[o] * D, ch + ib[o] * D, D, ip)) ++bad;
    }
    CHECK(bad == 0);
    std::vector<int64_t> i1(H * N);
    std::vector<float> s1(H * N);
    cpu::nearest_code(i1.data(), s1.data(), x.data(), c.data(), s, ip, cpu::NcPath::blocked);
    for (int64_t r0 = 0; r0 < H * N; ++r0) CHECK(i1[r0] == ia[r0 * k]);
  }
}

TEST_CASE("code_similarity: negated clamped cdist and inner products") {
  Tensor s = ops::code_similarity(hand_x(), hand_codes());
  CHECK(s.shape() == Shape{3, 3});
  const std::vector<float> want = {-1.f, -2.f, -std::sqrt(13.f), -std::sqrt(2.f), -std::sqrt(5.f),
                                   -std::sqrt(2.f), -std::sqrt(13.f), -std::sqrt(10.f), -1.f};
  auto got = s.to_vector<float>();
  for (size_t i = 0; i < want.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-6));
  // x equal to a code: the clamp at 1e-8 gives distance 1e-4
  Tensor same = ops::code_similarity(Tensor::from_vector({1, 0}, {1, 2}), hand_codes());
  CHECK(same.to_vector<float>()[0] == doctest::Approx(-1e-4f).epsilon(1e-6));
  Tensor ip = ops::code_similarity(hand_x(), hand_codes(), VqMetric::inner_product);
  CHECK(ip.to_vector<float>() == std::vector<float>{0, 0, 0, 2, 2, 8, 3, 6, 15});
  // random heads: agrees with an fp64 evaluation of the same formula; argmax = nearest_code
  Generator gen(9);
  Tensor x = Tensor::randn({2, 50, 24}, gen), c = Tensor::randn({2, 40, 24}, gen);
  Tensor sim = ops::code_similarity(x, c);
  CHECK(sim.shape() == Shape{2, 50, 40});
  auto xv = x.to_vector<float>(), cv = c.to_vector<float>(), sv = sim.to_vector<float>();
  int64_t bad = 0;
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t n = 0; n < 50; ++n)
      for (int64_t k = 0; k < 40; ++k) {
        const float* xr = xv.data() + (h * 50 + n) * 24;
        const float* cr = cv.data() + (h * 40 + k) * 24;
        const double d = std::sqrt(std::max(vq_test::pair_cost(xr, cr, 24, false), 1e-8));
        if (std::fabs(sv[(h * 50 + n) * 40 + k] + d) > 1e-5 * std::max(1.0, d)) ++bad;
      }
  CHECK(bad == 0);
  const auto nearest = ops::nearest_code(x, c).indices.to_vector<int64_t>();
  int64_t argmax_differs = 0;
  for (int64_t r = 0; r < 100; ++r) {
    int64_t best = 0;
    for (int64_t k = 1; k < 40; ++k)
      if (sv[r * 40 + k] > sv[r * 40 + best]) best = k;
    if (best != nearest[r]) ++argmax_differs;
  }
  CHECK(argmax_differs == 0);
}

TEST_CASE("nearest_code: error messages name the op and every shape") {
  Tensor x = Tensor::zeros({4, 8}), c = Tensor::zeros({16, 4});
  CHECK_THROWS_WITH_AS(ops::nearest_code(x, c),
                       "nearest_code: x=[N, D] and codes=[K, D] must share D, got x=f32[4, 8] and "
                       "codes=f32[16, 4]",
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::nearest_code(Tensor::zeros({8}), c),
                       doctest::Contains("x must be [N, D] or [H, N, D], got x=f32[8]"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::nearest_code(Tensor::zeros({2, 4, 4}), Tensor::zeros({3, 16, 4})),
                       doctest::Contains("heads of x=[H, N, D] and codes=[H, K, D] must match"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::nearest_code(Tensor::zeros({4, 4}), Tensor::zeros({0, 4})),
                       doctest::Contains("codes must hold at least one code"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::nearest_code(Tensor::zeros({4, 4}, DType::i64), c),
                       doctest::Contains("nearest_code: x must be f32, got x=i64[4, 4]"), DTypeError);
  CHECK_THROWS_WITH_AS(ops::nearest_code_topk(Tensor::zeros({4, 4}), c, 17),
                       doctest::Contains("nearest_code_topk: k must lie in [1, min(K, 32)], got k=17"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::code_similarity(x, c), doctest::Contains("code_similarity: x=[N, D]"),
                       ShapeError);
  // empty inputs are fine: no rows, no output
  CHECK(ops::nearest_code(Tensor::zeros({0, 4}), c).indices.shape() == Shape{0});
}
