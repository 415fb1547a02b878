// Finite-difference gradient checking for any differentiable function of Variables,
// reusable by every test (ops, layers, quantizers). The scalar checked is
// f(x) = sum_k r_k y_k(x) with r a fixed random projection of the output y, so one
// backward (with grad_output r) gives the whole analytic gradient, and central
// differences (f(x + e) - f(x - e)) / 2e of f, accumulated in f64 on the host, give
// the numeric one, element by element. Inputs are f32 (the compute type), so keep
// them small (a few dozen elements) and steer them away from kinks (relu at 0, ties).
//
//   auto fn = [](const std::vector<Variable>& v) { return ag::mul(v[0], v[1]); };
//   GradCheckOptions opt;
//   opt.label = "mul";
//   check_gradients(fn, {a, b}, opt);  // CHECKs and returns the report
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "core/generator.h"
#include "core/tensor.h"

namespace vq::test {

struct GradCheckOptions {
  // Step of the central difference. f32 rounding of f is ~1e-7 |f| / eps, the
  // truncation error ~eps^2 |f'''|: 1e-2 balances both for inputs of size ~1.
  double eps = 1e-2;
  // An element passes when |analytic - numeric| <= atol + rtol * |numeric|.
  double atol = 1e-3;
  double rtol = 1e-2;
  uint64_t seed = 20240611;       // seed of the random projection r
  std::vector<bool> check_input;  // which inputs get requires_grad and are checked; empty = all
  bool check = true;              // CHECK(report.ok) inside (doctest) with the message
  std::string label;              // names the function in messages, e.g. "softmax dim=1"
};

struct InputGradReport {
  int64_t numel = 0;
  int64_t failures = 0;
  double max_abs_err = 0;  // over all elements of this input
  int64_t worst_index = -1;
  double worst_analytic = 0, worst_numeric = 0;
};

struct GradCheckReport {
  bool ok = true;
  double max_abs_err = 0;
  std::vector<InputGradReport> inputs;  // one per input (empty report for unchecked ones)
  std::string message;                  // "" when ok; else the first failures, readable
};

using GradFn = std::function<Variable(const std::vector<Variable>& inputs)>;

// Checks fn's gradient with respect to each selected input (f32 Tensors on one
// device; they are copied, never modified). fn must be deterministic and return a
// Variable that requires grad. Returns the report; CHECKs it unless options.check is
// false.
GradCheckReport check_gradients(const GradFn& fn, const std::vector<Tensor>& inputs,
                                const GradCheckOptions& options = {});

// Uniform values with magnitude in [lo, hi) and a random sign: inputs away from 0
// (for abs, relu, log(|x|), division). Same numbers on every device for one seed.
Tensor rand_signed(const Shape& shape, Generator& gen, float lo = 0.2f, float hi = 1.f,
                   Device device = Device());
// Uniform [lo, hi) with all elements at least `gap` apart (distinct values for max,
// sort, topk). Throws Error when the range is too small for numel(shape) values.
Tensor rand_distinct(const Shape& shape, Generator& gen, float lo = -1.f, float hi = 1.f,
                     float gap = 0.05f, Device device = Device());

}  // namespace vq::test
