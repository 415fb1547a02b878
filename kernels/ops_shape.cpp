// Tensor-level shape ops (declared in kernels/ops.h): cat and stack copy each input as
// rows of a 2-D block (memcpy on CPU, cudaMemcpy2DAsync on CUDA); split, split_sizes and
// chunk return narrow() views; pad fills the output and copies the kept region.
#include <cstring>

#include "kernels/ops.h"
#include "kernels/ops_check.h"
#ifdef VQ_WITH_CUDA
#include "kernels/cuda/shape.h"
#endif

namespace vq::ops {

namespace {

std::string shape_list(const std::vector<Tensor>& xs) {
  std::string s;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (i) s += ", ";
    s += xs[i].defined() ? shape_str(xs[i].shape()) : "undefined";
  }
  return s;
}

// Copies `rows` rows of `width` bytes from src (pitch spitch) to dst (pitch dpitch).
void copy_rows(const Tensor& out, void* dst, size_t dpitch, const void* src, size_t spitch,
               size_t width, int64_t rows) {
  if (out.device().is_cpu()) {
    auto* d = static_cast<unsigned char*>(dst);
    const auto* s = static_cast<const unsigned char*>(src);
#pragma omp parallel for if (static_cast <size_t>(rows) * width > (1u << 20))
    for (int64_t r = 0; r < rows; ++r) std::memcpy(d + r * dpitch, s + r * spitch, width);
    return;
  }
#ifdef VQ_WITH_CUDA
  cuda::copy_rows(dst, dpitch, src, spitch, width, static_cast<size_t>(rows), out.device().index);
#else
  throw DeviceError("cat: this build has no CUDA support");
#endif
}

}  // namespace

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  const char* op = "cat";
  VQ_CHECK(ShapeError, !xs.empty(), op, ": expected a non-empty list of tensors");
  const Tensor& x0 = xs[0];
  for (size_t i = 0; i < xs.size(); ++i) {
    check(xs[i].defined(), op, ": tensor ", i, " is undefined");
    VQ_CHECK(DeviceError, xs[i].device() == x0.device(), op,
                       ": tensors on different devices: ", x0.str(), " and ", xs[i].str());
    VQ_CHECK(DTypeError, xs[i].dtype() == x0.dtype(), op,
                      ": tensors have different dtypes: ", x0.str(), " and ", xs[i].str());
    VQ_CHECK(ShapeError, xs[i].dim() > 0, op, ": zero-dimensional tensor ", i,
                      " cannot be concatenated (shapes ", shape_list(xs), ")");
  }
  const int64_t d = wrap_dim(dim, x0.dim(), op);
  Shape shape = x0.shape();
  shape[d] = 0;
  for (const Tensor& x : xs) {
    bool ok = x.dim() == x0.dim();
    for (int64_t k = 0; ok && k < x0.dim(); ++k) ok = (k == d) || x.size(k) == x0.size(k);
    VQ_CHECK(ShapeError, ok, op, ": shapes ", shape_list(xs), " must match except in dim ", d);
    shape[d] += x.size(d);
  }
  Tensor out = Tensor::empty(shape, x0.dtype(), x0.device());
  if (out.numel() == 0) return out;
  int64_t rows = 1, inner = 1;
  for (int64_t k = 0; k < d; ++k) rows *= shape[k];
  for (int64_t k = d + 1; k < x0.dim(); ++k) inner *= shape[k];
  const size_t elem = dtype_size(x0.dtype());
  const size_t dpitch = static_cast<size_t>(shape[d] * inner) * elem;
  size_t col = 0;
  for (const Tensor& x : xs) {
    const size_t width = static_cast<size_t>(x.size(d) * inner) * elem;
    if (width > 0) {
      Tensor xc = x.contiguous();
      copy_rows(out, static_cast<unsigned char*>(out.raw_data()) + col, dpitch, xc.raw_data(),
                width, width, rows);
    }
    col += width;
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  const char* op = "stack";
  VQ_CHECK(ShapeError, !xs.empty(), op, ": expected a non-empty list of tensors");
  for (size_t i = 0; i < xs.size(); ++i) {
    check(xs[i].defined(), op, ": tensor ", i, " is undefined");
    VQ_CHECK(ShapeError, xs[i].shape() == xs[0].shape(), op,
                      ": all tensors must have the same shape, got ", shape_list(xs));
  }
  const int64_t d = wrap_dim(dim, xs[0].dim() + 1, op);
  std::vector<Tensor> u;
  u.reserve(xs.size());
  for (const Tensor& x : xs) u.push_back(x.unsqueeze(d));
  return cat(u, d);
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  const char* op = "split";
  check(x.defined(), op, ": undefined tensor argument");
  VQ_CHECK(ShapeError, x.dim() > 0, op, ": cannot split a zero-dimensional tensor");
  const int64_t d = wrap_dim(dim, x.dim(), op);
  const int64_t n = x.size(d);
  VQ_CHECK(ShapeError, split_size > 0 || (split_size == 0 && n == 0), op,
                    ": split_size must be positive, got ", split_size, " for dim ", d,
                    " of x=", shape_str(x.shape()));
  std::vector<Tensor> parts;
  if (n == 0) {
    parts.push_back(x);
    return parts;
  }
  for (int64_t s = 0; s < n; s += split_size)
    parts.push_back(x.narrow(d, s, std::min(split_size, n - s)));
  return parts;
}

std::vector<Tensor> split_sizes(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  const char* op = "split_sizes";
  check(x.defined(), op, ": undefined tensor argument");
  VQ_CHECK(ShapeError, x.dim() > 0, op, ": cannot split a zero-dimensional tensor");
  const int64_t d = wrap_dim(dim, x.dim(), op);
  int64_t total = 0;
  std::string list;
  for (size_t i = 0; i < sizes.size(); ++i) {
    list += (i ? ", " : "") + std::to_string(sizes[i]);
    total += sizes[i];
  }
  bool nonneg = true;
  for (int64_t s : sizes) nonneg = nonneg && s >= 0;
  VQ_CHECK(ShapeError, nonneg && total == x.size(d), op, ": sizes [", list,
                    "] must be non-negative and sum to ", x.size(d), " (dim ", d,
                    " of x=", shape_str(x.shape()), ")");
  std::vector<Tensor> parts;
  int64_t start = 0;
  for (int64_t s : sizes) {
    parts.push_back(x.narrow(d, start, s));
    start += s;
  }
  return parts;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  const char* op = "chunk";
  check(x.defined(), op, ": undefined tensor argument");
  VQ_CHECK(ShapeError, chunks > 0, op, ": chunks must be positive, got ", chunks);
  VQ_CHECK(ShapeError, x.dim() > 0, op, ": cannot chunk a zero-dimensional tensor");
  const int64_t d = wrap_dim(dim, x.dim(), op);
  const int64_t n = x.size(d);
  if (n == 0) return split_sizes(x, std::vector<int64_t>(static_cast<size_t>(chunks), 0), d);
  return split(x, (n + chunks - 1) / chunks, d);
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, double value) {
  const char* op = "pad";
  check(x.defined(), op, ": undefined tensor argument");
  const int64_t nd = x.dim();
  VQ_CHECK(ShapeError, pads.size() % 2 == 0 && static_cast<int64_t>(pads.size()) <= 2 * nd, op,
                    ": pads must have an even length of at most 2 * ndim = ", 2 * nd, ", got ",
                    pads.size(), " for x=", shape_str(x.shape()));
  Shape shape = x.shape();
  // Per dim: kept source range [s0, s0 + len) lands at output offset o0.
  std::vector<int64_t> s0(nd, 0), o0(nd, 0), len(x.shape());
  bool empty_region = false;
  for (size_t p = 0; p < pads.size() / 2; ++p) {
    const int64_t d = nd - 1 - static_cast<int64_t>(p);
    const int64_t before = pads[2 * p], after = pads[2 * p + 1];
    shape[d] = x.size(d) + before + after;
    VQ_CHECK(ShapeError, shape[d] >= 0, op, ": padding (", before, ", ", after, ") of dim ", d,
                      " of x=", shape_str(x.shape()), " gives negative size ", shape[d]);
    s0[d] = before < 0 ? -before : 0;
    o0[d] = before > 0 ? before : 0;
    len[d] = x.size(d) - s0[d] - (after < 0 ? -after : 0);
    if (len[d] <= 0) empty_region = true;
  }
  if (shape_numel(shape) == 0) return Tensor::empty(shape, x.dtype(), x.device());
  Tensor out = Tensor::full(shape, value, x.dtype(), x.device());
  if (empty_region || x.numel() == 0) return out;
  Tensor dst = out, src = x;
  for (int64_t d = 0; d < nd; ++d) {
    dst = dst.narrow(d, o0[d], len[d]);
    src = src.narrow(d, s0[d], len[d]);
  }
  dst.copy_(src);
  return out;
}

}  // namespace vq::ops
