// CUDA vs CPU for VectorQuantize's callable options: every VectorQuantize golden fixture
// with an in-place codebook optimizer or a vq_bridge (inplace_*, vq_bridge_*) runs through
// run_quantizer_case on both devices with the same inputs and state (the optimizer steps
// and the bridge run on the device); values, gradients and stepped states must agree,
// indices exactly. Runs only where a GPU answers (vq_cuda_tests exits 77 otherwise).
#include <doctest/doctest.h>

#include "core/device.h"
#include "tests/support/fixture_case.h"

using namespace vq;

TEST_CASE("vq callables CUDA: in-place optimizer and vq_bridge fixtures agree across devices") {
  auto callable_case = [](const std::string& name) {
    return name.rfind("inplace_", 0) == 0 || name.rfind("vq_bridge_", 0) == 0;
  };
  CHECK(test::check_fixtures_across_devices("VectorQuantize", cuda_device(), 1e-4, 1e-5, callable_case) == 11);
}
