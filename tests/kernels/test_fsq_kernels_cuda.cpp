// CUDA vs CPU for the FSQ kernels and the soft clamp (kernels/cuda/fsq.h): both run the
// same element math (kernels/cpu/fsq_math.h), so values must agree to the bit in fast
// mode (checked as <= 1 ulp, bit equality reported) and indices exactly; the exact
// mode's double tanh may differ by one float ulp in rare cases. Runs only where a GPU
// answers (vq_cuda_tests exits 77 otherwise).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/generator.h"
#include "kernels/ops_scalar_quant.h"

using namespace vq;

namespace {

std::vector<float> host(const Tensor& t) { return t.to(cpu_device()).contiguous().to_vector<float>(); }
std::vector<int64_t> ihost(const Tensor& t) {
  return t.to(cpu_device()).contiguous().to_vector<int64_t>();
}

// Largest distance in units in the last place (+0 and -0 agree, NaN only matches NaN);
// *differing counts elements that are not bitwise equal.
int64_t max_ulp(const std::vector<float>& a, const std::vector<float>& b, int64_t* differing) {
  REQUIRE(a.size() == b.size());
  int64_t worst = 0;
  *differing = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    int32_t ia, ib;
    std::memcpy(&ia, &a[i], 4);
    std::memcpy(&ib, &b[i], 4);
    if (ia == ib) continue;
    ++*differing;
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    if (a[i] == 0.f && b[i] == 0.f) continue;
    if (std::isnan(a[i]) || std::isnan(b[i]) || std::signbit(a[i]) != std::signbit(b[i])) {
      worst = int64_t{1} << 40;
      continue;
    }
    worst = std::max<int64_t>(worst, std::llabs(static_cast<int64_t>(ia) - ib));
  }
  return worst;
}

Tensor randn(const Shape& s, uint64_t seed, float stddev) {
  Generator g(seed);
  return Tensor::randn(s, g, cpu_device(), 0.f, stddev);
}

}  // namespace

TEST_CASE("fsq cuda: forward, backward and decode match the CPU for every variant") {
  const Device dev = cuda_device(0);
  for (int variant = 0; variant < 8; ++variant) {
    ops::FsqSpec spec;
    spec.levels = (variant % 2 == 0) ? std::vector<int64_t>{8, 5, 5, 5}
                                     : std::vector<int64_t>{7, 2, 4, 3};
    spec.preserve_symmetry = variant % 2 == 1 || variant >= 6;
    spec.bound_hard_clamp = (variant / 2) % 2 == 1;
    spec.exact = variant >= 4;
    if (variant == 3) {
      spec.pre_div = {0.5f, 1.f, 0.25f, 3.f};
      spec.post_mul = {2.f, 1.f, 0.5f, 0.125f};
    }
    CAPTURE(variant);
    for (int64_t H : {1, 3}) {
      // 100003 rows: several grid-stride rounds are not needed, but odd sizes are.
      const Tensor z = randn({2, 50003, H * 4}, 1000 + variant, 1.7f);
      const Tensor g = randn({2, 50003, H * 4}, 2000 + variant, 1.f);
      const ops::FsqNoiseSpec noise =
          spec.preserve_symmetry ? ops::FsqNoiseSpec{0.3, 99, 5} : ops::FsqNoiseSpec{};
      const ops::FsqOutput c = ops::fsq_forward(z, spec, H, true, noise);
      const ops::FsqOutput d = ops::fsq_forward(z.to(dev), spec, H, true, noise);
      CHECK(d.codes.device() == dev);
      CHECK(ihost(d.indices) == ihost(c.indices));
      int64_t differing = 0;
      CHECK(max_ulp(host(d.codes), host(c.codes), &differing) <= 1);
      if (!spec.exact) WARN_MESSAGE(differing == 0, "fast-mode FSQ codes not bitwise equal: ", differing);
      const std::vector<float> dc = host(ops::fsq_backward(g, z, spec, H, noise));
      const std::vector<float> dd = host(ops::fsq_backward(g.to(dev), z.to(dev), spec, H, noise));
      CHECK(max_ulp(dd, dc, &differing) <= 2);
      const Tensor ci = ops::fsq_indices_to_codes(c.indices, spec);
      const Tensor di = ops::fsq_indices_to_codes(c.indices.to(dev), spec);
      CHECK(max_ulp(host(di), host(ci), &differing) == 0);
      CHECK(ihost(ops::fsq_codes_to_indices(di, spec)) == ihost(ops::fsq_codes_to_indices(ci, spec)));
      CHECK(ihost(ops::fsq_indices_to_level_indices(c.indices.to(dev), spec)) ==
            ihost(ops::fsq_indices_to_level_indices(c.indices, spec)));
    }
  }
}

TEST_CASE("fsq cuda: int64 indices beyond 2^32 codes and negative indices") {
  const Device dev = cuda_device(0);
  ops::FsqSpec spec;
  spec.levels = std::vector<int64_t>(20, 5);  // 5^20 ~ 9.5e13 codes
  const Tensor z = randn({4096, 20}, 7, 1.f);
  const ops::FsqOutput c = ops::fsq_forward(z, spec);
  const ops::FsqOutput d = ops::fsq_forward(z.to(dev), spec);
  CHECK(ihost(d.indices) == ihost(c.indices));
  const Tensor idx = Tensor::from_vector(std::vector<int64_t>{-1, 0, 95367431640624}, {3});
  int64_t differing = 0;
  CHECK(max_ulp(host(ops::fsq_indices_to_codes(idx.to(dev), spec)),
                host(ops::fsq_indices_to_codes(idx, spec)), &differing) == 0);
}

TEST_CASE("fsq cuda: soft clamp matches the CPU") {
  const Device dev = cuda_device(0);
  const Tensor x = randn({3001, 4}, 3, 3.f);
  const Tensor g = randn({3001, 4}, 4, 1.f);
  for (bool exact : {false, true}) {
    for (const std::vector<float>& v : {std::vector<float>{1.5f}, std::vector<float>{0.5f, 1.f, 2.f, 4.f}}) {
      int64_t differing = 0;
      CHECK(max_ulp(host(ops::soft_clamp(x.to(dev), v, exact)), host(ops::soft_clamp(x, v, exact)),
                    &differing) <= 1);
      CHECK(max_ulp(host(ops::soft_clamp_backward(g.to(dev), x.to(dev), v, exact)),
                    host(ops::soft_clamp_backward(g, x, v, exact)), &differing) <= 2);
    }
  }
}
