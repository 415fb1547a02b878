// CUDA vs CPU for the residual family (ResidualVQ, GroupedResidualVQ,
// RandomProjectionQuantizer): every ResidualVQ / GroupedResidualVQ golden fixture and a
// few stochastic configurations (quantize dropout, beam search, QINCo, shared codebook,
// k-means init, dead-code expiry) run through run_quantizer_case on both devices with the
// same inputs and state; values, gradients and states must agree, indices exactly.
// Runs only where a GPU answers (vq_cuda_tests exits 77 otherwise).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "core/safetensors.h"
#include "quantizers/quantizer.h"
#include "quantizers/run_case.h"

using namespace vq;

namespace {

void expect_same(const std::map<std::string, Tensor>& cpu, const std::map<std::string, Tensor>& gpu, double rtol,
                 double atol) {
  for (const auto& kv : cpu) {
    CAPTURE(kv.first);
    auto it = gpu.find(kv.first);
    REQUIRE(it != gpu.end());
    const Tensor& a = kv.second;
    const Tensor& b = it->second;
    REQUIRE(a.shape() == b.shape());
    auto x = a.to(DType::f64).contiguous().to_vector<double>();
    auto y = b.to(cpu_device()).to(DType::f64).contiguous().to_vector<double>();
    const bool exact = !is_floating(a.dtype());
    int64_t bad = 0, worst = -1;
    for (size_t i = 0; i < x.size(); ++i) {
      const double tol = exact ? 0.0 : atol + rtol * std::fabs(x[i]);
      if (!(std::fabs(x[i] - y[i]) <= tol)) {
        ++bad;
        if (worst < 0) worst = static_cast<int64_t>(i);
      }
    }
    CHECK_MESSAGE(bad == 0, kv.first, ": ", bad, "/", x.size(), " elements differ; first at ", worst, ": cpu ",
                  (worst >= 0 ? x[worst] : 0.0), " cuda ", (worst >= 0 ? y[worst] : 0.0));
  }
  CHECK(cpu.size() == gpu.size());
}

std::map<std::string, Tensor> run_on(QuantizerCase c, Device dev) {
  c.device = dev;
  return run_quantizer_case(c);
}

}  // namespace

TEST_CASE("residual family CUDA: golden fixtures give the same results on both devices") {
  namespace fs = std::filesystem;
  int files = 0;
  for (const char* module : {"ResidualVQ", "GroupedResidualVQ"}) {
    fs::path dir = fs::path(VQ_SOURCE_DIR) / "tests" / "fixtures" / module;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() != ".safetensors") continue;
      CAPTURE(e.path().string());
      SafetensorsFile f = load_safetensors(e.path().string());
      QuantizerCase c;
      c.module = module;
      c.config = nlohmann::json::parse(f.metadata.at("config"));
      c.kwargs = nlohmann::json::parse(f.metadata.at("call"));
      c.train = f.metadata.at("mode") == "train";
      c.x_requires_grad = f.metadata.at("x_requires_grad") == "true";
      c.x = f.tensors.at("x");
      for (const auto& kv : f.tensors) {
        if (kv.first.rfind("state_in.", 0) == 0) c.state[kv.first.substr(9)] = kv.second;
        if (kv.first == "mask") c.tensors["mask"] = kv.second;
      }
      if (f.tensors.count("grad_output")) c.grad_output = f.tensors.at("grad_output");
      if (f.tensors.count("grad_loss")) c.grad_loss = f.tensors.at("grad_loss");
      expect_same(run_on(c, cpu_device()), run_on(c, cuda_device()), 1e-4, 1e-5);
      ++files;
    }
  }
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
    // the module is built from the default generator on each run: reseed before both
    manual_seed(11);
    auto cpu = run_on(c, cpu_device());
    manual_seed(11);
    auto gpu = run_on(c, cuda_device());
    expect_same(cpu, gpu, 1e-4, 1e-5);
  }
  QuantizerCase r;
  r.module = "RandomProjectionQuantizer";
  r.config = nlohmann::json::parse(R"({"dim": 12, "codebook_size": 16, "codebook_dim": 4, "num_codebooks": 3})");
  Generator g(4);
  r.x = Tensor::randn({2, 5, 12}, g);
  manual_seed(12);
  auto cpu = run_on(r, cpu_device());
  manual_seed(12);
  auto gpu = run_on(r, cuda_device());
  expect_same(cpu, gpu, 1e-4, 1e-5);
}
