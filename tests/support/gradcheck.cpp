// check_gradients (central differences on a random projection, f64 accumulation)
// and the input generators of gradcheck.h.
#include "tests/support/gradcheck.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"

namespace vq::test {

namespace {

// sum_k r_k y_k in f64.
double project(const Variable& y, const std::vector<float>& r) {
  std::vector<float> v = y.value().contiguous().to_vector<float>();
  double f = 0;
  for (size_t k = 0; k < v.size(); ++k) f += static_cast<double>(r[k]) * static_cast<double>(v[k]);
  return f;
}

}  // namespace

GradCheckReport check_gradients(const GradFn& fn, const std::vector<Tensor>& inputs,
                                const GradCheckOptions& options) {
  GradCheckReport report;
  std::ostringstream msg;
  const std::string label = options.label.empty() ? std::string("function") : options.label;
  auto fail = [&](const std::string& m) {
    report.ok = false;
    msg << label << ": " << m << "\n";
  };
  auto checked = [&](size_t i) {
    return options.check_input.empty() || (i < options.check_input.size() && options.check_input[i]);
  };

  // ---- analytic: one backward with grad_output = r ----
  std::vector<Variable> vars;
  for (size_t i = 0; i < inputs.size(); ++i)
    vars.emplace_back(inputs[i].contiguous().clone(), checked(i));
  Variable y = fn(vars);
  report.inputs.resize(inputs.size());
  if (!y.requires_grad()) {
    fail("the output does not require grad (no recorded graph)");
  } else {
    Generator gen(options.seed);
    Tensor r = Tensor::randn(y.shape(), gen, y.device());
    std::vector<float> rh = r.to_vector<float>();
    y.backward(r);

    // ---- numeric: central differences, element by element ----
    autograd::NoGradGuard no_grad;
    std::vector<Variable> probe;
    for (size_t i = 0; i < inputs.size(); ++i) probe.emplace_back(vars[i].value(), false);
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!checked(i)) continue;
      InputGradReport& ir = report.inputs[i];
      const Tensor& x = vars[i].value();
      ir.numel = x.numel();
      std::vector<float> analytic = vars[i].has_grad()
                                        ? vars[i].grad().contiguous().to_vector<float>()
                                        : std::vector<float>(static_cast<size_t>(x.numel()), 0.f);
      std::vector<float> host = x.to_vector<float>();
      for (int64_t j = 0; j < x.numel(); ++j) {
        const float orig = host[j];
        const float up = static_cast<float>(orig + options.eps);
        const float down = static_cast<float>(orig - options.eps);
        host[j] = up;
        probe[i] = Variable(Tensor::from_vector(host, x.shape(), x.device()), false);
        double f_up = project(fn(probe), rh);
        host[j] = down;
        probe[i] = Variable(Tensor::from_vector(host, x.shape(), x.device()), false);
        double f_down = project(fn(probe), rh);
        host[j] = orig;
        double numeric = (f_up - f_down) / (static_cast<double>(up) - static_cast<double>(down));
        double a = analytic[j];
        double err = std::abs(a - numeric);
        bool bad = !(err <= options.atol + options.rtol * std::abs(numeric));  // NaN fails
        if (err > ir.max_abs_err || ir.worst_index < 0 || std::isnan(err)) {
          ir.max_abs_err = std::isnan(err) ? INFINITY : err;
          ir.worst_index = j;
          ir.worst_analytic = a;
          ir.worst_numeric = numeric;
        }
        if (bad) {
          if (ir.failures < 4)
            msg << label << ": input " << i << " " << x.str() << " element " << j
                << ": analytic " << a << " vs numeric " << numeric << " (|diff| " << err
                << " > atol " << options.atol << " + rtol " << options.rtol << " * |numeric|)\n";
          ++ir.failures;
          report.ok = false;
        }
      }
      probe[i] = Variable(x, false);
      if (ir.failures > 4) msg << label << ": input " << i << ": " << ir.failures << " of " << ir.numel
                               << " elements failed\n";
      report.max_abs_err = std::max(report.max_abs_err, ir.max_abs_err);
    }
  }
  report.message = msg.str();
  if (options.check) CHECK_MESSAGE(report.ok, report.message);
  return report;
}

Tensor rand_signed(const Shape& shape, Generator& gen, float lo, float hi, Device device) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (float& x : v) {
    float mag = lo + (hi - lo) * gen.next_uniform();
    x = gen.next_uniform() < 0.5f ? -mag : mag;
  }
  return Tensor::from_vector(v, shape, device);
}

Tensor rand_distinct(const Shape& shape, Generator& gen, float lo, float hi, float gap, Device device) {
  int64_t n = shape_numel(shape);
  // Slots of width 2 gap, each value placed in the first half of its slot.
  int64_t slots = static_cast<int64_t>(std::floor((hi - lo) / (2.f * gap)));
  check(slots >= n, "rand_distinct: range [", lo, ", ", hi, ") holds only ", slots,
        " values ", gap, " apart, need ", n);
  std::vector<int64_t> perm(static_cast<size_t>(slots));
  std::iota(perm.begin(), perm.end(), 0);
  for (int64_t i = 0; i < n; ++i) {  // partial Fisher-Yates
    int64_t j = i + static_cast<int64_t>(gen.next_u64() % static_cast<uint64_t>(slots - i));
    std::swap(perm[i], perm[j]);
  }
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    v[i] = lo + 2.f * gap * static_cast<float>(perm[i]) + gap * gen.next_uniform();
  return Tensor::from_vector(v, shape, device);
}

}  // namespace vq::test
