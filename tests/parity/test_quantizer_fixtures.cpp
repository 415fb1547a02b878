// Replays every quantizer golden fixture under tests/fixtures/ (made by the pinned
// reference through tools/parity). Adding a case is adding a file. A module that is
// not registered yet is reported (its issue brings it) and counted; every registered
// module must replay all of its files.
#include <doctest/doctest.h>

#include <filesystem>

#include "quantizers/quantizer.h"
#include "tests/parity/fixture_replay.h"

using namespace vq;

TEST_CASE("parity: quantizer fixtures replay") {
  namespace fs = std::filesystem;
  fs::path root = fs::path(VQ_SOURCE_DIR) / "tests" / "fixtures";
  auto known = registered_quantizers();
  int replayed = 0, files = 0;
  for (const auto& dir : fs::directory_iterator(root)) {
    if (!dir.is_directory()) continue;
    const std::string module = dir.path().filename().string();
    for (const auto& path : test::fixture_files(module)) {
      SafetensorsFile f = load_safetensors(path);
      if (!f.metadata.count("kind") || f.metadata.at("kind") != "quantizer") break;
      ++files;
      const std::string label = fs::path(path).parent_path().filename().string() + "/" +
                                fs::path(path).filename().string();
      test::ReplayResult r;
      try {
        r = test::replay_quantizer_fixture(path);
      } catch (const std::exception& e) {
        r.replayed = true;
        r.failures.push_back(std::string("threw: ") + e.what());
      }
      if (!r.replayed) {
        MESSAGE(label << ": module " << module << " not implemented yet");
        continue;
      }
      ++replayed;
      std::string all;
      for (const auto& m : r.failures) all += "\n  " + m;
      INFO(label << ":" << all);
      CHECK(r.failures.empty());
      CHECK(r.compared > 0);
    }
  }
  MESSAGE("quantizer fixtures: " << replayed << " of " << files << " files replayed");
  CHECK(files > 0);
}
