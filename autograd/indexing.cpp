// Indexing functions (see indexing.h). Gathers scatter their gradient back and
// scatters gather it, always through the deterministic ops:: kernels.
#include "autograd/indexing.h"

#include "autograd/grad_utils.h"
#include "autograd/node.h"
#include "kernels/ops.h"

namespace vq::ag {

using Grads = std::vector<Tensor>;

namespace {
Tensor zeros_of(const Shape& s, const Tensor& like) {
  return Tensor::zeros(s, like.dtype(), like.device());
}
// Gradient of "out = x gathered at idx along d": zeros of x's shape + g scattered at idx.
Tensor scatter_back(const Tensor& g, const Shape& in_shape, int64_t d, const Tensor& idx) {
  return ops::scatter_add(zeros_of(in_shape, g), d, idx, g.contiguous());
}
// t reversed along d.
Tensor flip(const Tensor& t, int64_t d) {
  int64_t n = t.size(d);
  Tensor rev = Tensor::arange(static_cast<double>(n - 1), -1.0, -1.0, DType::i64, t.device());
  return ops::index_select(t, d, rev);
}
}  // namespace

// out[..i..] = x[..index[..i..]..]: dx = scatter_add(0, dim, index, g)
Variable gather(const Variable& x, int64_t dim, const Tensor& index) {
  Tensor y = ops::gather(x.value(), dim, index);
  Shape s = x.shape();
  int64_t d = wrap_dim(dim, x.dim(), "gather");
  return make_result("gather", y, {x}, {index}, [s, d](const Tensor& g, const BackwardContext& c) -> Grads {
    return {scatter_back(g, s, d, c.saved(0))};
  });
}

// out = x[index] along dim: dx = index_add(0, dim, index, g)
Variable index_select(const Variable& x, int64_t dim, const Tensor& index) {
  Tensor y = ops::index_select(x.value(), dim, index);
  Shape s = x.shape();
  int64_t d = wrap_dim(dim, x.dim(), "index_select");
  return make_result("index_select", y, {x}, {index},
                     [s, d](const Tensor& g, const BackwardContext& c) -> Grads {
                       return {ops::index_add(zeros_of(s, g), d, c.saved(0), g)};
                     });
}

// out = base; out[..index[..j..]..] += src[..j..]: dbase = g, dsrc = gather(g, dim, index)
// (index may be smaller than src: the rest of src does not reach out, gradient 0)
Variable scatter_add(const Variable& base, int64_t dim, const Tensor& index, const Variable& src) {
  Tensor y = ops::scatter_add(base.value(), dim, index, src.value());
  Shape ss = src.shape();
  int64_t d = wrap_dim(dim, base.dim(), "scatter_add");
  return make_result(
      "scatter_add", y, {base, src}, {index},
      [ss, d](const Tensor& g, const BackwardContext& c) -> Grads {
        Tensor gs;
        if (c.needs_grad(1)) {
          gs = ops::gather(g, d, c.saved(0));
          if (gs.shape() != ss) {
            Tensor part = gs;
            gs = autograd::embed_in_zeros(ss, part, [&part](Tensor z) {
              for (int64_t i = 0; i < part.dim(); ++i) z = z.narrow(i, 0, part.size(i));
              return z;
            });
          }
        }
        return {g, gs};
      });
}

// out = x; out[index] += alpha src along dim: dx = g, dsrc = alpha g[index]
Variable index_add(const Variable& x, int64_t dim, const Tensor& index, const Variable& src, double alpha) {
  Tensor y = ops::index_add(x.value(), dim, index, src.value(), alpha);
  int64_t d = wrap_dim(dim, x.dim(), "index_add");
  return make_result("index_add", y, {x, src}, {index},
                     [d, alpha](const Tensor& g, const BackwardContext& c) -> Grads {
                       Tensor gs;
                       if (c.needs_grad(1)) gs = ops::mul(ops::index_select(g, d, c.saved(0)), alpha);
                       return {g, gs};
                     });
}

// out = mask ? value : x: dx = g where !mask, 0 where mask
Variable masked_fill(const Variable& x, const Tensor& mask, double value) {
  return make_result("masked_fill", ops::masked_fill(x.value(), mask, value), {x}, {mask},
                     [](const Tensor& g, const BackwardContext& c) -> Grads {
                       return {ops::masked_fill(g, c.saved(0), 0.0)};
                     });
}

// out_i = sum_{j <= i} x_j: dx_j = sum_{i >= j} g_i = flip(cumsum(flip(g)))
Variable cumsum(const Variable& x, int64_t dim) {
  Tensor y = ops::cumsum(x.value(), dim);
  int64_t d = wrap_dim(dim, x.dim(), "cumsum");
  return make_result("cumsum", y, {x}, {}, [d](const Tensor& g, const BackwardContext&) -> Grads {
    return {flip(ops::cumsum(flip(g, d), d), d)};
  });
}

namespace {
// Values picked along d at idx: dx = scatter_add(0, d, idx, g)
std::pair<Variable, Tensor> picked(const char* name, const Variable& x, int64_t dim, Tensor vals, Tensor idx) {
  Shape s = x.shape();
  int64_t d = wrap_dim(dim, x.dim(), name);
  Variable v = make_result(name, std::move(vals), {x}, {idx},
                           [s, d](const Tensor& g, const BackwardContext& c) -> Grads {
                             return {scatter_back(g, s, d, c.saved(0))};
                           });
  return {v, idx};
}
}  // namespace

std::pair<Variable, Tensor> topk(const Variable& x, int64_t k, int64_t dim, bool largest) {
  auto [vals, idx] = ops::topk(x.value(), k, dim, largest);
  return picked("topk", x, dim, vals, idx);
}

std::pair<Variable, Tensor> sort(const Variable& x, int64_t dim, bool descending) {
  auto [vals, idx] = ops::sort(x.value(), dim, descending);
  return picked("sort", x, dim, vals, idx);
}

}  // namespace vq::ag
