// Binary elementwise functions and operators (see binary.h). Each backward sums
// broadcast gradients back with sum_to; tensors are saved only when the other
// input needs them, so updating a constant in place never trips the version check.
#include "autograd/binary.h"

#include "autograd/grad_utils.h"
#include "autograd/node.h"
#include "autograd/unary.h"
#include "kernels/ops.h"

namespace vq::ag {

using autograd::sum_to;

namespace {
// t when cond holds, else an undefined Tensor (saved only when needed).
Tensor keep_if(bool cond, const Tensor& t) { return cond ? t : Tensor(); }
Tensor zero_scalar(Device d) { return Tensor::zeros({}, DType::f32, d); }
}  // namespace

// d(a+b)/da = 1, d(a+b)/db = 1
Variable add(const Variable& a, const Variable& b) {
  Shape sa = a.shape(), sb = b.shape();
  return make_result("add", ops::add(a.value(), b.value()), {a, b}, {},
                     [sa, sb](const Tensor& g, const BackwardContext&) -> std::vector<Tensor> {
                       return {sum_to(g, sa), sum_to(g, sb)};
                     });
}

// d(a-b)/da = 1, d(a-b)/db = -1
Variable sub(const Variable& a, const Variable& b) {
  Shape sa = a.shape(), sb = b.shape();
  return make_result("sub", ops::sub(a.value(), b.value()), {a, b}, {},
                     [sa, sb](const Tensor& g, const BackwardContext& c) -> std::vector<Tensor> {
                       return {sum_to(g, sa), c.needs_grad(1) ? sum_to(ops::neg(g), sb) : Tensor()};
                     });
}

// d(ab)/da = b, d(ab)/db = a
Variable mul(const Variable& a, const Variable& b) {
  Shape sa = a.shape(), sb = b.shape();
  return make_result(
      "mul", ops::mul(a.value(), b.value()), {a, b},
      {keep_if(a.requires_grad(), b.value()), keep_if(b.requires_grad(), a.value())},
      [sa, sb](const Tensor& g, const BackwardContext& c) -> std::vector<Tensor> {
        Tensor ga = c.needs_grad(0) ? sum_to(ops::mul(g, c.saved(0)), sa) : Tensor();
        Tensor gb = c.needs_grad(1) ? sum_to(ops::mul(g, c.saved(1)), sb) : Tensor();
        return {ga, gb};
      });
}

// y = a/b: dy/da = 1/b, dy/db = -a/b^2 = -y/b
Variable div(const Variable& a, const Variable& b) {
  Shape sa = a.shape(), sb = b.shape();
  Tensor y = ops::div(a.value(), b.value());
  return make_result(
      "div", y, {a, b}, {b.value(), keep_if(b.requires_grad(), y)},
      [sa, sb](const Tensor& g, const BackwardContext& c) -> std::vector<Tensor> {
        Tensor gb_over_b = ops::div(g, c.saved(0));  // g / b
        Tensor ga = c.needs_grad(0) ? sum_to(gb_over_b, sa) : Tensor();
        Tensor gb = c.needs_grad(1) ? sum_to(ops::neg(ops::mul(gb_over_b, c.saved(1))), sb) : Tensor();
        return {ga, gb};
      });
}

// y = a^b: dy/da = b a^(b-1), dy/db = y log(a) (0 where a == 0)
Variable pow(const Variable& a, const Variable& b) {
  Shape sa = a.shape(), sb = b.shape();
  Tensor y = ops::pow(a.value(), b.value());
  return make_result(
      "pow", y, {a, b},
      {a.value(), keep_if(a.requires_grad(), b.value()), keep_if(b.requires_grad(), y)},
      [sa, sb](const Tensor& g, const BackwardContext& c) -> std::vector<Tensor> {
        const Tensor &av = c.saved(0), &bv = c.saved(1);
        Tensor ga, gb;
        if (c.needs_grad(0))
          ga = sum_to(ops::mul(g, ops::mul(bv, ops::pow(av, ops::sub(bv, 1.0)))), sa);
        if (c.needs_grad(1)) {
          Tensor d = ops::masked_fill(ops::mul(c.saved(2), ops::log(av)), ops::eq(av, 0.0), 0.0);
          gb = sum_to(ops::mul(g, d), sb);
        }
        return {ga, gb};
      });
}

namespace {
// Gradient of maximum (is_max) or minimum: g where a wins, g/2 on ties, 0 elsewhere.
Variable extremum(const char* name, bool is_max, const Variable& a, const Variable& b) {
  Shape sa = a.shape(), sb = b.shape();
  Tensor y = is_max ? ops::maximum(a.value(), b.value()) : ops::minimum(a.value(), b.value());
  return make_result(
      name, y, {a, b}, {a.value(), b.value()},
      [sa, sb, is_max](const Tensor& g, const BackwardContext& c) -> std::vector<Tensor> {
        const Tensor &av = c.saved(0), &bv = c.saved(1);
        Tensor shared = ops::where(ops::eq(av, bv), ops::mul(g, 0.5), g);
        Tensor a_loses = is_max ? ops::lt(av, bv) : ops::gt(av, bv);
        Tensor b_loses = is_max ? ops::gt(av, bv) : ops::lt(av, bv);
        Tensor ga = c.needs_grad(0) ? sum_to(ops::masked_fill(shared, a_loses, 0.0), sa) : Tensor();
        Tensor gb = c.needs_grad(1) ? sum_to(ops::masked_fill(shared, b_loses, 0.0), sb) : Tensor();
        return {ga, gb};
      });
}
}  // namespace

// d max(a,b)/da = [a > b] + [a == b]/2
Variable maximum(const Variable& a, const Variable& b) { return extremum("maximum", true, a, b); }
// d min(a,b)/da = [a < b] + [a == b]/2
Variable minimum(const Variable& a, const Variable& b) { return extremum("minimum", false, a, b); }

// d(a+s)/da = 1
Variable add(const Variable& a, double s) {
  return make_result("add", ops::add(a.value(), s), {a}, {},
                     [](const Tensor& g, const BackwardContext&) -> std::vector<Tensor> { return {g}; });
}

// d(a-s)/da = 1
Variable sub(const Variable& a, double s) {
  return make_result("sub", ops::sub(a.value(), s), {a}, {},
                     [](const Tensor& g, const BackwardContext&) -> std::vector<Tensor> { return {g}; });
}

// d(s-a)/da = -1
Variable rsub(const Variable& a, double s) {
  return make_result("rsub", ops::rsub(a.value(), s), {a}, {},
                     [](const Tensor& g, const BackwardContext&) -> std::vector<Tensor> {
                       return {ops::neg(g)};
                     });
}

// d(a s)/da = s
Variable mul(const Variable& a, double s) {
  return make_result("mul", ops::mul(a.value(), s), {a}, {},
                     [s](const Tensor& g, const BackwardContext&) -> std::vector<Tensor> {
                       return {ops::mul(g, s)};
                     });
}

// d(a/s)/da = 1/s
Variable div(const Variable& a, double s) {
  return make_result("div", ops::div(a.value(), s), {a}, {},
                     [s](const Tensor& g, const BackwardContext&) -> std::vector<Tensor> {
                       return {ops::div(g, s)};
                     });
}

// y = s/a: dy/da = -s/a^2 = -y/a
Variable rdiv(const Variable& a, double s) {
  Tensor y = ops::div(Tensor::full({}, s, DType::f32, a.device()), a.value());
  return make_result("rdiv", y, {a}, {a.value(), y},
                     [](const Tensor& g, const BackwardContext& c) -> std::vector<Tensor> {
                       return {ops::neg(ops::div(ops::mul(g, c.saved(1)), c.saved(0)))};
                     });
}

// d(a^e)/da = e a^(e-1)
Variable pow(const Variable& a, double e) {
  return make_result("pow", ops::pow(a.value(), e), {a}, {a.value()},
                     [e](const Tensor& g, const BackwardContext& c) -> std::vector<Tensor> {
                       if (e == 0.0) return {ops::mul(g, 0.0)};
                       if (e == 1.0) return {g};
                       Tensor d = e == 2.0 ? ops::mul(c.saved(0), 2.0)
                                           : ops::mul(ops::pow(c.saved(0), e - 1.0), e);
                       return {ops::mul(g, d)};
                     });
}

// y = a + w(b - a): dy/da = 1 - w, dy/db = w
Variable lerp(const Variable& a, const Variable& b, double w) {
  Shape sa = a.shape(), sb = b.shape();
  return make_result("lerp", ops::lerp(a.value(), b.value(), w), {a, b}, {},
                     [sa, sb, w](const Tensor& g, const BackwardContext& c) -> std::vector<Tensor> {
                       Tensor ga = c.needs_grad(0) ? sum_to(ops::mul(g, 1.0 - w), sa) : Tensor();
                       Tensor gb = c.needs_grad(1) ? sum_to(ops::mul(g, w), sb) : Tensor();
                       return {ga, gb};
                     });
}

// y = a + w(b - a): dy/da = 1 - w, dy/db = w, dy/dw = b - a
Variable lerp(const Variable& a, const Variable& b, const Variable& w) {
  Shape sa = a.shape(), sb = b.shape(), sw = w.shape();
  return make_result(
      "lerp", ops::lerp(a.value(), b.value(), w.value()), {a, b, w},
      {a.value(), b.value(), w.value()},
      [sa, sb, sw](const Tensor& g, const BackwardContext& c) -> std::vector<Tensor> {
        const Tensor& wv = c.saved(2);
        Tensor ga = c.needs_grad(0) ? sum_to(ops::mul(g, ops::rsub(wv, 1.0)), sa) : Tensor();
        Tensor gb = c.needs_grad(1) ? sum_to(ops::mul(g, wv), sb) : Tensor();
        Tensor gw = c.needs_grad(2) ? sum_to(ops::mul(g, ops::sub(c.saved(1), c.saved(0))), sw)
                                    : Tensor();
        return {ga, gb, gw};
      });
}

// y = cond ? a : b: dy/da = [cond], dy/db = [!cond]
Variable where(const Tensor& cond, const Variable& a, const Variable& b) {
  Shape sa = a.shape(), sb = b.shape();
  return make_result(
      "where", ops::where(cond, a.value(), b.value()), {a, b}, {cond},
      [sa, sb](const Tensor& g, const BackwardContext& c) -> std::vector<Tensor> {
        Tensor z = zero_scalar(g.device());
        Tensor ga = c.needs_grad(0) ? sum_to(ops::where(c.saved(0), g, z), sa) : Tensor();
        Tensor gb = c.needs_grad(1) ? sum_to(ops::where(c.saved(0), z, g), sb) : Tensor();
        return {ga, gb};
      });
}

}  // namespace vq::ag

namespace vq {

Variable operator+(const Variable& a, const Variable& b) { return ag::add(a, b); }
Variable operator-(const Variable& a, const Variable& b) { return ag::sub(a, b); }
Variable operator*(const Variable& a, const Variable& b) { return ag::mul(a, b); }
Variable operator/(const Variable& a, const Variable& b) { return ag::div(a, b); }
Variable operator-(const Variable& a) { return ag::neg(a); }
Variable operator+(const Variable& a, double s) { return ag::add(a, s); }
Variable operator+(double s, const Variable& a) { return ag::add(a, s); }
Variable operator-(const Variable& a, double s) { return ag::sub(a, s); }
Variable operator-(double s, const Variable& a) { return ag::rsub(a, s); }
Variable operator*(const Variable& a, double s) { return ag::mul(a, s); }
Variable operator*(double s, const Variable& a) { return ag::mul(a, s); }
Variable operator/(const Variable& a, double s) { return ag::div(a, s); }
Variable operator/(double s, const Variable& a) { return ag::rdiv(a, s); }

}  // namespace vq
