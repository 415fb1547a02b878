// Golden training steps of the reference's Fashion-MNIST autoencoders
// (tests/fixtures/AutoEncoder/, made by tools/parity/gen_autoencoder.py from the pinned
// reference): from the same initial state and on the same batches, `vq train`'s model,
// loss and AdamW take the same steps as PyTorch + vector-quantize-pytorch: losses and
// code indices at every step, every parameter gradient of the first step, and every
// parameter and buffer after the last.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/train/model.h"
#include "core/generator.h"
#include "core/safetensors.h"
#include "optim/adam.h"
#include "tests/parity/fixture_replay.h"

using namespace vq;

namespace {

std::map<std::string, Tensor> with_prefix(const std::map<std::string, Tensor>& t,
                                          const std::string& prefix) {
  std::map<std::string, Tensor> out;
  for (const auto& [k, v] : t)
    if (k.rfind(prefix, 0) == 0) out[k.substr(prefix.size())] = v;
  return out;
}

// Replays one file; returns one line per mismatch. `compared` counts expected tensors.
std::vector<std::string> replay_steps(const std::string& path, int& compared) {
  SafetensorsFile f = load_safetensors(path);
  const nlohmann::json cfg = nlohmann::json::parse(f.metadata.at("config"));
  const int steps = std::stoi(f.metadata.at("steps"));
  const double rtol = f.metadata.count("rtol") ? std::stod(f.metadata.at("rtol")) : 1e-5;
  const double atol = f.metadata.count("atol") ? std::stod(f.metadata.at("atol")) : 1e-6;
  std::vector<std::string> failures;
  std::set<std::string> seen;
  auto expect = [&](const std::string& name, const Tensor& got) {
    seen.insert(name);
    auto it = f.tensors.find(name);
    if (it == f.tensors.end()) {
      failures.push_back(name + ": produced but not in the file");
      return;
    }
    ++compared;
    test::compare_tensor(name, got.contiguous(), it->second, rtol, atol, failures);
  };

  Generator gen(987654321);  // unrelated to the file: everything comes from state_in
  app::AutoEncoder model(app::ModelOptions::from_json(cfg), gen);
  model.load_state_dict(with_prefix(f.tensors, "state_in."), true);
  model.train();
  optim::AdamWOptions ao;
  ao.lr = cfg.at("lr").get<double>();
  optim::AdamW opt(model.parameters(), ao);
  for (int i = 0; i < steps; ++i) {
    const std::string s = std::to_string(i);
    opt.zero_grad();
    app::TrainingLoss loss = app::training_loss(model, Variable(f.tensors.at("batch." + s)));
    expect("rec_loss." + s, loss.rec.value());
    expect("aux_loss." + s, loss.output.aux_loss.value());
    expect("indices." + s, loss.output.indices);
    loss.total.backward();
    if (i == 0)
      for (const auto& [name, p] : model.named_parameters()) expect("grad." + name, p.grad());
    opt.step();
  }
  for (const auto& [name, v] : model.state_dict()) expect("state." + name, v);
  for (const auto& [name, t] : f.tensors)
    if (!seen.count(name) && name.rfind("batch.", 0) != 0 && name.rfind("state_in.", 0) != 0)
      failures.push_back(name + ": expected but not produced");
  return failures;
}

}  // namespace

TEST_CASE("train fixtures: the examples' models take the reference's AdamW steps") {
  namespace fs = std::filesystem;
  const auto files = test::fixture_files("AutoEncoder");
  REQUIRE(files.size() >= 3);
  for (const auto& path : files) {
    int compared = 0;
    std::vector<std::string> failures;
    try {
      failures = replay_steps(path, compared);
    } catch (const std::exception& e) {
      failures.push_back(std::string("threw: ") + e.what());
    }
    std::string all;
    for (const auto& m : failures) all += "\n  " + m;
    INFO(fs::path(path).filename().string() << ":" << all);
    CHECK(failures.empty());
    CHECK(compared > 20);
  }
}
