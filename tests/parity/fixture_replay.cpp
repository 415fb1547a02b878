// Replays quantizer golden fixtures: builds the module from the file's config
// through the registry, loads state_in.*, runs the call, back-propagates the given
// output gradients, and compares every expected tensor in the file.
#include "tests/parity/fixture_replay.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "autograd/functions.h"
#include "quantizers/quantizer.h"

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

void compare_tensor(const std::string& name, const Tensor& got_in, const Tensor& want_in, double rtol,
                    double atol, std::vector<std::string>& failures) {
  if (!got_in.defined()) {
    failures.push_back(name + ": not produced");
    return;
  }
  Tensor got = got_in.to(cpu()), want = want_in;
  if (got.numel() != want.numel() || (got.shape() != want.shape() && got.numel() != 1)) {
    failures.push_back(name + ": shape " + shape_str(got.shape()) + ", expected " + shape_str(want.shape()));
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
      if (worst < 0 || err > worst_err) { worst_err = err; worst = static_cast<int64_t>(i); }
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

nlohmann::json meta_json(const SafetensorsFile& f, const char* key) {
  auto it = f.metadata.find(key);
  return it == f.metadata.end() ? nlohmann::json::object() : nlohmann::json::parse(it->second);
}

}  // namespace

ReplayResult replay_quantizer_fixture(const std::string& path) {
  ReplayResult r;
  SafetensorsFile f = load_safetensors(path);
  const std::string module = f.metadata.at("module");
  auto known = registered_quantizers();
  if (std::find(known.begin(), known.end(), module) == known.end()) return r;
  r.replayed = true;

  auto q = make_quantizer(module, meta_json(f, "config"));
  std::map<std::string, Tensor> state;
  for (const auto& kv : f.tensors)
    if (kv.first.rfind("state_in.", 0) == 0) state[kv.first.substr(9)] = kv.second;
  q->load_state_dict(state, true);
  q->train(f.metadata.at("mode") == "train");

  const bool x_grad = f.metadata.count("x_requires_grad") && f.metadata.at("x_requires_grad") == "true";
  QuantizerCall call;
  call.x = Variable(f.tensors.at("x").clone(), x_grad);
  for (const char* t : {"mask", "lens"})
    if (f.tensors.count(t)) call.tensors[t] = f.tensors.at(t);
  call.kwargs = meta_json(f, "call");
  QuantizerOutput out = q->call(call);

  if (f.tensors.count("grad_output")) {
    Variable s = ag::sum(ag::mul(out.quantized, Variable(f.tensors.at("grad_output"))));
    if (f.tensors.count("grad_loss") && out.loss.defined() && out.loss.requires_grad())
      s = ag::add(s, ag::sum(ag::mul(out.loss, Variable(f.tensors.at("grad_loss")))));
    if (s.requires_grad()) s.backward();
  }

  double rtol = 1e-5, atol = 1e-6;
  if (f.metadata.count("rtol")) rtol = std::stod(f.metadata.at("rtol"));
  if (f.metadata.count("atol")) atol = std::stod(f.metadata.at("atol"));
  auto params = q->named_parameters();
  auto new_state = q->state_dict();

  for (const auto& kv : f.tensors) {
    const std::string& name = kv.first;
    if (is_input(name)) continue;
    Tensor got;
    if (name == "quantized") got = out.quantized.defined() ? out.quantized.value() : Tensor();
    else if (name == "indices") got = out.indices;
    else if (name == "loss") got = out.loss.defined() ? out.loss.value() : Tensor();
    else if (name.rfind("loss.", 0) == 0) {
      auto it = out.breakdown.find(name.substr(5));
      if (it != out.breakdown.end()) got = it->second.value();
    } else if (name == "all_codes") got = out.all_codes.defined() ? out.all_codes.value() : Tensor();
    else if (name == "grad.x") {
      got = call.x.grad();
      if (!got.defined()) got = Tensor::zeros(call.x.shape());  // no path to x: zero gradient
    } else if (name.rfind("grad.", 0) == 0) {
      for (auto& p : params)
        if (p.first == name.substr(5)) got = p.second.grad();
    } else if (name.rfind("state.", 0) == 0) {
      auto it = new_state.find(name.substr(6));
      if (it != new_state.end()) got = it->second;
    } else if (name == "codes_from_indices" || name == "output_from_indices") {
      got = q->get_output_from_indices(f.tensors.at("indices"));
    } else {
      r.failures.push_back(name + ": unknown expected tensor");
      continue;
    }
    ++r.compared;
    compare_tensor(name, got, kv.second, rtol, atol, r.failures);
  }
  return r;
}

}  // namespace vq::test
