// Replays quantizer golden fixtures through run_quantizer_case: builds the module
// from the file's config, loads state_in.*, runs the call, back-propagates the given
// output gradients, and compares every expected tensor in the file.
#include "tests/parity/fixture_replay.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "quantizers/quantizer.h"
#include "quantizers/run_case.h"
#include "tests/support/fixture_case.h"

namespace vq::test {

namespace fs = std::filesystem;

void compare_tensor(const std::string& name, const Tensor& got_in, const Tensor& want,
                    double rtol, double atol, std::vector<std::string>& failures) {
  if (!got_in.defined()) {
    failures.push_back(name + ": not produced");
    return;
  }
  Tensor got = got_in.to(cpu_device());
  if (got.numel() != want.numel() || (got.shape() != want.shape() && got.numel() != 1)) {
    failures.push_back(name + ": shape " + shape_str(got.shape()) + ", expected " +
                       shape_str(want.shape()));
    return;
  }
  bool integer = !is_floating(want.dtype());
  auto g = got.to(DType::f64).contiguous().to_vector<double>();
  auto w = want.to(DType::f64).contiguous().to_vector<double>();
  int64_t bad = 0, worst = -1;
  double worst_err = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    double err = std::fabs(g[i] - w[i]);
    double tol = integer ? 0.0 : atol + rtol * std::fabs(w[i]);
    if (!(err <= tol)) {
      ++bad;
      if (worst < 0 || !(err <= worst_err)) {
        worst_err = err;
        worst = static_cast<int64_t>(i);
      }
    }
  }
  if (bad)
    failures.push_back(str_cat(name, ": ", bad, "/", w.size(), " elements differ; worst at ", worst,
                               ": got ", g[worst], ", expected ", w[worst]));
}

namespace {

bool is_input(const std::string& n) {
  return n == "x" || n == "mask" || n == "lens" || n == "grad_output" || n == "grad_loss" ||
         n.rfind("state_in.", 0) == 0;
}

}  // namespace

ReplayResult replay_quantizer_fixture(const std::string& path) {
  ReplayResult r;
  SafetensorsFile f = load_safetensors(path);
  QuantizerCase c = quantizer_case_from_fixture(f, path);
  auto known = registered_quantizers();
  if (std::find(known.begin(), known.end(), c.module) == known.end()) return r;
  r.replayed = true;
  auto got = run_quantizer_case(c);

  double rtol = 1e-5, atol = 1e-6;
  if (f.metadata.count("rtol")) rtol = std::stod(f.metadata.at("rtol"));
  if (f.metadata.count("atol")) atol = std::stod(f.metadata.at("atol"));
  for (const auto& kv : f.tensors) {
    const std::string& name = kv.first;
    if (is_input(name)) continue;
    std::string key = name == "codes_from_indices" ? "output_from_indices" : name;
    auto it = got.find(key);
    ++r.compared;
    compare_tensor(name, it == got.end() ? Tensor() : it->second, kv.second, rtol, atol, r.failures);
  }
  return r;
}

}  // namespace vq::test
