// CPU vs CUDA for every elementwise op: random inputs from a Generator (the same on
// both devices), each op run on cpu and on cuda, results compared. Exact where both
// devices do the same correctly rounded IEEE operations (+, -, *, /, sqrt, min/max,
// comparisons, rounding); otherwise within 1e-6 relative (device libm functions differ
// by an ulp or two and nvcc contracts a*b+c into FMA), with a 1e-6 absolute floor for
// results that cancel to near zero. Runs only where a GPU answers (vq_cuda_tests).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "kernels/ops.h"

using namespace vq;

namespace {

const Device kCpu{DeviceType::CPU, 0};

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

void check_values(const Tensor& c, const Tensor& g, bool exact, const std::string& what) {
  INFO(what);
  REQUIRE(g.device().is_cuda());
  REQUIRE(c.shape() == g.shape());
  REQUIRE(c.dtype() == g.dtype());
  if (c.dtype() == DType::f32) {
    std::vector<float> cv = c.to_vector<float>(), gv = g.to_vector<float>();
    size_t bad = 0, first = cv.size();
    for (size_t i = 0; i < cv.size(); ++i) {
      const float x = cv[i], y = gv[i];
      bool ok;
      if (std::isnan(x) || std::isnan(y)) ok = std::isnan(x) && std::isnan(y);
      else if (exact || std::isinf(x) || std::isinf(y)) ok = x == y;
      else ok = std::fabs(x - y) <= 1e-6 * std::max(std::fabs(x), std::fabs(y)) + 1e-6;
      if (!ok && bad++ == 0) first = i;
    }
    if (bad) {
      INFO("first mismatch at " << first << ": cpu " << cv[first] << " cuda " << gv[first]);
      CHECK(bad == 0);
    }
  } else if (c.dtype() == DType::i64) {
    CHECK(c.to_vector<int64_t>() == g.to_vector<int64_t>());
  } else {
    CHECK(c.to_vector<uint8_t>() == g.to_vector<uint8_t>());
  }
}

// Runs fn on the CPU inputs and on copies of them on cuda:0, compares the results.
void same_on_cuda(const std::string& what, const Fn& fn, const std::vector<Tensor>& in,
                  bool exact = false) {
  std::vector<Tensor> gin;
  for (const Tensor& t : in) gin.push_back(t.to(cuda_device(0)));
  Tensor c = fn(in);
  Tensor g = fn(gin);
  check_values(c, g, exact, what);
}

struct Inputs {
  Tensor x, y, row, col, pos, w;
};

Inputs make_inputs(uint64_t seed) {
  Generator gen(seed);
  Inputs in;
  in.x = Tensor::randn({64, 130}, gen, kCpu);
  in.y = Tensor::randn({64, 130}, gen, kCpu);
  in.row = Tensor::randn({130}, gen, kCpu);
  in.col = Tensor::randn({64, 1}, gen, kCpu);
  in.pos = Tensor::rand({64, 130}, gen, kCpu, 0.1f, 4.f);
  in.w = Tensor::rand({64, 130}, gen, kCpu, -0.2f, 1.2f);
  return in;
}

}  // namespace

TEST_CASE("cuda elementwise: binary ops with broadcasting and strides match CPU") {
  Inputs in = make_inputs(1);
  struct Op { const char* name; Tensor (*f)(const Tensor&, const Tensor&); bool exact; };
  const Op ops_[] = {{"add", ops::add, true},         {"sub", ops::sub, true},
                     {"mul", ops::mul, true},         {"div", ops::div, true},
                     {"maximum", ops::maximum, true}, {"minimum", ops::minimum, true},
                     {"pow", ops::pow, false}};
  for (const Op& op : ops_) {
    auto f = op.f;
    const bool is_pow = std::string(op.name) == "pow";
    Tensor a = is_pow ? in.pos : in.x;
    same_on_cuda(std::string(op.name) + " same shape",
                 [f](const auto& v) { return f(v[0], v[1]); }, {a, in.y}, op.exact);
    same_on_cuda(std::string(op.name) + " [64,130] with [130]",
                 [f](const auto& v) { return f(v[0], v[1]); }, {a, in.row}, op.exact);
    same_on_cuda(std::string(op.name) + " [64,1] with [130]",
                 [f](const auto& v) { return f(v[0], v[1]); }, {in.col, in.row}, op.exact);
    same_on_cuda(std::string(op.name) + " transposed inputs",
                 [f](const auto& v) { return f(v[0].t(), v[1].t()); }, {a, in.y}, op.exact);
    same_on_cuda(std::string(op.name) + " transposed with [64]",
                 [f](const auto& v) { return f(v[0].t(), v[1].flatten()); }, {a, in.col},
                 op.exact);
  }
}

TEST_CASE("cuda elementwise: scalar ops and pow exponents match CPU") {
  Inputs in = make_inputs(2);
  same_on_cuda("add s", [](const auto& v) { return ops::add(v[0], 0.37); }, {in.x}, true);
  same_on_cuda("sub s", [](const auto& v) { return ops::sub(v[0], 1.5); }, {in.x}, true);
  same_on_cuda("rsub s", [](const auto& v) { return ops::rsub(v[0], 2.25); }, {in.x}, true);
  same_on_cuda("mul s", [](const auto& v) { return ops::mul(v[0].t(), -3.1); }, {in.x}, true);
  same_on_cuda("div s", [](const auto& v) { return ops::div(v[0], 7.0); }, {in.x}, true);
  // Products, 1/x and sqrt are correctly rounded on both devices; 1/sqrt(x) is compared
  // with the tolerance in case the device compiler fuses it into an rsqrt.
  for (double e : {2.0, 3.0, -1.0, -2.0, 0.5, -0.5}) {
    same_on_cuda("pow exact exponent " + std::to_string(e),
                 [e](const auto& v) { return ops::pow(v[0], e); }, {in.pos}, e != -0.5);
  }
  same_on_cuda("pow 1.7", [](const auto& v) { return ops::pow(v[0], 1.7); }, {in.pos});
  same_on_cuda("pow 2 of negatives", [](const auto& v) { return ops::pow(v[0], 2.0); }, {in.x},
               true);
}

TEST_CASE("cuda elementwise: unary ops and activations match CPU") {
  Inputs in = make_inputs(3);
  Tensor x3 = ops::mul(in.x, 3.0);  // reach the tails of tanh / sigmoid / gelu
  struct Op { const char* name; Tensor (*f)(const Tensor&); bool positive; bool exact; };
  const Op ops_[] = {{"neg", ops::neg, false, true},     {"abs", ops::abs, false, true},
                     {"sign", ops::sign, false, true},   {"exp", ops::exp, false, false},
                     {"log", ops::log, true, false},     {"sqrt", ops::sqrt, true, true},
                     {"rsqrt", ops::rsqrt, true, false},  {"tanh", ops::tanh, false, false},
                     {"sigmoid", ops::sigmoid, false, false}, {"relu", ops::relu, false, true},
                     {"silu", ops::silu, false, false},  {"round", ops::round, false, true},
                     {"floor", ops::floor, false, true}};
  for (const Op& op : ops_) {
    auto f = op.f;
    Tensor a = op.positive ? in.pos : x3;
    same_on_cuda(op.name, [f](const auto& v) { return f(v[0]); }, {a}, op.exact);
    same_on_cuda(std::string(op.name) + " transposed", [f](const auto& v) { return f(v[0].t()); },
                 {a}, op.exact);
  }
  same_on_cuda("gelu erf", [](const auto& v) { return ops::gelu(v[0]); }, {x3});
  same_on_cuda("gelu tanh", [](const auto& v) { return ops::gelu(v[0], true); }, {x3});
  same_on_cuda("softplus", [](const auto& v) { return ops::softplus(v[0]); }, {x3});
  same_on_cuda("softplus beta 2 threshold 1",
               [](const auto& v) { return ops::softplus(v[0], 2.0, 1.0); }, {x3});
  Tensor ties = Tensor::from_vector({0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 3.5f, -0.f}, {8});
  same_on_cuda("round ties", [](const auto& v) { return ops::round(v[0]); }, {ties}, true);
  same_on_cuda("round of x*4", [](const auto& v) { return ops::round(ops::mul(v[0], 4.0)); },
               {in.x}, true);
  same_on_cuda("clamp both", [](const auto& v) { return ops::clamp(v[0], -0.5, 0.7); }, {in.x},
               true);
  same_on_cuda("clamp lo", [](const auto& v) { return ops::clamp(v[0], 0.1, std::nullopt); },
               {in.x}, true);
  same_on_cuda("clamp hi", [](const auto& v) { return ops::clamp(v[0], std::nullopt, -0.1); },
               {in.x}, true);
  Tensor nan = Tensor::from_vector({NAN, 1.f, -1.f}, {3});
  same_on_cuda("clamp NaN", [](const auto& v) { return ops::clamp(v[0], 0.0, 0.5); }, {nan}, true);
  same_on_cuda("relu NaN", [](const auto& v) { return ops::relu(v[0]); }, {nan}, true);
  same_on_cuda("maximum NaN", [](const auto& v) { return ops::maximum(v[0], v[1]); },
               {nan, Tensor::zeros({3})}, true);
}

TEST_CASE("cuda elementwise: lerp (scalar and tensor weight) matches CPU") {
  Inputs in = make_inputs(4);
  for (double w : {0.0, 0.3, 0.5, 0.7, 1.0})
    same_on_cuda("lerp " + std::to_string(w),
                 [w](const auto& v) { return ops::lerp(v[0], v[1], w); }, {in.x, in.y});
  same_on_cuda("lerp broadcast", [](const auto& v) { return ops::lerp(v[0], v[1], 0.2); },
               {in.x, in.row});
  same_on_cuda("lerp tensor w", [](const auto& v) { return ops::lerp(v[0], v[1], v[2]); },
               {in.x, in.y, in.w});
  same_on_cuda("lerp tensor w broadcast, transposed",
               [](const auto& v) { return ops::lerp(v[0].t(), v[1], v[2]); },
               {in.x, in.col.flatten(), in.w.t().contiguous()});
}

TEST_CASE("cuda elementwise: comparisons, logical ops and where match CPU exactly") {
  Inputs in = make_inputs(5);
  // Coarse values so that equality happens often.
  Tensor a = ops::floor(ops::mul(in.x, 2.0));
  Tensor b = ops::floor(ops::mul(in.y, 2.0));
  Tensor r = ops::floor(ops::mul(in.row, 2.0));
  using Cmp = Tensor (*)(const Tensor&, const Tensor&);
  using CmpS = Tensor (*)(const Tensor&, double);
  const Cmp cmps[] = {ops::eq, ops::ne, ops::lt, ops::le, ops::gt, ops::ge};
  const CmpS cmps_s[] = {ops::eq, ops::ne, ops::lt, ops::le, ops::gt, ops::ge};
  const char* names[] = {"eq", "ne", "lt", "le", "gt", "ge"};
  Tensor ai = a.to(DType::i64), bi = b.to(DType::i64), ri = r.to(DType::i64);
  Tensor a32 = a.to(DType::i32), b32 = b.to(DType::i32);
  for (int k = 0; k < 6; ++k) {
    Cmp f = cmps[k];
    CmpS fs = cmps_s[k];
    std::string n = names[k];
    same_on_cuda(n + " f32", [f](const auto& v) { return f(v[0], v[1]); }, {a, b}, true);
    same_on_cuda(n + " f32 broadcast", [f](const auto& v) { return f(v[0].t(), v[1].flatten()); },
                 {a, ops::floor(ops::mul(in.col, 2.0))}, true);
    same_on_cuda(n + " f32 scalar", [fs](const auto& v) { return fs(v[0], 1.0); }, {a}, true);
    same_on_cuda(n + " i64", [f](const auto& v) { return f(v[0], v[1]); }, {ai, ri}, true);
    same_on_cuda(n + " i64 scalar 0.5", [fs](const auto& v) { return fs(v[0], 0.5); }, {ai}, true);
    same_on_cuda(n + " i32", [f](const auto& v) { return f(v[0], v[1]); }, {a32, b32}, true);
  }
  Tensor p = ops::gt(in.x, 0.0), q = ops::lt(in.y, 0.3);
  same_on_cuda("logical_and", [](const auto& v) { return ops::logical_and(v[0], v[1]); }, {p, q},
               true);
  same_on_cuda("logical_or", [](const auto& v) { return ops::logical_or(v[0], v[1]); }, {p, q},
               true);
  same_on_cuda("logical_not", [](const auto& v) { return ops::logical_not(v[0]); }, {p}, true);
  same_on_cuda("logical_not f32", [](const auto& v) { return ops::logical_not(v[0]); }, {a}, true);
  same_on_cuda("where f32", [](const auto& v) { return ops::where(v[0], v[1], v[2]); },
               {p, in.x, in.y}, true);
  same_on_cuda("where broadcast",
               [](const auto& v) { return ops::where(v[0], v[1].t(), v[2]); },
               {ops::gt(in.row.view({130, 1}), 0.0), in.x, in.col.flatten()}, true);
  same_on_cuda("where i64", [](const auto& v) { return ops::where(v[0], v[1], v[2]); },
               {p, ai, bi}, true);
}

TEST_CASE("cuda elementwise: i64 arithmetic matches CPU") {
  Inputs in = make_inputs(6);
  Tensor a = ops::floor(ops::mul(in.x, 100.0)).to(DType::i64);
  Tensor b = ops::floor(ops::mul(in.row, 100.0)).to(DType::i64);
  same_on_cuda("add i64", [](const auto& v) { return ops::add(v[0], v[1]); }, {a, b});
  same_on_cuda("sub i64", [](const auto& v) { return ops::sub(v[0].t(), v[1].view({130, 1})); },
               {a, b});
  same_on_cuda("mul i64", [](const auto& v) { return ops::mul(v[0], v[1]); }, {a, b});
  same_on_cuda("maximum i64", [](const auto& v) { return ops::maximum(v[0], v[1]); }, {a, b});
  same_on_cuda("minimum i64", [](const auto& v) { return ops::minimum(v[0], v[1]); }, {a, b});
  same_on_cuda("neg i64", [](const auto& v) { return ops::neg(v[0]); }, {a});
  same_on_cuda("abs i64", [](const auto& v) { return ops::abs(v[0]); }, {a});
  same_on_cuda("add s i64", [](const auto& v) { return ops::add(v[0], 7.0); }, {a});
  same_on_cuda("mul s i64", [](const auto& v) { return ops::mul(v[0], -3.0); }, {a});
  same_on_cuda("rsub s i64", [](const auto& v) { return ops::rsub(v[0], 5.0); }, {a});
}

TEST_CASE("cuda elementwise: in-place ops match CPU and bump the version") {
  Inputs in = make_inputs(7);
  auto inplace = [](void (*body)(Tensor&, const Tensor&), const Tensor& dst, const Tensor& src,
                    bool exact, const std::string& what) {
    Tensor c = dst.clone(), g = dst.to(cuda_device(0)).clone();
    const uint64_t v = g.version();
    body(c, src);
    body(g, src.to(cuda_device(0)));
    CHECK(g.version() > v);
    check_values(c, g, exact, what);
  };
  inplace([](Tensor& d, const Tensor& s) { ops::add_(d, s); }, in.x, in.row, true, "add_");
  inplace([](Tensor& d, const Tensor& s) { ops::add_(d, s, -0.25); }, in.x, in.y, false,
          "add_ alpha");
  inplace([](Tensor& d, const Tensor& s) { ops::mul_(d, s); }, in.x, in.col, true, "mul_ tensor");
  inplace([](Tensor& d, const Tensor&) { ops::mul_(d, 0.999); }, in.x, in.x, true, "mul_ scalar");
  inplace([](Tensor& d, const Tensor& s) { ops::lerp_(d, s, 0.2); }, in.x, in.y, false, "lerp_");
  inplace([](Tensor& d, const Tensor&) { ops::clamp_(d, -1.0, 1.0); }, in.x, in.x, true,
          "clamp_");
  // Strided destination (transpose view) and a source that aliases it.
  inplace(
      [](Tensor& d, const Tensor& s) {
        Tensor dt = d.t();
        ops::add_(dt, s);
      },
      in.x, in.col.flatten(), true, "add_ into transpose");
  Tensor sq = in.x.narrow(1, 0, 64).contiguous();
  inplace(
      [](Tensor& d, const Tensor&) { ops::add_(d, d.t()); }, sq, sq, true, "add_ aliasing src");
}

TEST_CASE("cuda elementwise: device mismatch and empty tensors") {
  Tensor c = Tensor::ones({3});
  Tensor g = Tensor::ones({3}, DType::f32, cuda_device(0));
  CHECK_THROWS_WITH_AS(ops::add(c, g), doctest::Contains("add: tensors on different devices"),
                       DeviceError);
  CHECK_THROWS_WITH_AS(ops::where(ops::gt(c, 0.0), g, g),
                       doctest::Contains("where: tensors on different devices"), DeviceError);
  CHECK_THROWS_WITH_AS(ops::add_(g, c), doctest::Contains("add_: tensors on different devices"),
                       DeviceError);
  Tensor e = ops::mul(Tensor::zeros({0, 4}, DType::f32, cuda_device(0)), g.narrow(0, 0, 1));
  CHECK(e.shape() == Shape{0, 4});
  CHECK(e.device().is_cuda());
}
