// `vq run` reproduces golden fixtures from their inputs: the program is run on a
// fixture file (as input and as state) and its output file is compared with the
// fixture's expected tensors. Also its one-line errors.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/safetensors.h"
#include "tests/parity/fixture_replay.h"

using namespace vq;
namespace fs = std::filesystem;

namespace {

struct RunResult {
  int code;
  std::string output;
};

RunResult run_vq(const std::string& args) {
  fs::path tmp = fs::path(VQ_BINARY_DIR) / "test_tmp" / ("vq_run-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  std::string log = (tmp / "log.txt").string();
  std::string cmd = std::string(VQ_BINARY_DIR) + "/vq " + args + " > " + log + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  return {WEXITSTATUS(rc), ss.str()};
}

void replay_through_cli(const std::string& fixture) {
  SafetensorsFile f = load_safetensors(fixture);
  fs::path tmp = fs::path(VQ_BINARY_DIR) / "test_tmp" / ("vq_run-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  std::string out = (tmp / "out.safetensors").string();
  std::string cfg = (tmp / "cfg.json").string();
  std::ofstream(cfg) << f.metadata.at("config");
  std::string args = "run --module " + f.metadata.at("module") + " --config " + cfg + " --input " + fixture +
                     " --state " + fixture + " --output " + out + " --call '" + f.metadata.at("call") + "'";
  if (f.metadata.at("mode") == "train") args += " --train";
  if (f.tensors.count("grad_output")) args += " --grad-output " + fixture;
  RunResult r = run_vq(args);
  INFO(fixture << "\n" << r.output);
  REQUIRE(r.code == 0);
  SafetensorsFile got = load_safetensors(out);
  std::vector<std::string> failures;
  double rtol = f.metadata.count("rtol") ? std::stod(f.metadata.at("rtol")) : 1e-5;
  double atol = f.metadata.count("atol") ? std::stod(f.metadata.at("atol")) : 1e-6;
  int compared = 0;
  for (const char* name : {"quantized", "indices", "loss", "grad.x"}) {
    if (!f.tensors.count(name)) continue;
    ++compared;
    auto it = got.tensors.find(name);
    test::compare_tensor(name, it == got.tensors.end() ? Tensor() : it->second, f.tensors.at(name), rtol, atol,
                         failures);
  }
  for (const auto& kv : f.tensors)
    if (kv.first.rfind("state.", 0) == 0) {
      ++compared;
      auto it = got.tensors.find(kv.first);
      test::compare_tensor(kv.first, it == got.tensors.end() ? Tensor() : it->second, kv.second, rtol, atol,
                           failures);
    }
  std::string all;
  for (const auto& m : failures) all += "\n  " + m;
  INFO(all);
  CHECK(failures.empty());
  CHECK(compared >= 3);
}

}  // namespace

TEST_CASE("vq run: reproduces VectorQuantize fixtures from their inputs") {
  fs::path dir = fs::path(VQ_SOURCE_DIR) / "tests" / "fixtures" / "VectorQuantize";
  replay_through_cli((dir / "default_eval.safetensors").string());
  replay_through_cli((dir / "default_train.safetensors").string());
  replay_through_cli((dir / "heads2_separate_train.safetensors").string());
}

TEST_CASE("vq run: errors are one line and name the problem") {
  fs::path fx = fs::path(VQ_SOURCE_DIR) / "tests" / "fixtures" / "VectorQuantize" / "default_eval.safetensors";
  RunResult r = run_vq("run --module NoSuchQuantizer --config '{}' --input " + fx.string() + " --output " + (fs::path(VQ_BINARY_DIR) / "test_tmp" / "x.st").string() + "");
  CHECK(r.code != 0);
  CHECK(r.output.find("unknown module 'NoSuchQuantizer'") != std::string::npos);
  r = run_vq("run --module VectorQuantize --config '{\"dim\": 8, \"codebook_size\": 4, \"colour\": 1}' --input " +
             fx.string() + " --output " + (fs::path(VQ_BINARY_DIR) / "test_tmp" / "x.st").string() + "");
  CHECK(r.code != 0);
  CHECK(r.output.find("unknown option 'colour'") != std::string::npos);
  r = run_vq("run --module VectorQuantize --config '{}' --output " + (fs::path(VQ_BINARY_DIR) / "test_tmp" / "x.st").string() + "");
  CHECK(r.code == 2);
  CHECK(r.output.find("--input is required") != std::string::npos);
  r = run_vq("run --module VectorQuantize --config '{\"dim\": 8, \"codebook_size\": 4}' --input /nonexistent.st --output " + (fs::path(VQ_BINARY_DIR) / "test_tmp" / "x.st").string() + "");
  CHECK(r.code != 0);
  CHECK(r.output.find("/nonexistent.st") != std::string::npos);
}
