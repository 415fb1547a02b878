// CPU vs CUDA for ops::gelu_backward (the fused backward of the erf GELU): the CPU's
// contiguous inputs take the vectorized kernel (kernels/cpu/gelu_simd.h, within about an
// ulp of the exact value), CUDA evaluates the shared formula with erfcf / expf, so the
// two agree within 1e-6 relative plus 1e-6 absolute (the cancellation of gelu' near
// x = -0.75). Also the backward of ag::gelu on both devices. Runs only where a GPU
// answers (vq_cuda_tests).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/functions.h"
#include "core/generator.h"
#include "kernels/ops.h"

using namespace vq;

namespace {

void check_close(const Tensor& c, const Tensor& g, const char* what) {
  INFO(what);
  REQUIRE(g.device().is_cuda());
  REQUIRE(c.shape() == g.shape());
  const std::vector<float> cv = c.contiguous().to_vector<float>();
  const std::vector<float> gv = g.to(cpu_device()).contiguous().to_vector<float>();
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < cv.size(); ++i) {
    const float x = cv[i], y = gv[i];
    const bool ok = (std::isnan(x) || std::isnan(y))
                        ? (std::isnan(x) && std::isnan(y))
                        : std::fabs(x - y) <= 1e-6 * std::max(std::fabs(x), std::fabs(y)) + 1e-6;
    if (!ok && bad++ == 0) first = i;
  }
  INFO("first mismatch at " << first << ": cpu " << cv[first] << " cuda " << gv[first]);
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("cuda gelu_backward: matches the CPU's vectorized kernel, contiguous and broadcast") {
  const Device cuda = cuda_device(0);
  Generator gen(21);
  Tensor x = Tensor::randn({64, 130}, gen, cpu_device(), 0.f, 3.f);
  Tensor g = Tensor::randn({64, 130}, gen);
  Tensor g1 = Tensor::randn({64, 1}, gen);
  check_close(ops::gelu_backward(g, x), ops::gelu_backward(g.to(cuda), x.to(cuda)), "same shape");
  check_close(ops::gelu_backward(g1, x), ops::gelu_backward(g1.to(cuda), x.to(cuda)),
              "[64, 1] gradient");
  check_close(ops::gelu_backward(g.t(), x.t()), ops::gelu_backward(g.to(cuda).t(), x.to(cuda).t()),
              "transposed");
  Tensor special =
      Tensor::from_vector({NAN, INFINITY, -INFINITY, 0.f, -0.f, 20.f, -20.f, -0.75f}, {8});
  check_close(ops::gelu_backward(Tensor::ones({8}), special),
              ops::gelu_backward(Tensor::ones({8}).to(cuda), special.to(cuda)), "special values");
}

TEST_CASE("cuda gelu_backward: ag::gelu's gradient on both devices") {
  Generator gen(22);
  Tensor x = Tensor::randn({32, 50}, gen, cpu_device(), 0.f, 2.f);
  Tensor gy = Tensor::randn({32, 50}, gen);
  Variable xc(x, true), xg(x.to(cuda_device(0)), true);
  ag::gelu(xc).backward(gy);
  ag::gelu(xg).backward(gy.to(cuda_device(0)));
  check_close(xc.grad(), xg.grad(), "ag::gelu backward");
}
