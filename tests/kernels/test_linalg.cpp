// matmul, gemm, bmm against a naive triple loop (in double): several shapes,
// transposed and strided (non-contiguous) operands, batch broadcasting, 1-D operands,
// zero-size dims, alpha/beta, and error messages that name the shapes.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/ops.h"

using namespace vq;

namespace {

// Naive oracle: a [..., M, K] x b [..., K, N] with torch.matmul batch broadcasting.
std::vector<float> naive(const Tensor& a, const Tensor& b, Shape* out_shape = nullptr) {
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  const Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  const Shape batch = broadcast_shapes(ba, bb, "naive");
  Shape sa = batch, sb = batch;
  sa.insert(sa.end(), {M, K});
  sb.insert(sb.end(), {K, N});
  const std::vector<float> av = a.expand(sa).contiguous().to_vector<float>();
  const std::vector<float> bv = b.expand(sb).contiguous().to_vector<float>();
  const int64_t B = shape_numel(batch);
  std::vector<float> out(static_cast<size_t>(B * M * N));
  for (int64_t p = 0; p < B; ++p)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += double(av[(p * M + i) * K + k]) * bv[(p * K + k) * N + j];
        out[(p * M + i) * N + j] = static_cast<float>(acc);
      }
  if (out_shape) {
    *out_shape = batch;
    out_shape->insert(out_shape->end(), {M, N});
  }
  return out;
}

// Every |got - want| <= tol * (1 + |want|); reports the worst element (one CHECK per call).
void check_close(const std::vector<float>& got, const std::vector<float>& want, double tol = 1e-4) {
  REQUIRE(got.size() == want.size());
  size_t worst = 0;
  double worst_excess = -1.0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double err = std::fabs(double(got[i]) - want[i]) - tol * (1.0 + std::fabs(want[i]));
    if (!(err <= worst_excess)) {  // NaN counts as the worst
      worst_excess = err;
      worst = i;
    }
  }
  INFO("worst element ", worst, " of ", want.size());
  if (!want.empty()) CHECK(got[worst] == doctest::Approx(want[worst]).epsilon(tol).scale(1.0));
}

void check_matmul(const Tensor& a, const Tensor& b) {
  Shape want_shape;
  const std::vector<float> want = naive(a, b, &want_shape);
  const Tensor got = ops::matmul(a, b);
  CHECK(got.shape() == want_shape);
  CHECK(got.is_contiguous());
  check_close(got.to_vector<float>(), want);
}

}  // namespace

TEST_CASE("matmul: hand-computed 2x3 @ 3x2") {
  const Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor b = Tensor::from_vector({7, 8, 9, 10, 11, 12}, {3, 2});
  const Tensor c = ops::matmul(a, b);
  CHECK(c.shape() == Shape{2, 2});
  CHECK(c.to_vector<float>() == std::vector<float>{58, 64, 139, 154});
  // a^T a through a transposed view (no copy needed by BLAS): [[17, 22, 27], ...]
  CHECK(ops::matmul(a.t(), a).to_vector<float>() ==
        std::vector<float>{17, 22, 27, 22, 29, 36, 27, 36, 45});
}

TEST_CASE("matmul: shapes, transposed and strided operands vs naive") {
  Generator gen(11);
  const int64_t shapes[][3] = {{1, 1, 1}, {3, 5, 4}, {17, 33, 9}, {64, 128, 32}, {1, 7, 5}, {6, 1, 3}};
  for (const auto& s : shapes) {
    const int64_t M = s[0], K = s[1], N = s[2];
    INFO("M=", M, " K=", K, " N=", N);
    const Tensor a = Tensor::randn({M, K}, gen);
    const Tensor b = Tensor::randn({K, N}, gen);
    check_matmul(a, b);
    const Tensor at = Tensor::randn({K, M}, gen).t();  // transposed view
    const Tensor bt = Tensor::randn({N, K}, gen).t();
    check_matmul(at, b);
    check_matmul(a, bt);
    check_matmul(at, bt);
    // Row stride larger than the row (a column slice): lda = 2K.
    const Tensor wide = Tensor::randn({M, 2 * K}, gen).narrow(1, 0, K);
    check_matmul(wide, b);
    // Element stride 2 in both dims: not BLAS-readable, copied first.
    const Tensor strided = Tensor::randn({2 * M, 2 * K}, gen).slice(0, 0, 2 * M, 2).slice(1, 0, 2 * K, 2);
    check_matmul(strided, bt);
  }
}

TEST_CASE("matmul: batched with broadcasting, 1-D operands") {
  Generator gen(5);
  check_matmul(Tensor::randn({2, 3, 4}, gen), Tensor::randn({2, 4, 5}, gen));
  check_matmul(Tensor::randn({2, 1, 3, 4}, gen), Tensor::randn({5, 4, 6}, gen));  // -> [2, 5, 3, 6]
  check_matmul(Tensor::randn({2, 3, 4}, gen), Tensor::randn({4, 5}, gen));        // rows folded
  check_matmul(Tensor::randn({3, 4}, gen), Tensor::randn({2, 4, 5}, gen));        // a shared
  check_matmul(Tensor::randn({2, 4, 3}, gen).transpose(1, 2), Tensor::randn({2, 4, 5}, gen));
  check_matmul(Tensor::randn({2, 4, 3}, gen).transpose(1, 2), Tensor::randn({4, 5}, gen));
  check_matmul(Tensor::randn({3, 2, 4}, gen).transpose(0, 1), Tensor::randn({2, 4, 5}, gen));
  check_matmul(Tensor::randn({64, 4, 4}, gen), Tensor::randn({64, 4, 4}, gen));  // many tiny
  // Many small GEMMs: the OpenMP loop of single-threaded sgemm calls.
  check_matmul(Tensor::randn({512, 32, 32}, gen), Tensor::randn({512, 32, 32}, gen).transpose(1, 2));
  // 1-D: vector @ matrix, matrix @ vector, dot product.
  const Tensor v = Tensor::from_vector({1, 2}, {2});
  const Tensor m = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
  const Tensor vm = ops::matmul(v, m);
  CHECK(vm.shape() == Shape{2});
  CHECK(vm.to_vector<float>() == std::vector<float>{7, 10});
  const Tensor mv = ops::matmul(m, v);
  CHECK(mv.shape() == Shape{2});
  CHECK(mv.to_vector<float>() == std::vector<float>{5, 11});
  const Tensor dot = ops::matmul(v, v);
  CHECK(dot.shape() == Shape{});
  CHECK(dot.item<float>() == 5.f);
  const Tensor bv = ops::matmul(Tensor::ones({3, 2, 2}), v);
  CHECK(bv.shape() == Shape{3, 2});
}

TEST_CASE("matmul: zero-size dims") {
  const Tensor e1 = ops::matmul(Tensor::empty({0, 3}), Tensor::ones({3, 4}));
  CHECK(e1.shape() == Shape{0, 4});
  // K = 0: the empty sum is 0.
  const Tensor e2 = ops::matmul(Tensor::empty({2, 0}), Tensor::empty({0, 3}));
  CHECK(e2.shape() == Shape{2, 3});
  CHECK(e2.to_vector<float>() == std::vector<float>(6, 0.f));
  CHECK(ops::matmul(Tensor::empty({0, 2, 3}), Tensor::ones({3, 4})).shape() == Shape{0, 2, 4});
  CHECK(ops::matmul(Tensor::empty({2, 2, 0}), Tensor::empty({2, 0, 4})).to_vector<float>() ==
        std::vector<float>(16, 0.f));
}

TEST_CASE("matmul: errors name both shapes") {
  CHECK_THROWS_WITH_AS(ops::matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})),
                       doctest::Contains("matmul: shapes [2, 3] and [4, 5] cannot be multiplied (3 != 4)"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::matmul(Tensor::zeros({2, 2, 3}), Tensor::zeros({3, 3, 4})),
                       doctest::Contains("matmul: shapes [2, 2, 3] and [3, 3, 4]: batch dims cannot be broadcast"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::matmul(Tensor::scalar(1.f), Tensor::zeros({3})),
                       doctest::Contains("matmul: shapes [] and [3]: both operands need at least 1 dim"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::matmul(Tensor::arange(4).view({2, 2}), Tensor::zeros({2, 2})),
                       doctest::Contains("matmul: a must be f32"), DTypeError);
}

TEST_CASE("gemm: alpha, beta, transposes, in place") {
  Generator gen(9);
  const Tensor a = Tensor::randn({4, 3}, gen);   // op(a) = a [4, 3] or a^T when stored [3, 4]
  const Tensor b = Tensor::randn({3, 5}, gen);
  const std::vector<float> ab = naive(a, b);
  Tensor c = Tensor::full({4, 5}, 2.0);
  const uint64_t v0 = c.version();
  ops::gemm(a, false, b, false, c, 2.f, 0.5f);  // c = 2 ab + 0.5 * 2
  CHECK(c.version() > v0);
  std::vector<float> want(ab.size());
  for (size_t i = 0; i < ab.size(); ++i) want[i] = 2.f * ab[i] + 1.f;
  check_close(c.to_vector<float>(), want);
  // Transposed storage for both operands.
  const Tensor a_t = a.t().contiguous();  // [3, 4]
  const Tensor b_t = b.t().contiguous();  // [5, 3]
  Tensor c2 = Tensor::full({4, 5}, std::numeric_limits<float>::quiet_NaN());
  ops::gemm(a_t, true, b_t, true, c2);  // beta = 0 overwrites NaN
  check_close(c2.to_vector<float>(), ab);
  // Transposed view passed with trans = true is a plain product again.
  Tensor c3 = Tensor::zeros({4, 5});
  ops::gemm(a.t(), true, b, false, c3, 1.f, 1.f);
  check_close(c3.to_vector<float>(), ab);
  // K = 0: c = beta * c.
  Tensor c4 = Tensor::full({2, 2}, 3.0);
  ops::gemm(Tensor::empty({2, 0}), false, Tensor::empty({0, 2}), false, c4, 1.f, 2.f);
  CHECK(c4.to_vector<float>() == std::vector<float>(4, 6.f));
}

TEST_CASE("gemm: errors") {
  Tensor c = Tensor::zeros({2, 5});
  CHECK_THROWS_WITH_AS(ops::gemm(Tensor::zeros({2, 3}), false, Tensor::zeros({3, 4}), false, c),
                       doctest::Contains("gemm: a=[2, 3], b=[3, 4], c=[2, 5]: op(a) is [2, 3], op(b) is [3, 4], c must be [2, 4]"),
                       ShapeError);
  Tensor ct = Tensor::zeros({4, 2}).t();
  CHECK_THROWS_WITH_AS(ops::gemm(Tensor::zeros({2, 3}), false, Tensor::zeros({3, 4}), false, ct),
                       doctest::Contains("c must be contiguous"), ShapeError);
  Tensor sq = Tensor::zeros({3, 3});
  CHECK_THROWS_WITH_AS(ops::gemm(sq, false, Tensor::zeros({3, 3}), false, sq),
                       doctest::Contains("c must not share memory with a or b"), ShapeError);
  Tensor c3 = Tensor::zeros({2, 2});
  CHECK_THROWS_WITH_AS(ops::gemm(Tensor::zeros({2, 3, 1}), false, Tensor::zeros({3, 2}), false, c3),
                       doctest::Contains("gemm: a=[2, 3, 1], b=[3, 2], c=[2, 2]: all three must be 2-D"),
                       ShapeError);
}

TEST_CASE("bmm: transposes vs naive, errors") {
  Generator gen(13);
  const Tensor a = Tensor::randn({3, 4, 5}, gen);
  const Tensor b = Tensor::randn({3, 5, 2}, gen);
  check_close(ops::bmm(a, b).to_vector<float>(), naive(a, b));
  const Tensor at = a.transpose(1, 2).contiguous();  // [3, 5, 4]
  const Tensor bt = b.transpose(1, 2).contiguous();  // [3, 2, 5]
  const Tensor c = ops::bmm(at, bt, true, true);
  CHECK(c.shape() == Shape{3, 4, 2});
  check_close(c.to_vector<float>(), naive(a, b));
  check_close(ops::bmm(at, b, true, false).to_vector<float>(), naive(a, b));
  CHECK(ops::bmm(Tensor::empty({0, 2, 3}), Tensor::empty({0, 3, 4})).shape() == Shape{0, 2, 4});
  CHECK_THROWS_WITH_AS(ops::bmm(Tensor::zeros({2, 3, 4}), Tensor::zeros({3, 4, 5})),
                       doctest::Contains("bmm: shapes [2, 3, 4] and [3, 4, 5]: batch sizes differ"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::bmm(Tensor::zeros({2, 3, 4}), Tensor::zeros({2, 5, 4})),
                       doctest::Contains("bmm: shapes [2, 3, 4] and [2, 5, 4] cannot be multiplied (4 != 5)"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::bmm(Tensor::zeros({3, 4}), Tensor::zeros({4, 5})),
                       doctest::Contains("bmm: shapes [3, 4] and [4, 5]: both must be 3-D"),
                       ShapeError);
}
