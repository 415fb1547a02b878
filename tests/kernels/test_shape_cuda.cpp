// CUDA vs CPU for cat, stack, split / chunk views and pad (exact: pure data movement).
// Runs only where a GPU answers.
#include <doctest/doctest.h>

#include "kernels/ops.h"

using namespace vq;
using F32 = std::vector<float>;

namespace {
const Device kGpu = cuda_device(0);
Tensor rand_f(const Shape& s, uint64_t seed) {
  Generator g(seed);
  return Tensor::rand(s, g);
}
}  // namespace

TEST_CASE("cuda cat and stack match CPU, including non-contiguous inputs") {
  Tensor a = rand_f({4, 3, 5}, 1), b = rand_f({4, 2, 5}, 2), c = rand_f({5, 4, 3}, 3);
  Tensor ct = c.permute({1, 2, 0});  // [4, 3, 5], non-contiguous
  for (int64_t dim : {int64_t(0), int64_t(1), int64_t(2)}) {
    CAPTURE(dim);
    std::vector<Tensor> cpu_in = {a, ct, a}, gpu_in = {a.to(kGpu), ct.to(kGpu), a.to(kGpu)};
    CHECK(ops::cat(gpu_in, dim).to_vector<float>() == ops::cat(cpu_in, dim).to_vector<float>());
  }
  CHECK(ops::cat({a.to(kGpu), b.to(kGpu)}, 1).to_vector<float>() ==
        ops::cat({a, b}, 1).to_vector<float>());
  Tensor sg = ops::stack({a.to(kGpu), a.to(kGpu)}, 2);
  CHECK(sg.shape() == Shape{4, 3, 2, 5});
  CHECK(sg.to_vector<float>() == ops::stack({a, a}, 2).to_vector<float>());
  Tensor ai = Tensor::arange(6).view({2, 3});
  CHECK(ops::cat({ai.to(kGpu), ai.to(kGpu)}, 1).to_vector<int64_t>() ==
        ops::cat({ai, ai}, 1).to_vector<int64_t>());
  CHECK_THROWS_WITH_AS(ops::cat({a.to(kGpu), b.to(kGpu)}, 0),
                       doctest::Contains("shapes [4, 3, 5], [4, 2, 5] must match except in dim 0"),
                       ShapeError);
  CHECK_THROWS_AS(ops::cat({a.to(kGpu), a}, 0), DeviceError);
}

TEST_CASE("cuda split, chunk and pad match CPU") {
  Tensor x = rand_f({7, 6}, 4);
  auto pg = ops::chunk(x.to(kGpu), 3, 0);
  auto pc = ops::chunk(x, 3, 0);
  REQUIRE(pg.size() == pc.size());
  for (size_t i = 0; i < pg.size(); ++i) {
    CHECK(pg[i].device().is_cuda());
    CHECK(pg[i].contiguous().to_vector<float>() == pc[i].contiguous().to_vector<float>());
  }
  auto sg = ops::split_sizes(x.to(kGpu), {1, 5}, 1);
  CHECK(sg[1].contiguous().to_vector<float>() ==
        ops::split_sizes(x, {1, 5}, 1)[1].contiguous().to_vector<float>());
  for (const auto& pads :
       std::vector<std::vector<int64_t>>{{1, 2}, {0, 1, 3, 0}, {-1, 2, -2, -1}}) {
    Tensor g = ops::pad(x.to(kGpu), pads, 0.25);
    Tensor c = ops::pad(x, pads, 0.25);
    CHECK(g.shape() == c.shape());
    CHECK(g.to_vector<float>() == c.to_vector<float>());
  }
}
