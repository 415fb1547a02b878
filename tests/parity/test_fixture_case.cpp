// tests/support/fixture_case: fixture files as QuantizerCases, and the cross-device
// check every *_cuda test runs, exercised here CPU against CPU (so the machinery the
// GPU-only tests rely on is itself tested on every machine).
#include <doctest/doctest.h>

#include "tests/support/fixture_case.h"

using namespace vq;

TEST_CASE("fixture_case: a fixture file becomes the call it describes") {
  const auto files = test::fixture_files("ResidualVQ");
  REQUIRE(!files.empty());
  for (const auto& path : files) {
    SafetensorsFile f = load_safetensors(path);
    const QuantizerCase c = test::quantizer_case_from_fixture(f, path);
    CAPTURE(path);
    CHECK(c.module == "ResidualVQ");
    CHECK(c.train == (f.metadata.at("mode") == "train"));
    CHECK(c.x.shape() == f.tensors.at("x").shape());
    CHECK(c.device.is_cpu());
    int state_in = 0;
    for (const auto& kv : f.tensors) state_in += kv.first.rfind("state_in.", 0) == 0;
    CHECK(static_cast<int>(c.state.size()) == state_in);
    CHECK(c.grad_output.defined() == (f.tensors.count("grad_output") == 1));
  }
  CHECK(test::fixture_files("NoSuchModule").empty());
}

TEST_CASE("fixture_case: the cross-device check passes CPU against CPU, file filter included") {
  const int all = static_cast<int>(test::fixture_files("FSQ").size());
  REQUIRE(all > 2);
  CHECK(test::check_fixtures_across_devices("FSQ", cpu_device()) == all);
  CHECK(test::check_fixtures_across_devices("FSQ", cpu_device(), 1e-4, 1e-5,
                                            [](const std::string& name) { return name.find("eval") != std::string::npos; }) < all);
  std::vector<std::string> failures;
  test::compare_across_devices(test::quantizer_case_from_fixture(test::fixture_files("LFQ").front()), cpu_device(),
                               0.0, 0.0, failures);
  CHECK(failures.empty());  // the same device twice: bit-identical, even at zero tolerance
}
