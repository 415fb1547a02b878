// Golden quantizer fixtures (tests/fixtures/<Module>/*.safetensors, made by tools/parity;
// format: docs/parity-fixtures.md) as QuantizerCases, and the CPU-vs-device check that
// every *_cuda test file runs over them. Shared by vq_tests and vq_cuda_tests.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/device.h"
#include "core/safetensors.h"
#include "quantizers/run_case.h"

namespace vq::test {

// All files under tests/fixtures/<module_folder>/ (sorted); empty when the folder is absent.
std::vector<std::string> fixture_files(const std::string& module_folder);

// Config overrides for fixtures that record a reference quirk fixed by default
// (tests/fixtures/known_deviations.json, keyed by "<Module>/<file>"); {} for others.
nlohmann::json deviation_overrides(const std::string& path);

// The call a quantizer fixture describes: module, config (with deviation_overrides),
// call kwargs, train/eval, x and whether it requires grad, mask / lens, state_in.*,
// grad_output / grad_loss; decode when the file holds decoded outputs. CPU device.
QuantizerCase quantizer_case_from_fixture(const SafetensorsFile& f, const std::string& path);
QuantizerCase quantizer_case_from_fixture(const std::string& path);

// Runs c on the CPU and on `other` (the global generator reseeded before each run, so
// construction-time draws agree) and compares every result: |b - a| <= atol + rtol |a|,
// integer tensors exactly, same names and shapes. One line per mismatch in failures.
void compare_across_devices(const QuantizerCase& c, Device other, double rtol, double atol,
                            std::vector<std::string>& failures);

// compare_across_devices for every fixture of module_folder whose file name passes
// keep (all when empty), with decode on; a doctest CHECK per file (naming the file and
// every mismatch). Returns the number of files run.
int check_fixtures_across_devices(const std::string& module_folder, Device other, double rtol = 1e-4,
                                  double atol = 1e-5,
                                  const std::function<bool(const std::string&)>& keep = nullptr);

}  // namespace vq::test
