// CUDA vs CPU for SimVQ, ResidualSimVQ and LatentQuantize: every golden fixture of the
// three modules runs through run_quantizer_case on both devices with the same inputs and
// state; values, gradients and decodes must agree, indices exactly. Runs only where a
// GPU answers (vq_cuda_tests exits 77 otherwise).
#include <doctest/doctest.h>

#include "core/device.h"
#include "tests/support/fixture_case.h"

using namespace vq;

TEST_CASE("simvq CUDA: SimVQ fixtures agree across devices") {
  CHECK(test::check_fixtures_across_devices("SimVQ", cuda_device()) == 8);
}

TEST_CASE("simvq CUDA: ResidualSimVQ fixtures agree across devices") {
  CHECK(test::check_fixtures_across_devices("ResidualSimVQ", cuda_device()) == 7);
}

TEST_CASE("simvq CUDA: LatentQuantize fixtures agree across devices") {
  CHECK(test::check_fixtures_across_devices("LatentQuantize", cuda_device()) == 7);
}
