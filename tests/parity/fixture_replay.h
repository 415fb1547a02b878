// Generic replay of the golden fixtures made by tools/parity (format:
// docs/parity-fixtures.md). Shared by the doctest suite and `vq run`-based tests.
#pragma once
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "tests/support/fixture_case.h"  // fixture_files, quantizer_case_from_fixture

namespace vq::test {

struct ReplayResult {
  bool replayed = false;             // false when the module is not registered
  std::vector<std::string> failures; // one line per mismatching tensor
  int compared = 0;                  // number of expected tensors compared
};

// Replays one quantizer fixture file (kind = quantizer).
ReplayResult replay_quantizer_fixture(const std::string& path);

// Compares got with want under |got - want| <= atol + rtol |want| (exact for
// integer dtypes); appends a readable line to failures on mismatch.
void compare_tensor(const std::string& name, const Tensor& got, const Tensor& want, double rtol,
                    double atol, std::vector<std::string>& failures);

}  // namespace vq::test
