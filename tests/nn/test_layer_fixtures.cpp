// Golden fixture replay of the layers (tests/fixtures/<Layer>/*.safetensors, made with
// PyTorch by tools/parity; format in docs/parity-fixtures.md): build the layer from
// the file's config, load state_in.* strictly, y = layer(x), back-propagate
// grad_output, and compare y, grad.x and grad.<param> with the file's tolerances
// (default rtol 1e-5, atol 1e-6). Every expected tensor in a file must be compared.
#include <doctest/doctest.h>

#include <memory>

#include <nlohmann/json.hpp>

#include "autograd/functions.h"
#include "core/safetensors.h"
#include "nn/nn.h"
#include "tests/parity/fixture_replay.h"

using namespace vq;
using nlohmann::json;

namespace {

// The layer a fixture's `module` + `config` (torch constructor kwargs) describe.
std::shared_ptr<nn::Layer> layer_from_config(const std::string& module, const json& c) {
  auto pair = [](const json& v) -> std::array<int64_t, 2> {
    if (v.is_array()) return {v.at(0).get<int64_t>(), v.at(1).get<int64_t>()};
    return {v.get<int64_t>(), v.get<int64_t>()};
  };
  if (module == "Linear")
    return std::make_shared<nn::Linear>(c.at("in_features").get<int64_t>(),
                                        c.at("out_features").get<int64_t>(),
                                        c.value("bias", true));
  if (module == "LayerNorm") {
    const json& ns = c.at("normalized_shape");
    Shape s = ns.is_array() ? ns.get<Shape>() : Shape{ns.get<int64_t>()};
    return std::make_shared<nn::LayerNorm>(s, c.value("eps", 1e-5),
                                           c.value("elementwise_affine", true), c.value("bias", true));
  }
  if (module == "GroupNorm")
    return std::make_shared<nn::GroupNorm>(c.at("num_groups").get<int64_t>(),
                                           c.at("num_channels").get<int64_t>(),
                                           c.value("eps", 1e-5), c.value("affine", true));
  if (module == "Conv2d") {
    nn::Conv2dOptions o;
    o.in_channels = c.at("in_channels").get<int64_t>();
    o.out_channels = c.at("out_channels").get<int64_t>();
    o.kernel_size = pair(c.at("kernel_size"));
    o.stride = pair(c.value("stride", json(1)));
    o.padding = pair(c.value("padding", json(0)));
    o.bias = c.value("bias", true);
    return std::make_shared<nn::Conv2d>(o);
  }
  if (module == "MaxPool2d") {
    auto k = pair(c.at("kernel_size"));
    auto s = c.contains("stride") && !c.at("stride").is_null() ? pair(c.at("stride")) : k;
    return std::make_shared<nn::MaxPool2d>(k, s, pair(c.value("padding", json(0))));
  }
  if (module == "Upsample")
    return std::make_shared<nn::Upsample>(pair(c.at("scale_factor")), c.value("mode", "nearest"));
  if (module == "GELU") return std::make_shared<nn::GELU>(c.value("approximate", "none"));
  if (module == "SiLU") return std::make_shared<nn::SiLU>();
  if (module == "ReLU") return std::make_shared<nn::ReLU>();
  if (module == "Tanh") return std::make_shared<nn::Tanh>();
  return nullptr;
}

bool is_input(const std::string& n) {
  return n == "x" || n == "grad_output" || n.rfind("state_in.", 0) == 0;
}

}  // namespace

TEST_CASE("nn fixtures: every layer's forward and backward equal torch's") {
  int files = 0;
  for (const char* module : {"Linear", "LayerNorm", "GroupNorm", "Conv2d", "MaxPool2d",
                             "Upsample", "GELU", "SiLU", "ReLU", "Tanh"}) {
    const auto paths = test::fixture_files(module);
    CHECK_MESSAGE(!paths.empty(), "no fixtures for ", module);
    for (const std::string& path : paths) {
      CAPTURE(path);
      ++files;
      SafetensorsFile f = load_safetensors(path);
      REQUIRE(f.metadata.at("kind") == "layer");
      auto layer = layer_from_config(module, json::parse(f.metadata.at("config")));
      REQUIRE(layer != nullptr);
      std::map<std::string, Tensor> state;
      for (const auto& kv : f.tensors)
        if (kv.first.rfind("state_in.", 0) == 0) state[kv.first.substr(9)] = kv.second;
      layer->load_state_dict(state, /*strict=*/true);
      layer->train(f.metadata.at("mode") == "train");
      Variable x(f.tensors.at("x").clone(), f.metadata.at("x_requires_grad") == "true");
      Variable y = layer->forward(x);
      y.backward(f.tensors.at("grad_output"));

      const double rtol = f.metadata.count("rtol") ? std::stod(f.metadata.at("rtol")) : 1e-5;
      const double atol = f.metadata.count("atol") ? std::stod(f.metadata.at("atol")) : 1e-6;
      auto params = layer->named_parameters();
      std::vector<std::string> failures;
      int compared = 0;
      for (const auto& kv : f.tensors) {
        if (is_input(kv.first)) continue;
        Tensor got;
        if (kv.first == "y") got = y.value();
        else if (kv.first == "grad.x") got = x.grad();
        else
          for (auto& p : params)
            if ("grad." + p.first == kv.first) got = p.second.grad();
        test::compare_tensor(kv.first, got, kv.second, rtol, atol, failures);
        ++compared;
      }
      CHECK(compared >= 2);
      std::string all;
      for (auto& s : failures) all += s + "\n";
      CHECK_MESSAGE(failures.empty(), all);
    }
  }
  CHECK(files >= 20);
}
