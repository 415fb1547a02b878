// Unary elementwise functions and activations (see unary.h). Backward composes
// ops:: calls; fused backward kernels can replace them later.
#include "autograd/unary.h"

#include <cmath>

#include "autograd/node.h"
#include "kernels/ops.h"

namespace vq::ag {

namespace {
using Grads = std::vector<Tensor>;
// Records a one-input op whose backward is g * dfn(saved...).
template <typename F>
Variable unary(const char* name, Tensor y, const Variable& x, std::vector<Tensor> saved, F dfn) {
  return make_result(name, std::move(y), {x}, std::move(saved),
                     [dfn](const Tensor& g, const BackwardContext& c) -> Grads { return {dfn(g, c)}; });
}
}  // namespace

// d(-x)/dx = -1
Variable neg(const Variable& x) {
  return unary("neg", ops::neg(x.value()), x, {},
               [](const Tensor& g, const BackwardContext&) { return ops::neg(g); });
}

// d|x|/dx = sign(x)
Variable abs(const Variable& x) {
  return unary("abs", ops::abs(x.value()), x, {x.value()},
               [](const Tensor& g, const BackwardContext& c) { return ops::mul(g, ops::sign(c.saved(0))); });
}

// d exp(x)/dx = exp(x) = y
Variable exp(const Variable& x) {
  Tensor y = ops::exp(x.value());
  return unary("exp", y, x, {y},
               [](const Tensor& g, const BackwardContext& c) { return ops::mul(g, c.saved(0)); });
}

// d log(x)/dx = 1/x
Variable log(const Variable& x) {
  return unary("log", ops::log(x.value()), x, {x.value()},
               [](const Tensor& g, const BackwardContext& c) { return ops::div(g, c.saved(0)); });
}

// d sqrt(x)/dx = 1 / (2 sqrt(x)) = 0.5 / y
Variable sqrt(const Variable& x) {
  Tensor y = ops::sqrt(x.value());
  return unary("sqrt", y, x, {y}, [](const Tensor& g, const BackwardContext& c) {
    return ops::div(ops::mul(g, 0.5), c.saved(0));
  });
}

// y = x^(-1/2): dy/dx = -x^(-3/2) / 2 = -y^3 / 2
Variable rsqrt(const Variable& x) {
  Tensor y = ops::rsqrt(x.value());
  return unary("rsqrt", y, x, {y}, [](const Tensor& g, const BackwardContext& c) {
    return ops::mul(g, ops::mul(ops::pow(c.saved(0), 3.0), -0.5));
  });
}

// d tanh(x)/dx = 1 - y^2
Variable tanh(const Variable& x) {
  Tensor y = ops::tanh(x.value());
  return unary("tanh", y, x, {y}, [](const Tensor& g, const BackwardContext& c) {
    return ops::mul(g, ops::rsub(ops::mul(c.saved(0), c.saved(0)), 1.0));
  });
}

// d sigmoid(x)/dx = y (1 - y)
Variable sigmoid(const Variable& x) {
  Tensor y = ops::sigmoid(x.value());
  return unary("sigmoid", y, x, {y}, [](const Tensor& g, const BackwardContext& c) {
    return ops::mul(g, ops::mul(c.saved(0), ops::rsub(c.saved(0), 1.0)));
  });
}

// d relu(x)/dx = [x > 0]
Variable relu(const Variable& x) {
  Tensor y = ops::relu(x.value());
  return unary("relu", y, x, {y}, [](const Tensor& g, const BackwardContext& c) {
    return ops::masked_fill(g, ops::le(c.saved(0), 0.0), 0.0);
  });
}

// erf form: y = x Phi(x), dy/dx = Phi(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi),
//   one fused op (ops::gelu_backward).
// tanh form: y = x (1 + t) / 2, t = tanh(u), u = c (x + k x^3), c = sqrt(2/pi), k = 0.044715:
//   dy/dx = (1 + t) / 2 + x (1 - t^2) c (1 + 3 k x^2) / 2
Variable gelu(const Variable& x, bool tanh_approx) {
  Tensor y = ops::gelu(x.value(), tanh_approx);
  if (tanh_approx) {
    return unary("gelu", y, x, {x.value()}, [](const Tensor& g, const BackwardContext& c) {
      const double kc = std::sqrt(2.0 / M_PI), kk = 0.044715;
      const Tensor& xv = c.saved(0);
      Tensor x2 = ops::mul(xv, xv);
      Tensor t = ops::tanh(ops::mul(ops::mul(xv, ops::add(ops::mul(x2, kk), 1.0)), kc));
      Tensor left = ops::mul(ops::add(t, 1.0), 0.5);
      Tensor sech2 = ops::rsub(ops::mul(t, t), 1.0);
      Tensor right = ops::mul(ops::mul(ops::mul(xv, sech2), ops::add(ops::mul(x2, 3.0 * kk), 1.0)), 0.5 * kc);
      return ops::mul(g, ops::add(left, right));
    });
  }
  return unary("gelu", y, x, {x.value()}, [](const Tensor& g, const BackwardContext& c) {
    return ops::gelu_backward(g, c.saved(0));
  });
}

// y = x s, s = sigmoid(x): dy/dx = s (1 + x (1 - s))
Variable silu(const Variable& x) {
  return unary("silu", ops::silu(x.value()), x, {x.value()}, [](const Tensor& g, const BackwardContext& c) {
    const Tensor& xv = c.saved(0);
    Tensor s = ops::sigmoid(xv);
    return ops::mul(g, ops::mul(s, ops::add(ops::mul(xv, ops::rsub(s, 1.0)), 1.0)));
  });
}

// y = log(1 + exp(b x)) / b: dy/dx = sigmoid(b x); 1 where b x > threshold
Variable softplus(const Variable& x, double beta, double threshold) {
  return unary("softplus", ops::softplus(x.value(), beta, threshold), x, {x.value()},
               [beta, threshold](const Tensor& g, const BackwardContext& c) {
                 Tensor bx = ops::mul(c.saved(0), beta);
                 Tensor d = ops::masked_fill(ops::sigmoid(bx), ops::gt(bx, threshold), 1.0);
                 return ops::mul(g, d);
               });
}

// d clamp(x, lo, hi)/dx = [lo <= x <= hi]
Variable clamp(const Variable& x, std::optional<double> lo, std::optional<double> hi) {
  return unary("clamp", ops::clamp(x.value(), lo, hi), x, {x.value()},
               [lo, hi](const Tensor& g, const BackwardContext& c) {
                 Tensor d = g;
                 if (lo) d = ops::masked_fill(d, ops::lt(c.saved(0), *lo), 0.0);
                 if (hi) d = ops::masked_fill(d, ops::gt(c.saved(0), *hi), 0.0);
                 return d;
               });
}

// Piecewise constant: d/dx = 0 (the jumps included).
Variable sign(const Variable& x) {
  return unary("sign", ops::sign(x.value()), x, {},
               [](const Tensor& g, const BackwardContext&) { return Tensor::zeros(g.shape(), g.dtype(), g.device()); });
}
Variable round(const Variable& x) {
  return unary("round", ops::round(x.value()), x, {},
               [](const Tensor& g, const BackwardContext&) { return Tensor::zeros(g.shape(), g.dtype(), g.device()); });
}
Variable floor(const Variable& x) {
  return unary("floor", ops::floor(x.value()), x, {},
               [](const Tensor& g, const BackwardContext&) { return Tensor::zeros(g.shape(), g.dtype(), g.device()); });
}

}  // namespace vq::ag
