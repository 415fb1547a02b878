// Reductions and softmax-family functions (see reductions.h).
#include "autograd/reductions.h"

#include "autograd/grad_utils.h"
#include "autograd/node.h"
#include "kernels/ops.h"

namespace vq::ag {

using autograd::reduced_count;
using autograd::unreduce;
using Grads = std::vector<Tensor>;

// d sum(x)/dx_i = 1: the gradient is broadcast back over the reduced dims
Variable sum(const Variable& x, const std::vector<int64_t>& dims, bool keepdim) {
  Shape s = x.shape();
  return make_result("sum", ops::sum(x.value(), dims, keepdim), {x}, {},
                     [s, dims, keepdim](const Tensor& g, const BackwardContext&) -> Grads {
                       return {unreduce(g, s, dims, keepdim)};
                     });
}

// d mean(x)/dx_i = 1/n
Variable mean(const Variable& x, const std::vector<int64_t>& dims, bool keepdim) {
  Shape s = x.shape();
  double n = static_cast<double>(reduced_count(s, dims));
  return make_result("mean", ops::mean(x.value(), dims, keepdim), {x}, {},
                     [s, dims, keepdim, n](const Tensor& g, const BackwardContext&) -> Grads {
                       return {unreduce(ops::div(g, n), s, dims, keepdim)};
                     });
}

// var = sum((x - m)^2) / (n - u), u = 1 if unbiased: d var/dx_i = 2 (x_i - m) / (n - u)
// (the terms through m cancel since sum(x - m) = 0)
Variable var(const Variable& x, const std::vector<int64_t>& dims, bool unbiased, bool keepdim) {
  Shape s = x.shape();
  double n = static_cast<double>(reduced_count(s, dims));
  double denom = n - (unbiased ? 1.0 : 0.0);
  return make_result("var", ops::var(x.value(), dims, unbiased, keepdim), {x}, {x.value()},
                     [s, dims, keepdim, denom](const Tensor& g, const BackwardContext& c) -> Grads {
                       const Tensor& xv = c.saved(0);
                       Tensor centered = ops::sub(xv, ops::mean(xv, dims, true));
                       Tensor gx = unreduce(ops::mul(g, 2.0 / denom), s, dims, keepdim);
                       return {ops::mul(gx, centered)};
                     });
}

// p = 2: d|x|/dx = x / |x| (0 where |x| = 0); p = 1: d|x|_1/dx = sign(x)
Variable norm(const Variable& x, const std::vector<int64_t>& dims, double p, bool keepdim) {
  Shape s = x.shape();
  Tensor y = ops::norm(x.value(), dims, p, keepdim);
  return make_result(
      "norm", y, {x}, {x.value(), y},
      [s, dims, keepdim, p](const Tensor& g, const BackwardContext& c) -> Grads {
        const Tensor &xv = c.saved(0), &yv = c.saved(1);
        if (p == 1.0) return {ops::mul(unreduce(g, s, dims, keepdim), ops::sign(xv))};
        // general p: d|x|_p/dx = x |x|^(p-2) / |x|_p^(p-1)
        Tensor scale = ops::div(g, p == 2.0 ? yv : ops::pow(yv, p - 1.0));
        scale = ops::masked_fill(scale, ops::eq(yv, 0.0), 0.0);
        Tensor dir = p == 2.0 ? xv : ops::mul(xv, ops::pow(ops::abs(xv), p - 2.0));
        return {ops::mul(unreduce(scale, s, dims, keepdim), dir)};
      });
}

namespace {
// Gradient of a selection along dim: g scattered to the chosen indices, zeros elsewhere.
Tensor scatter_to(const Tensor& g, const Shape& in_shape, int64_t dim, const Tensor& idx, bool keepdim) {
  Tensor gk = keepdim ? g : g.unsqueeze(dim);
  Tensor ik = keepdim ? idx : idx.unsqueeze(dim);
  Tensor z = Tensor::zeros(in_shape, g.dtype(), g.device());
  return ops::scatter_add(z, dim, ik, gk.contiguous());
}

std::pair<Variable, Tensor> select_extremum(const char* name, bool is_max, const Variable& x,
                                            int64_t dim, bool keepdim) {
  auto [vals, idx] = is_max ? ops::max(x.value(), dim, keepdim) : ops::min(x.value(), dim, keepdim);
  Shape s = x.shape();
  int64_t d = wrap_dim(dim, x.dim(), name);
  // d max/dx_i = [i == argmax]
  Variable v = make_result(name, vals, {x}, {idx},
                           [s, d, keepdim](const Tensor& g, const BackwardContext& c) -> Grads {
                             return {scatter_to(g, s, d, c.saved(0), keepdim)};
                           });
  return {v, idx};
}

// d amax(x)/dx_i = [x_i == amax] / (number of ties)
Variable all_extremum(const char* name, bool is_max, const Variable& x) {
  Tensor y = is_max ? ops::amax(x.value()) : ops::amin(x.value());
  return make_result(name, y, {x}, {x.value(), y}, [](const Tensor& g, const BackwardContext& c) -> Grads {
    Tensor hit = ops::eq(c.saved(0), c.saved(1)).to(DType::f32);
    Tensor share = ops::div(g, ops::sum(hit));
    return {ops::mul(hit, share)};
  });
}
}  // namespace

std::pair<Variable, Tensor> max(const Variable& x, int64_t dim, bool keepdim) {
  return select_extremum("max", true, x, dim, keepdim);
}
std::pair<Variable, Tensor> min(const Variable& x, int64_t dim, bool keepdim) {
  return select_extremum("min", false, x, dim, keepdim);
}
Variable amax(const Variable& x) { return all_extremum("amax", true, x); }
Variable amin(const Variable& x) { return all_extremum("amin", false, x); }

// y = log sum_j exp(x_j): dy/dx_i = exp(x_i - y) = softmax(x)_i
Variable logsumexp(const Variable& x, int64_t dim, bool keepdim) {
  Shape s = x.shape();
  Tensor y = ops::logsumexp(x.value(), dim, keepdim);
  int64_t d = wrap_dim(dim, x.dim(), "logsumexp");
  return make_result("logsumexp", y, {x}, {x.value(), y},
                     [s, d, keepdim](const Tensor& g, const BackwardContext& c) -> Grads {
                       Tensor yk = unreduce(c.saved(1), s, {d}, keepdim);
                       Tensor p = ops::exp(ops::sub(c.saved(0), yk));
                       return {ops::mul(unreduce(g, s, {d}, keepdim), p)};
                     });
}

// y = softmax(x): dL/dx = y * (g - sum_j g_j y_j)
Variable softmax(const Variable& x, int64_t dim) {
  Tensor y = ops::softmax(x.value(), dim);
  int64_t d = wrap_dim(dim, x.dim(), "softmax");
  return make_result("softmax", y, {x}, {y}, [d](const Tensor& g, const BackwardContext& c) -> Grads {
    const Tensor& yv = c.saved(0);
    Tensor dot = ops::sum(ops::mul(g, yv), {d}, true);
    return {ops::mul(yv, ops::sub(g, dot))};
  });
}

// y = log_softmax(x): dL/dx = g - exp(y) * sum_j g_j
Variable log_softmax(const Variable& x, int64_t dim) {
  Tensor y = ops::log_softmax(x.value(), dim);
  int64_t d = wrap_dim(dim, x.dim(), "log_softmax");
  return make_result("log_softmax", y, {x}, {y}, [d](const Tensor& g, const BackwardContext& c) -> Grads {
    return {ops::sub(g, ops::mul(ops::exp(c.saved(0)), ops::sum(g, {d}, true)))};
  });
}

}  // namespace vq::ag
