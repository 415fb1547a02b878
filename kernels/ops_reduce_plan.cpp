// Reduction planning shared by the reduction ops (see ops_reduce_plan.h).
#include "kernels/ops_reduce_plan.h"

#include <ostream>

#include "core/error.h"

namespace vq::ops::detail {

namespace {

int64_t prod(const Shape& s, size_t lo, size_t hi) {
  int64_t n = 1;
  for (size_t i = lo; i < hi; ++i) n *= s[i];
  return n;
}

}  // namespace

ReducePlan plan_reduce(const char* op, const Tensor& x, const std::vector<int64_t>& dims,
                       bool keepdim) {
  const Shape& shape = x.shape();
  const size_t nd = shape.size();
  std::vector<bool> red(nd, dims.empty());
  for (int64_t d : dims) {
    const int64_t n = nd == 0 ? 1 : static_cast<int64_t>(nd);
    VQ_CHECK(ShapeError, d >= -n && d < n, op, ": dim ", d, " out of range for x=",
                      ShapeText{&shape}, " (dims=", DimsText{&dims}, ")");
    if (nd == 0) continue;  // a scalar reduces over "dim 0" trivially
    const size_t w = static_cast<size_t>(d < 0 ? d + n : d);
    VQ_CHECK(ShapeError, !red[w], op, ": dim ", w, " repeated in dims=", DimsText{&dims},
                      " for x=", ShapeText{&shape});
    red[w] = true;
  }
  ReducePlan p;
  std::vector<int64_t> kept, reduced;
  for (size_t i = 0; i < nd; ++i) {
    if (red[i]) {
      reduced.push_back(static_cast<int64_t>(i));
      if (keepdim) p.out_shape.push_back(1);
    } else {
      kept.push_back(static_cast<int64_t>(i));
      p.out_shape.push_back(shape[i]);
    }
  }
  if (reduced.empty()) {  // nothing reduced (scalar input, or no dims of a rank-0 view)
    p.src = x.contiguous();
    p.outer = x.numel();
    return p;
  }
  // Do the reduced dims form one range (size-1 kept dims inside it do not matter)?
  const size_t lo = static_cast<size_t>(reduced.front()), hi = static_cast<size_t>(reduced.back());
  bool range = true;
  for (size_t i = lo; i <= hi; ++i) range = range && (red[i] || shape[i] == 1);
  if (range && x.is_contiguous()) {
    p.src = x;
    p.outer = prod(shape, 0, lo);
    p.R = prod(shape, lo, hi + 1);
    p.inner = prod(shape, hi + 1, nd);
    return p;
  }
  std::vector<int64_t> perm = kept;
  perm.insert(perm.end(), reduced.begin(), reduced.end());
  const Tensor xp = x.permute(perm);
  if (!xp.is_contiguous() && range) {  // one copy, then reduce the range in place
    p.src = x.contiguous();
    p.outer = prod(shape, 0, lo);
    p.R = prod(shape, lo, hi + 1);
    p.inner = prod(shape, hi + 1, nd);
    return p;
  }
  p.src = xp.contiguous();
  p.outer = 1;
  for (int64_t k : kept) p.outer *= shape[static_cast<size_t>(k)];
  p.R = 1;
  for (int64_t r : reduced) p.R *= shape[static_cast<size_t>(r)];
  p.inner = 1;
  return p;
}

ReducePlan plan_dim(const char* op, const Tensor& x, int64_t dim, bool keepdim) {
  const Shape& shape = x.shape();
  const size_t nd = shape.size();
  const int64_t n = nd == 0 ? 1 : static_cast<int64_t>(nd);
  VQ_CHECK(ShapeError, dim >= -n && dim < n, op, ": dim ", dim, " out of range for x=",
                    ShapeText{&shape});
  ReducePlan p;
  p.src = x.contiguous();
  if (nd == 0) return p;
  const size_t d = static_cast<size_t>(dim < 0 ? dim + n : dim);
  p.outer = prod(shape, 0, d);
  p.R = shape[d];
  p.inner = prod(shape, d + 1, nd);
  for (size_t i = 0; i < nd; ++i) {
    if (i != d) {
      p.out_shape.push_back(shape[i]);
    } else if (keepdim) {
      p.out_shape.push_back(1);
    }
  }
  return p;
}

std::ostream& operator<<(std::ostream& os, const ShapeText& t) { return os << shape_str(*t.s); }

std::ostream& operator<<(std::ostream& os, const DimsText& t) {
  os << "[";
  for (size_t i = 0; i < t.d->size(); ++i) os << (i ? ", " : "") << (*t.d)[i];
  return os << "]";
}

void no_cuda(const char* op, const Tensor& x) {
  throw DeviceError(str_cat(op, ": this build has no CUDA support (x=", x.str(), ")"));
}

}  // namespace vq::ops::detail
