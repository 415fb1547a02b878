// Fixture files as QuantizerCases and the CPU-vs-device comparison (see fixture_case.h).
#include "tests/support/fixture_case.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/generator.h"

namespace vq::test {

namespace fs = std::filesystem;

std::vector<std::string> fixture_files(const std::string& module_folder) {
  std::vector<std::string> out;
  fs::path dir = fs::path(VQ_SOURCE_DIR) / "tests" / "fixtures" / module_folder;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::json deviation_overrides(const std::string& path) {
  static const nlohmann::json table = [] {
    std::ifstream in((fs::path(VQ_SOURCE_DIR) / "tests" / "fixtures" / "known_deviations.json").string());
    return in ? nlohmann::json::parse(in) : nlohmann::json::object();
  }();
  fs::path p(path);
  std::string key = p.parent_path().filename().string() + "/" + p.filename().string();
  if (table.contains(key)) return table.at(key).value("config_overrides", nlohmann::json::object());
  return nlohmann::json::object();
}

namespace {
nlohmann::json meta_json(const SafetensorsFile& f, const char* key) {
  auto it = f.metadata.find(key);
  return it == f.metadata.end() ? nlohmann::json::object() : nlohmann::json::parse(it->second);
}
}  // namespace

QuantizerCase quantizer_case_from_fixture(const SafetensorsFile& f, const std::string& path) {
  QuantizerCase c;
  c.module = f.metadata.at("module");
  c.config = meta_json(f, "config");
  c.config.update(deviation_overrides(path));
  c.kwargs = meta_json(f, "call");
  c.train = f.metadata.at("mode") == "train";
  c.x_requires_grad = f.metadata.count("x_requires_grad") && f.metadata.at("x_requires_grad") == "true";
  c.x = f.tensors.at("x");
  for (const auto& kv : f.tensors) {
    if (kv.first.rfind("state_in.", 0) == 0) c.state[kv.first.substr(9)] = kv.second;
    if (kv.first == "mask" || kv.first == "lens") c.tensors[kv.first] = kv.second;
  }
  if (f.tensors.count("grad_output")) c.grad_output = f.tensors.at("grad_output");
  if (f.tensors.count("grad_loss")) c.grad_loss = f.tensors.at("grad_loss");
  c.decode = f.tensors.count("output_from_indices") || f.tensors.count("codes_from_indices");
  return c;
}

QuantizerCase quantizer_case_from_fixture(const std::string& path) {
  return quantizer_case_from_fixture(load_safetensors(path), path);
}

void compare_across_devices(const QuantizerCase& c, Device other, double rtol, double atol,
                            std::vector<std::string>& failures) {
  QuantizerCase a = c, b = c;
  a.device = cpu_device();
  b.device = other;
  manual_seed(1234);
  const auto ra = run_quantizer_case(a);
  manual_seed(1234);
  const auto rb = run_quantizer_case(b);
  for (const auto& [name, x_in] : ra) {
    auto it = rb.find(name);
    if (it == rb.end()) {
      failures.push_back(name + ": missing on " + other.str());
      continue;
    }
    const Tensor y_in = it->second.to(cpu_device());
    if (x_in.shape() != y_in.shape()) {
      failures.push_back(name + ": shape " + shape_str(x_in.shape()) + " on cpu, " + shape_str(y_in.shape()) +
                         " on " + other.str());
      continue;
    }
    const auto x = x_in.to(DType::f64).contiguous().to_vector<double>();
    const auto y = y_in.to(DType::f64).contiguous().to_vector<double>();
    const bool exact = !is_floating(x_in.dtype());
    int64_t bad = 0, first = -1;
    for (size_t i = 0; i < x.size(); ++i) {
      const double tol = exact ? 0.0 : atol + rtol * std::fabs(x[i]);
      if (!(std::fabs(x[i] - y[i]) <= tol) && !(std::isnan(x[i]) && std::isnan(y[i]))) {
        if (first < 0) first = static_cast<int64_t>(i);
        ++bad;
      }
    }
    if (bad)
      failures.push_back(str_cat(name, ": ", bad, "/", x.size(), " elements differ; first at ", first, ": cpu ",
                                 x[first], ", ", other.str(), " ", y[first]));
  }
  for (const auto& [name, t] : rb)
    if (!ra.count(name)) failures.push_back(name + ": only on " + other.str());
}

int check_fixtures_across_devices(const std::string& module_folder, Device other, double rtol, double atol,
                                  const std::function<bool(const std::string&)>& keep) {
  int files = 0;
  for (const auto& path : fixture_files(module_folder)) {
    const std::string name = fs::path(path).filename().string();
    if (keep && !keep(name)) continue;
    QuantizerCase c = quantizer_case_from_fixture(path);
    c.decode = true;
    std::vector<std::string> failures;
    try {
      compare_across_devices(c, other, rtol, atol, failures);
    } catch (const std::exception& e) {
      failures.push_back(std::string("threw: ") + e.what());
    }
    std::string all;
    for (const auto& m : failures) all += "\n  " + m;
    INFO(module_folder << "/" << name << ":" << all);
    CHECK(failures.empty());
    ++files;
  }
  return files;
}

}  // namespace vq::test
