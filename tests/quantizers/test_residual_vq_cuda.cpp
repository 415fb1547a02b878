// CUDA vs CPU for the residual family (ResidualVQ, GroupedResidualVQ,
// RandomProjectionQuantizer): every ResidualVQ / GroupedResidualVQ golden fixture and a
// few stochastic configurations (quantize dropout, beam search, QINCo, shared codebook,
// k-means init, dead-code expiry) run through run_quantizer_case on both devices with the
// same inputs and state; values, gradients and states must agree, indices exactly.
// Runs only where a GPU answers (vq_cuda_tests exits 77 otherwise).
#include <doctest/doctest.h>

#include <string>

#include "quantizers/quantizer.h"
#include "quantizers/run_case.h"
#include "tests/support/fixture_case.h"

using namespace vq;

namespace {

void expect_same_on_cuda(const QuantizerCase& c) {
  std::vector<std::string> failures;
  test::compare_across_devices(c, cuda_device(), 1e-4, 1e-5, failures);
  std::string all;
  for (const auto& m : failures) all += "\n  " + m;
  INFO(all);
  CHECK(failures.empty());
}

}  // namespace

TEST_CASE("residual family CUDA: golden fixtures give the same results on both devices") {
  int files = 0;
  for (const char* module : {"ResidualVQ", "GroupedResidualVQ"})
    files += test::check_fixtures_across_devices(module, cuda_device());
  CHECK(files == 10);
}

TEST_CASE("residual family CUDA: stochastic and structural options agree across devices") {
  const char* configs[] = {
      R"({"dim": 16, "codebook_size": 32, "num_quantizers": 4, "quantize_dropout": true,
          "quantize_dropout_multiple_of": 2, "threshold_ema_dead_code": 2.5})",
      R"({"dim": 16, "codebook_size": [8, 16, 32], "codebook_dim": 8, "beam_size": 3,
          "beam_update_all_layers": true})",
      R"({"dim": 8, "codebook_size": 16, "num_quantizers": 3, "implicit_neural_codebook": true,
          "mlp_kwargs": {"depth": 2}})",
      R"({"dim": 8, "codebook_size": 16, "num_quantizers": 3, "shared_codebook": true, "kmeans_init": true,
          "stochastic_sample_codes": true, "sample_codebook_temp": 0.5})",
      R"({"dim": 8, "codebook_size": 16, "num_quantizers": 2, "accept_image_fmap": true, "use_cosine_sim": true})"};
  for (const char* cfg : configs) {
    CAPTURE(cfg);
    QuantizerCase c;
    c.module = "ResidualVQ";
    c.config = nlohmann::json::parse(cfg);
    c.train = true;
    Generator g(3);
    const bool image = c.config.value("accept_image_fmap", false);
    c.x = image ? Tensor::randn({2, 8, 3, 4}, g) : Tensor::randn({2, 6, c.config.at("dim").get<int64_t>()}, g);
    c.grad_output = Tensor::randn(c.x.shape(), g);
    c.kwargs = {{"rand_quantize_dropout_fixed_seed", 1234}};
    expect_same_on_cuda(c);  // reseeds the default generator before each device's run
  }
  QuantizerCase r;
  r.module = "RandomProjectionQuantizer";
  r.config = nlohmann::json::parse(R"({"dim": 12, "codebook_size": 16, "codebook_dim": 4, "num_codebooks": 3})");
  Generator g(4);
  r.x = Tensor::randn({2, 5, 12}, g);
  expect_same_on_cuda(r);
}
