// CUDA vs CPU for the scalar-quantizer modules (FSQ, LFQ, ResidualFSQ, ResidualLFQ and
// the grouped variants): every golden fixture of these modules is run through
// run_quantizer_case on both devices and all outputs (values, indices, losses,
// gradients, decodes, states) are compared; plus a training step with noise dropout and
// quantize dropout (same Generator state on both devices gives the same draws). Runs
// only where a GPU answers (vq_cuda_tests exits 77 otherwise).
#include <doctest/doctest.h>

#include "quantizers/fsq.h"
#include "quantizers/residual_fsq.h"
#include "quantizers/run_case.h"
#include "tests/quantizers/vq_test_util.h"
#include "tests/support/fixture_case.h"

using namespace vq;

TEST_CASE("fsq/lfq cuda: every FSQ/LFQ-family fixture gives the same results on both devices") {
  int files = 0;
  for (const char* module : {"FSQ", "LFQ", "ResidualFSQ", "ResidualLFQ", "GroupedResidualFSQ", "GroupedResidualLFQ"})
    files += test::check_fixtures_across_devices(module, cuda_device(0));
  CHECK(files > 0);
}

TEST_CASE("fsq/lfq cuda: noise dropout and quantize dropout draw the same numbers on both devices") {
  const Tensor x = test::randn({2, 16, 4}, 3);
  Generator g1(9), g2(9);
  FSQ a(FSQOptions::from_json({{"levels", {5, 5, 5, 5}}, {"preserve_symmetry", true}, {"noise_dropout", 0.4}}), g1);
  FSQ b(FSQOptions::from_json({{"levels", {5, 5, 5, 5}}, {"preserve_symmetry", true}, {"noise_dropout", 0.4}}), g2);
  b.to(cuda_device(0));
  const QuantizerOutput oa = a.forward(Variable(x));
  const QuantizerOutput ob = b.forward(Variable(x.to(cuda_device(0))));
  CHECK(test::max_abs_diff(oa.quantized.value(), ob.quantized.value()) == 0);
  CHECK(oa.indices.to_vector<int64_t>() == ob.indices.to(cpu_device()).to_vector<int64_t>());

  Generator h1(4), h2(4);
  ResidualFSQ ra(ResidualFSQOptions::from_json({{"levels", {8, 5, 5, 5}}, {"num_quantizers", 6}, {"quantize_dropout", true}}),
                 nullptr, h1);
  ResidualFSQ rb(ResidualFSQOptions::from_json({{"levels", {8, 5, 5, 5}}, {"num_quantizers", 6}, {"quantize_dropout", true}}),
                 nullptr, h2);
  rb.to(cuda_device(0));
  for (int i = 0; i < 5; ++i) {
    const QuantizerOutput pa = ra.forward(Variable(x, true));
    const QuantizerOutput pb = rb.forward(Variable(x.to(cuda_device(0)), true));
    CHECK(pa.indices.to_vector<int64_t>() == pb.indices.to(cpu_device()).to_vector<int64_t>());
    CHECK(test::max_abs_diff(pa.quantized.value(), pb.quantized.value()) < 1e-6);
  }
}
