// CUDA matmul / gemm / bmm (cuBLAS, row-major via the transpose swap) vs the CPU
// (OpenBLAS) on the same inputs: shapes, transposed and strided operands, batch
// broadcasting (stride-0 and non-uniform batch layouts), 1-D operands, zero-size dims,
// alpha/beta, K = 0, the TF32 opt-in, and errors.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cuda/blas.h"
#include "kernels/ops.h"

using namespace vq;

namespace {

const Device kGpu = cuda_device(0);

void check_same(const Tensor& gpu, const Tensor& cpu_ref, double tol = 1e-4) {
  REQUIRE(gpu.device().is_cuda());
  CHECK(gpu.shape() == cpu_ref.shape());
  const std::vector<float> g = gpu.to_vector<float>(), c = cpu_ref.to_vector<float>();
  REQUIRE(g.size() == c.size());
  // One CHECK per tensor, on the worst element (|g - c| - tol * (1 + |c|), NaN worst).
  size_t worst = 0;
  double worst_excess = -1.0;
  for (size_t i = 0; i < c.size(); ++i) {
    const double err = std::fabs(double(g[i]) - c[i]) - tol * (1.0 + std::fabs(c[i]));
    if (!(err <= worst_excess)) {
      worst_excess = err;
      worst = i;
    }
  }
  INFO("worst element ", worst, " of ", c.size());
  if (!c.empty()) CHECK(g[worst] == doctest::Approx(c[worst]).epsilon(tol).scale(1.0));
}

void check_matmul(const Tensor& a, const Tensor& b, double tol = 1e-4) {
  check_same(ops::matmul(a.to(kGpu), b.to(kGpu)), ops::matmul(a, b), tol);
}

}  // namespace

TEST_CASE("cuda matmul: 2-D shapes and layouts match the CPU") {
  Generator gen(31);
  const int64_t shapes[][3] = {{1, 1, 1}, {3, 5, 4}, {17, 33, 9}, {128, 256, 64}, {1, 7, 5}, {6, 1, 3}};
  for (const auto& s : shapes) {
    const int64_t M = s[0], K = s[1], N = s[2];
    INFO("M=", M, " K=", K, " N=", N);
    const Tensor a = Tensor::randn({M, K}, gen), b = Tensor::randn({K, N}, gen);
    const Tensor at = Tensor::randn({K, M}, gen), bt = Tensor::randn({N, K}, gen);
    check_matmul(a, b);
    // Views made on the GPU: transposed operands reach cuBLAS without a copy.
    check_same(ops::matmul(at.to(kGpu).t(), b.to(kGpu)), ops::matmul(at.t(), b));
    check_same(ops::matmul(a.to(kGpu), bt.to(kGpu).t()), ops::matmul(a, bt.t()));
    check_same(ops::matmul(at.to(kGpu).t(), bt.to(kGpu).t()), ops::matmul(at.t(), bt.t()));
    const Tensor wide = Tensor::randn({M, 2 * K}, gen);
    check_same(ops::matmul(wide.to(kGpu).narrow(1, 0, K), b.to(kGpu)),
               ops::matmul(wide.narrow(1, 0, K), b));
    const Tensor big = Tensor::randn({2 * M, 2 * K}, gen);
    check_same(ops::matmul(big.to(kGpu).slice(0, 0, 2 * M, 2).slice(1, 0, 2 * K, 2), b.to(kGpu)),
               ops::matmul(big.slice(0, 0, 2 * M, 2).slice(1, 0, 2 * K, 2), b));
  }
  // Nearest-code distance shape: X [N, D] @ C[K, D]^T.
  const Tensor x = Tensor::randn({1000, 64}, gen), c = Tensor::randn({512, 64}, gen);
  check_same(ops::matmul(x.to(kGpu), c.to(kGpu).t()), ops::matmul(x, c.t()), 1e-4);
}

TEST_CASE("cuda matmul: batched, broadcasting, 1-D, zero-size") {
  Generator gen(32);
  check_matmul(Tensor::randn({4, 3, 5}, gen), Tensor::randn({4, 5, 6}, gen));   // strided batched
  check_matmul(Tensor::randn({2, 1, 3, 4}, gen), Tensor::randn({5, 4, 6}, gen));
  check_matmul(Tensor::randn({2, 3, 4}, gen), Tensor::randn({4, 5}, gen));      // folded rows
  check_matmul(Tensor::randn({3, 4}, gen), Tensor::randn({2, 4, 5}, gen));      // stride-0 a
  check_matmul(Tensor::randn({64, 4, 4}, gen), Tensor::randn({64, 4, 4}, gen));
  // Non-uniform batch offsets (batch dims permuted): one cublasSgemm per item.
  const Tensor p = Tensor::randn({3, 2, 4, 5}, gen), q = Tensor::randn({2, 3, 5, 2}, gen);
  check_same(ops::matmul(p.to(kGpu).transpose(0, 1), q.to(kGpu)), ops::matmul(p.transpose(0, 1), q));
  const Tensor v = Tensor::randn({5}, gen), m = Tensor::randn({5, 3}, gen);
  check_matmul(v, m);
  check_matmul(m.t().contiguous(), v);
  check_matmul(v, v);
  // Zero-size and K = 0 (zeros).
  CHECK(ops::matmul(Tensor::empty({0, 3}, DType::f32, kGpu), Tensor::ones({3, 4}, DType::f32, kGpu))
            .shape() == Shape{0, 4});
  CHECK(ops::matmul(Tensor::empty({2, 0}, DType::f32, kGpu), Tensor::empty({0, 3}, DType::f32, kGpu))
            .to_vector<float>() == std::vector<float>(6, 0.f));
  CHECK(ops::matmul(Tensor::empty({2, 2, 0}, DType::f32, kGpu), Tensor::empty({2, 0, 4}, DType::f32, kGpu))
            .to_vector<float>() == std::vector<float>(16, 0.f));
}

TEST_CASE("cuda gemm and bmm: alpha, beta, transposes, K = 0") {
  Generator gen(33);
  const Tensor a = Tensor::randn({4, 3}, gen), b = Tensor::randn({3, 5}, gen);
  Tensor cc = Tensor::full({4, 5}, 2.0);
  Tensor cg = cc.to(kGpu);
  ops::gemm(a, false, b, false, cc, 2.f, 0.5f);
  ops::gemm(a.to(kGpu), false, b.to(kGpu), false, cg, 2.f, 0.5f);
  check_same(cg, cc);
  const Tensor a_t = a.t().contiguous(), b_t = b.t().contiguous();
  Tensor nc = Tensor::full({4, 5}, std::numeric_limits<float>::quiet_NaN());
  Tensor ng = nc.to(kGpu);
  ops::gemm(a_t, true, b_t, true, nc);
  ops::gemm(a_t.to(kGpu), true, b_t.to(kGpu), true, ng);  // beta = 0 overwrites NaN
  check_same(ng, nc);
  Tensor kg = Tensor::full({2, 2}, 3.0, DType::f32, kGpu);
  ops::gemm(Tensor::empty({2, 0}, DType::f32, kGpu), false, Tensor::empty({0, 2}, DType::f32, kGpu),
            false, kg, 1.f, 2.f);
  CHECK(kg.to_vector<float>() == std::vector<float>(4, 6.f));
  const Tensor x = Tensor::randn({3, 6, 4}, gen), y = Tensor::randn({3, 5, 6}, gen);
  check_same(ops::bmm(x.to(kGpu), y.to(kGpu), true, true), ops::bmm(x, y, true, true));
  check_same(ops::bmm(x.to(kGpu), y.to(kGpu).transpose(1, 2).contiguous(), true, false),
             ops::bmm(x, y.transpose(1, 2).contiguous(), true, false));
  CHECK_THROWS_WITH_AS(ops::matmul(Tensor::ones({2, 3}, DType::f32, kGpu), Tensor::ones({4, 5}, DType::f32, kGpu)),
                       doctest::Contains("matmul: shapes [2, 3] and [4, 5]"), ShapeError);
  CHECK_THROWS_WITH_AS(ops::matmul(Tensor::ones({2, 3}, DType::f32, kGpu), Tensor::ones({3, 5})),
                       doctest::Contains("matmul: tensors on different devices"), DeviceError);
}

TEST_CASE("cuda matmul: TF32 only when opted in, deterministic") {
  Generator gen(34);
  const Tensor a = Tensor::randn({256, 512}, gen), b = Tensor::randn({512, 128}, gen);
  const Tensor ag = a.to(kGpu), bg = b.to(kGpu);
  const Tensor ref = ops::matmul(a, b);
  const std::vector<float> fp32 = ops::matmul(ag, bg).to_vector<float>();
  CHECK(ops::matmul(ag, bg).to_vector<float>() == fp32);  // run to run identical
  check_same(ops::matmul(ag, bg), ref, 1e-4);
  cuda::set_tf32_allowed(true);
  const Tensor tf = ops::matmul(ag, bg);
  cuda::set_tf32_allowed(false);
  check_same(tf, ref, 3e-2);  // TF32 keeps 10 mantissa bits
  CHECK(ops::matmul(ag, bg).to_vector<float>() == fp32);  // back to FP32
}
