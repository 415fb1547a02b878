// CUDA vs CPU for the scalar-quantizer modules (FSQ, LFQ, ResidualFSQ, ResidualLFQ and
// the grouped variants): every golden fixture of these modules is run through
// run_quantizer_case on both devices and all outputs (values, indices, losses,
// gradients, decodes, states) are compared; plus a training step with noise dropout and
// quantize dropout (same Generator state on both devices gives the same draws). Runs
// only where a GPU answers (vq_cuda_tests exits 77 otherwise).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/safetensors.h"
#include "quantizers/fsq.h"
#include "quantizers/residual_fsq.h"
#include "quantizers/run_case.h"
#include "tests/quantizers/vq_test_util.h"

using namespace vq;

namespace {

std::vector<std::string> fixtures_of(const std::string& module) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  const fs::path dir = fs::path(VQ_SOURCE_DIR) / "tests" / "fixtures" / module;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// |got - want| <= atol + rtol |want| elementwise (indices exactly); appends a message.
void compare(const std::string& name, const Tensor& got_in, const Tensor& want_in, std::vector<std::string>& failures) {
  if (!got_in.defined()) {
    failures.push_back(name + ": missing on CUDA");
    return;
  }
  const Tensor got = got_in.to(cpu_device()), want = want_in.to(cpu_device());
  if (got.shape() != want.shape()) {
    failures.push_back(name + ": shape " + shape_str(got.shape()) + " vs " + shape_str(want.shape()));
    return;
  }
  const bool integer = !is_floating(want.dtype());
  const auto g = got.to(DType::f64).contiguous().to_vector<double>();
  const auto w = want.to(DType::f64).contiguous().to_vector<double>();
  int64_t bad = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const double tol = integer ? 0.0 : 1e-5 + 1e-4 * std::fabs(w[i]);
    if (!(std::fabs(g[i] - w[i]) <= tol)) ++bad;
  }
  if (bad) failures.push_back(str_cat(name, ": ", bad, "/", w.size(), " elements differ"));
}

QuantizerCase case_from_fixture(const std::string& path) {
  SafetensorsFile f = load_safetensors(path);
  QuantizerCase c;
  c.module = f.metadata.at("module");
  c.config = nlohmann::json::parse(f.metadata.at("config"));
  c.kwargs = nlohmann::json::parse(f.metadata.at("call"));
  c.train = f.metadata.at("mode") == "train";
  c.x_requires_grad = f.metadata.count("x_requires_grad") && f.metadata.at("x_requires_grad") == "true";
  c.x = f.tensors.at("x");
  for (const auto& kv : f.tensors) {
    if (kv.first.rfind("state_in.", 0) == 0) c.state[kv.first.substr(9)] = kv.second;
    if (kv.first == "mask" || kv.first == "lens") c.tensors[kv.first] = kv.second;
  }
  if (f.tensors.count("grad_output")) c.grad_output = f.tensors.at("grad_output");
  if (f.tensors.count("grad_loss")) c.grad_loss = f.tensors.at("grad_loss");
  return c;
}

}  // namespace

TEST_CASE("fsq/lfq cuda: every FSQ/LFQ-family fixture gives the same results on both devices") {
  namespace fs = std::filesystem;
  int files = 0;
  for (const char* module : {"FSQ", "LFQ", "ResidualFSQ", "ResidualLFQ", "GroupedResidualFSQ", "GroupedResidualLFQ"}) {
    for (const auto& path : fixtures_of(module)) {
      QuantizerCase c = case_from_fixture(path);
      CAPTURE(path);
      // The same construction-time Generator draws on both devices: reseed before each run.
      manual_seed(1234);
      auto cpu_out = run_quantizer_case(c);
      c.device = cuda_device(0);
      manual_seed(1234);
      auto gpu_out = run_quantizer_case(c);
      std::vector<std::string> failures;
      for (const auto& kv : cpu_out) {
        auto it = gpu_out.find(kv.first);
        compare(kv.first, it == gpu_out.end() ? Tensor() : it->second, kv.second, failures);
      }
      std::string all;
      for (const auto& s : failures) all += "\n  " + s;
      INFO(all);
      CHECK(failures.empty());
      ++files;
    }
  }
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
