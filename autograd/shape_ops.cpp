// Shape functions (see shape_ops.h). A view's gradient is the inverse view of the
// output gradient, or the gradient written into zeros of the input shape.
#include "autograd/shape_ops.h"

#include <algorithm>

#include "autograd/grad_utils.h"
#include "autograd/node.h"
#include "kernels/ops.h"

namespace vq::ag {

using autograd::embed_in_zeros;
using autograd::sum_to;
using Grads = std::vector<Tensor>;

namespace {
// A one-input op whose backward is fn(g).
template <typename F>
Variable one(const char* name, Tensor y, const Variable& x, F fn) {
  return make_result(name, std::move(y), {x}, {},
                     [fn](const Tensor& g, const BackwardContext&) -> Grads { return {fn(g)}; });
}
}  // namespace

// Reshapes move no values: dx = reshape(g, x.shape)
Variable reshape(const Variable& x, const Shape& shape) {
  Shape s = x.shape();
  return one("reshape", x.value().reshape(shape), x, [s](const Tensor& g) { return g.reshape(s); });
}
Variable view(const Variable& x, const Shape& shape) {
  Shape s = x.shape();
  return one("view", x.value().view(shape), x, [s](const Tensor& g) { return g.reshape(s); });
}
Variable flatten(const Variable& x, int64_t start, int64_t end) {
  Shape s = x.shape();
  return one("flatten", x.value().flatten(start, end), x, [s](const Tensor& g) { return g.reshape(s); });
}

// y = permute(x, p): dx = permute(g, p^-1)
Variable permute(const Variable& x, const std::vector<int64_t>& dims) {
  Tensor y = x.value().permute(dims);
  std::vector<int64_t> inv(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) inv[wrap_dim(dims[i], x.dim(), "permute")] = static_cast<int64_t>(i);
  return one("permute", y, x, [inv](const Tensor& g) { return g.permute(inv); });
}

// transpose is its own inverse: dx = transpose(g, a, b)
Variable transpose(const Variable& x, int64_t a, int64_t b) {
  return one("transpose", x.value().transpose(a, b), x, [a, b](const Tensor& g) { return g.transpose(a, b); });
}

// y = x[range]: dx = g in that range, 0 elsewhere
Variable narrow(const Variable& x, int64_t dim, int64_t start, int64_t length) {
  Shape s = x.shape();
  return one("narrow", x.value().narrow(dim, start, length), x, [=](const Tensor& g) {
    return embed_in_zeros(s, g, [&](const Tensor& z) { return z.narrow(dim, start, length); });
  });
}
Variable slice(const Variable& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  Shape s = x.shape();
  return one("slice", x.value().slice(dim, start, end, step), x, [=](const Tensor& g) {
    return embed_in_zeros(s, g, [&](const Tensor& z) { return z.slice(dim, start, end, step); });
  });
}
Variable select(const Variable& x, int64_t dim, int64_t index) {
  Shape s = x.shape();
  return one("select", x.value().select(dim, index), x, [=](const Tensor& g) {
    return embed_in_zeros(s, g, [&](const Tensor& z) { return z.select(dim, index); });
  });
}

// Size-1 dims carry no values: dx = reshape(g, x.shape)
Variable unsqueeze(const Variable& x, int64_t dim) {
  Shape s = x.shape();
  return one("unsqueeze", x.value().unsqueeze(dim), x, [s](const Tensor& g) { return g.reshape(s); });
}
Variable squeeze(const Variable& x, int64_t dim) {
  Shape s = x.shape();
  return one("squeeze", x.value().squeeze(dim), x, [s](const Tensor& g) { return g.reshape(s); });
}
Variable squeeze(const Variable& x) {
  Shape s = x.shape();
  return one("squeeze", x.value().squeeze(), x, [s](const Tensor& g) { return g.reshape(s); });
}

// y = broadcast(x): dx = sum of g over the broadcast dims
Variable expand(const Variable& x, const Shape& shape) {
  Shape s = x.shape();
  return one("expand", x.value().expand(shape), x, [s](const Tensor& g) { return sum_to(g, s); });
}

// Identity on values: dx = g
Variable contiguous(const Variable& x) {
  return one("contiguous", x.value().contiguous(), x, [](const Tensor& g) { return g; });
}

// Identity on values across devices: dx = g moved back to x's device
Variable to(const Variable& x, Device device) {
  Device src = x.device();
  return one("to", x.value().to(device), x, [src](const Tensor& g) { return g.to(src); });
}

Variable detach(const Variable& x) { return x.detach(); }

// y = [x_0; x_1; ...] along dim: dx_i = g narrowed to x_i's range
Variable cat(const std::vector<Variable>& xs, int64_t dim) {
  std::vector<Tensor> vals;
  for (const Variable& v : xs) vals.push_back(v.value());
  Tensor y = ops::cat(vals, dim);
  int64_t d = wrap_dim(dim, y.dim(), "cat");
  std::vector<int64_t> sizes;
  for (const Tensor& t : vals) sizes.push_back(t.size(d));
  return make_result("cat", y, xs, {}, [d, sizes](const Tensor& g, const BackwardContext&) -> Grads {
    Grads out;
    int64_t off = 0;
    for (int64_t n : sizes) {
      out.push_back(g.narrow(d, off, n));
      off += n;
    }
    return out;
  });
}

// y = stack(x_i) along a new dim: dx_i = g selected at i
Variable stack(const std::vector<Variable>& xs, int64_t dim) {
  std::vector<Tensor> vals;
  for (const Variable& v : xs) vals.push_back(v.value());
  Tensor y = ops::stack(vals, dim);
  int64_t d = wrap_dim(dim, y.dim(), "stack");
  size_t n = xs.size();
  return make_result("stack", y, xs, {}, [d, n](const Tensor& g, const BackwardContext&) -> Grads {
    Grads out;
    for (size_t i = 0; i < n; ++i) out.push_back(g.select(d, static_cast<int64_t>(i)));
    return out;
  });
}

namespace {
// One Variable per piece of x along dim; piece i's gradient fills its range of x.
std::vector<Variable> pieces_of(const char* name, const Variable& x, std::vector<Tensor> parts, int64_t dim) {
  std::vector<Variable> out;
  Shape s = x.shape();
  int64_t d = wrap_dim(dim, x.dim(), name);
  int64_t off = 0;
  for (Tensor& p : parts) {
    int64_t len = p.size(d);
    out.push_back(one(name, std::move(p), x, [s, d, off, len](const Tensor& g) {
      return embed_in_zeros(s, g, [&](const Tensor& z) { return z.narrow(d, off, len); });
    }));
    off += len;
  }
  return out;
}
}  // namespace

std::vector<Variable> split(const Variable& x, int64_t split_size, int64_t dim) {
  return pieces_of("split", x, ops::split(x.value(), split_size, dim), dim);
}
std::vector<Variable> split_sizes(const Variable& x, const std::vector<int64_t>& sizes, int64_t dim) {
  return pieces_of("split_sizes", x, ops::split_sizes(x.value(), sizes, dim), dim);
}
std::vector<Variable> chunk(const Variable& x, int64_t chunks, int64_t dim) {
  return pieces_of("chunk", x, ops::chunk(x.value(), chunks, dim), dim);
}

// y = x placed at offset `before` in each padded dim (cropped where pads < 0):
// dx = g over the surviving region of x, 0 on the cropped part of x
Variable pad(const Variable& x, const std::vector<int64_t>& pads, double value) {
  Tensor y = ops::pad(x.value(), pads, value);
  Shape s = x.shape();
  return one("pad", y, x, [s, pads](const Tensor& g) {
    int64_t nd = static_cast<int64_t>(s.size());
    Tensor part = g;
    bool whole = true;
    std::vector<std::pair<int64_t, int64_t>> keep(nd, {0, 0});  // [start, len) in x coords
    for (int64_t d = 0; d < nd; ++d) keep[d] = {0, s[d]};
    for (size_t k = 0; 2 * k < pads.size(); ++k) {
      int64_t d = nd - 1 - static_cast<int64_t>(k);
      int64_t before = pads[2 * k], after = pads[2 * k + 1];
      int64_t lo = std::max<int64_t>(0, -before), hi = s[d] - std::max<int64_t>(0, -after);
      keep[d] = {lo, std::max<int64_t>(0, hi - lo)};
      part = part.narrow(d, lo + before, keep[d].second);
      if (keep[d].second != s[d]) whole = false;
    }
    if (whole) return part;
    return embed_in_zeros(s, part, [&](Tensor z) {
      for (int64_t d = 0; d < nd; ++d) z = z.narrow(d, keep[d].first, keep[d].second);
      return z;
    });
  });
}

}  // namespace vq::ag
