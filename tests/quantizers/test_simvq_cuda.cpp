// CUDA vs CPU for SimVQ, ResidualSimVQ and LatentQuantize: every golden fixture of the
// three modules runs through run_quantizer_case on both devices with the same inputs and
// state; values, gradients and decodes must agree, indices exactly. Runs only where a
// GPU answers (vq_cuda_tests exits 77 otherwise).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "core/safetensors.h"
#include "quantizers/quantizer.h"
#include "quantizers/run_case.h"

using namespace vq;

namespace {

void expect_same_on_devices(const std::map<std::string, Tensor>& cpu, const std::map<std::string, Tensor>& gpu) {
  for (const auto& kv : cpu) {
    CAPTURE(kv.first);
    auto it = gpu.find(kv.first);
    REQUIRE(it != gpu.end());
    REQUIRE(kv.second.shape() == it->second.shape());
    auto x = kv.second.to(DType::f64).contiguous().to_vector<double>();
    auto y = it->second.to(cpu_device()).to(DType::f64).contiguous().to_vector<double>();
    const bool exact = !is_floating(kv.second.dtype());
    int64_t bad = 0, first = -1;
    for (size_t i = 0; i < x.size(); ++i) {
      const double tol = exact ? 0.0 : 1e-5 + 1e-4 * std::fabs(x[i]);
      if (!(std::fabs(x[i] - y[i]) <= tol)) {
        ++bad;
        if (first < 0) first = static_cast<int64_t>(i);
      }
    }
    CHECK_MESSAGE(bad == 0, kv.first, ": ", bad, "/", x.size(), " elements differ; first at ", first, ": cpu ",
                  (first >= 0 ? x[first] : 0.0), " cuda ", (first >= 0 ? y[first] : 0.0));
  }
  CHECK(cpu.size() == gpu.size());
}

int replay_folder(const std::string& module) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(VQ_SOURCE_DIR) / "tests" / "fixtures" / module;
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".safetensors") continue;
    CAPTURE(e.path().filename().string());
    SafetensorsFile f = load_safetensors(e.path().string());
    QuantizerCase c;
    c.module = module;
    c.config = nlohmann::json::parse(f.metadata.at("config"));
    c.kwargs = nlohmann::json::parse(f.metadata.at("call"));
    c.train = f.metadata.at("mode") == "train";
    c.x_requires_grad = f.metadata.at("x_requires_grad") == "true";
    c.x = f.tensors.at("x");
    for (const auto& kv : f.tensors)
      if (kv.first.rfind("state_in.", 0) == 0) c.state[kv.first.substr(9)] = kv.second;
    if (f.tensors.count("grad_output")) c.grad_output = f.tensors.at("grad_output");
    if (f.tensors.count("grad_loss")) c.grad_loss = f.tensors.at("grad_loss");
    c.decode = true;
    QuantizerCase g = c;
    c.device = cpu_device();
    g.device = cuda_device();
    expect_same_on_devices(run_quantizer_case(c), run_quantizer_case(g));
    ++files;
  }
  return files;
}

}  // namespace

TEST_CASE("simvq CUDA: SimVQ fixtures agree across devices") { CHECK(replay_folder("SimVQ") == 8); }

TEST_CASE("simvq CUDA: ResidualSimVQ fixtures agree across devices") { CHECK(replay_folder("ResidualSimVQ") == 7); }

TEST_CASE("simvq CUDA: LatentQuantize fixtures agree across devices") { CHECK(replay_folder("LatentQuantize") == 7); }
