// Optimizer trajectories against torch.optim (tests/fixtures/{SGD,Adam,AdamW}: 10 steps
// on parameters w (4, 3) and b (3,) with recorded gradients; format in
// docs/parity-fixtures.md) and clip_grad_norm_ against torch.nn.utils.
#include <doctest/doctest.h>

#include <memory>

#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "optim/optim.h"
#include "tests/parity/fixture_replay.h"

using namespace vq;
using nlohmann::json;

namespace {

std::unique_ptr<optim::Optimizer> optimizer_from_config(const std::string& module, const json& c,
                                                        std::vector<Variable> params) {
  if (module == "SGD") {
    optim::SGDOptions o;
    o.lr = c.value("lr", o.lr);
    o.momentum = c.value("momentum", 0.0);
    o.dampening = c.value("dampening", 0.0);
    o.weight_decay = c.value("weight_decay", 0.0);
    o.nesterov = c.value("nesterov", false);
    o.maximize = c.value("maximize", false);
    return std::make_unique<optim::SGD>(std::move(params), o);
  }
  optim::AdamOptions o;
  if (module == "AdamW") o = optim::AdamWOptions();
  o.lr = c.value("lr", o.lr);
  if (c.contains("betas")) {
    o.beta1 = c.at("betas").at(0).get<double>();
    o.beta2 = c.at("betas").at(1).get<double>();
  }
  o.eps = c.value("eps", o.eps);
  o.weight_decay = c.value("weight_decay", o.weight_decay);
  o.amsgrad = c.value("amsgrad", false);
  o.maximize = c.value("maximize", false);
  if (module == "AdamW") {
    optim::AdamWOptions w;
    static_cast<optim::AdamOptions&>(w) = o;
    return std::make_unique<optim::AdamW>(std::move(params), w);
  }
  return std::make_unique<optim::Adam>(std::move(params), o);
}

}  // namespace

TEST_CASE("optim fixtures: SGD, Adam and AdamW trajectories equal torch.optim over 10 steps") {
  int files = 0;
  for (const char* module : {"SGD", "Adam", "AdamW"}) {
    for (const std::string& path : test::fixture_files(module)) {
      CAPTURE(path);
      ++files;
      SafetensorsFile f = load_safetensors(path);
      REQUIRE(f.metadata.at("kind") == "optimizer");
      const int steps = std::stoi(f.metadata.at("steps"));
      CHECK(steps == 10);
      Variable w(f.tensors.at("param.w").clone(), true), b(f.tensors.at("param.b").clone(), true);
      auto opt = optimizer_from_config(module, json::parse(f.metadata.at("config")), {w, b});
      const double rtol = f.metadata.count("rtol") ? std::stod(f.metadata.at("rtol")) : 1e-5;
      const double atol = f.metadata.count("atol") ? std::stod(f.metadata.at("atol")) : 1e-6;
      std::vector<std::string> failures;
      int compared = 0;
      for (int i = 0; i < steps; ++i) {
        const std::string s = std::to_string(i);
        w.set_grad(f.tensors.at("grad_step." + s + ".w"));
        b.set_grad(f.tensors.at("grad_step." + s + ".b"));
        opt->step();
        test::compare_tensor("param_step." + s + ".w", w.value(), f.tensors.at("param_step." + s + ".w"),
                             rtol, atol, failures);
        test::compare_tensor("param_step." + s + ".b", b.value(), f.tensors.at("param_step." + s + ".b"),
                             rtol, atol, failures);
        compared += 2;
      }
      int expected = 0;
      for (const auto& kv : f.tensors) expected += kv.first.rfind("param_step.", 0) == 0;
      CHECK(compared == expected);
      std::string all;
      for (auto& s : failures) all += s + "\n";
      CHECK_MESSAGE(failures.empty(), all);
    }
  }
  CHECK(files == 10);
}

TEST_CASE("optim fixtures: clip_grad_norm_ equals torch.nn.utils.clip_grad_norm_") {
  const auto paths = test::fixture_files("clip_grad_norm_");
  CHECK(paths.size() == 2);
  for (const std::string& path : paths) {
    CAPTURE(path);
    SafetensorsFile f = load_safetensors(path);
    json c = json::parse(f.metadata.at("config"));
    Variable w(Tensor::zeros({4, 3}), true), b(Tensor::zeros({3}), true);
    w.set_grad(f.tensors.at("grad_in.w").clone());
    b.set_grad(f.tensors.at("grad_in.b").clone());
    Tensor total = optim::clip_grad_norm_({w, b}, c.at("max_norm").get<double>(),
                                          c.value("norm_type", 2.0));
    std::vector<std::string> failures;
    test::compare_tensor("total_norm", total, f.tensors.at("total_norm"), 1e-5, 1e-6, failures);
    test::compare_tensor("grad_out.w", w.grad(), f.tensors.at("grad_out.w"), 1e-5, 1e-6, failures);
    test::compare_tensor("grad_out.b", b.grad(), f.tensors.at("grad_out.b"), 1e-5, 1e-6, failures);
    std::string all;
    for (auto& s : failures) all += s + "\n";
    CHECK_MESSAGE(failures.empty(), all);
  }
}
