// CUDA vs CPU for FSP, BinaryMapper and HierarchicalVQ: every golden fixture of the
// three modules runs through run_quantizer_case on both devices with the same inputs,
// state and masks / lens; values, gradients, state and decodes must agree, indices
// exactly. Plus the random paths (FSP perturbation, Bernoulli bits), which draw the same
// Philox numbers on both devices. Runs only where a GPU answers (vq_cuda_tests exits 77
// otherwise).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "core/safetensors.h"
#include "quantizers/binary_mapper.h"
#include "quantizers/fsp.h"
#include "quantizers/quantizer.h"
#include "quantizers/run_case.h"
#include "tests/support/fixture_case.h"

using namespace vq;

namespace {

void expect_close(const std::string& what, const Tensor& cpu, const Tensor& gpu) {
  CAPTURE(what);
  REQUIRE(cpu.shape() == gpu.shape());
  auto x = cpu.to(DType::f64).contiguous().to_vector<double>();
  auto y = gpu.to(cpu_device()).to(DType::f64).contiguous().to_vector<double>();
  const bool exact = !is_floating(cpu.dtype());
  int64_t bad = 0, first = -1;
  for (size_t i = 0; i < x.size(); ++i) {
    const double tol = exact ? 0.0 : 1e-5 + 1e-4 * std::fabs(x[i]);
    if (!(std::fabs(x[i] - y[i]) <= tol)) {
      ++bad;
      if (first < 0) first = static_cast<int64_t>(i);
    }
  }
  CHECK_MESSAGE(bad == 0, what, ": ", bad, "/", x.size(), " elements differ; first at ", first, ": cpu ",
                (first >= 0 ? x[first] : 0.0), " cuda ", (first >= 0 ? y[first] : 0.0));
}

}  // namespace

TEST_CASE("fsp/binary/hvq CUDA: FSP fixtures agree across devices") { CHECK(test::check_fixtures_across_devices("FSP", cuda_device()) == 11); }

TEST_CASE("fsp/binary/hvq CUDA: BinaryMapper fixtures agree across devices") {
  CHECK(test::check_fixtures_across_devices("BinaryMapper", cuda_device()) == 5);
}

TEST_CASE("fsp/binary/hvq CUDA: HierarchicalVQ fixtures agree across devices") {
  CHECK(test::check_fixtures_across_devices("HierarchicalVQ", cuda_device()) == 7);
}

TEST_CASE("fsp/binary/hvq CUDA: random paths draw the same numbers on both devices") {
  // FSP perturbation (quantize_rate 0.5) and BinaryMapper Bernoulli bits, same generator seed
  Generator xgen(5);
  const Tensor x = Tensor::rand({64, 4}, xgen, cpu_device(), -2.f, 2.f);
  auto run_fsp = [&](Device d) {
    Generator gen(7);
    FSP f(FSPOptions::from_json({{"levels", {8, 5, 5, 5}}, {"quantize_rate", 0.5}}), gen);
    f.to(d);
    FSPOutput o = f.forward(Variable(x.to(d)));
    return std::make_pair(o.quantized.value(), o.p_accept_prob);
  };
  const auto fc = run_fsp(cpu_device()), fg = run_fsp(cuda_device());
  expect_close("FSP perturbed output", fc.first, fg.first);
  expect_close("FSP p_accept_prob", fc.second, fg.second);
  auto run_bm = [&](Device d) {
    Generator gen(9);
    BinaryMapper bm(BinaryMapperOptions::from_json({{"bits", 4}}), gen);
    bm.to(d);
    BinaryMapperOutput o = bm.forward(Variable(x.to(d)));
    return std::make_pair(o.one_hot.value(), o.indices);
  };
  const auto bc = run_bm(cpu_device()), bg = run_bm(cuda_device());
  expect_close("BinaryMapper one-hot", bc.first, bg.first);
  expect_close("BinaryMapper indices", bc.second, bg.second);
}
