// Tensor-level scatter_add, index_add, index_add_, bincount and cumsum (declared in
// kernels/ops.h). All sums are deterministic on every device: the keyed sums go through
// cpu::segment_sum / cuda::segment_sum (sorted groups, double accumulation, no float
// atomics); counts use exact integer arithmetic.
#include <cmath>

#include "kernels/cpu/index.h"
#include "kernels/ops.h"
#include "kernels/ops_check.h"
#include "kernels/ops_index_util.h"
#ifdef VQ_WITH_CUDA
#include "kernels/cuda/index.h"
#endif

namespace vq::ops {

using detail::describe;

namespace {

void check_sum_dtype(const char* op, const Tensor& t, const Tensor& src) {
  VQ_CHECK(DTypeError, t.dtype() == DType::f32 || t.dtype() == DType::i64, op,
                    ": only f32 and i64 are supported, got ", t.str());
  VQ_CHECK(DTypeError, src.dtype() == t.dtype(), op, ": src dtype must match, got ", t.str(), " and ",
                    src.str());
}

// dst[o, idx[j], :] += alpha * src[o, j, :] on a contiguous dst of the same dtype.
void segment_sum_dispatch(Tensor& dst, const Tensor& src, const Tensor& keys, int64_t N, int64_t M,
                          int64_t O, int64_t I, double alpha, const char* op) {
  if (dst.device().is_cpu()) {
    if (dst.dtype() == DType::f32)
      cpu::segment_sum(dst.data<float>(), src.data<float>(), keys.data<int64_t>(), N, M, O, I,
                       alpha);
    else
      cpu::segment_sum(dst.data<int64_t>(), src.data<int64_t>(), keys.data<int64_t>(), N, M, O, I,
                       alpha);
    return;
  }
#ifdef VQ_WITH_CUDA
  const int dev = dst.device().index;
  if (dst.dtype() == DType::f32)
    cuda::segment_sum(dst.data<float>(), src.data<float>(), keys.data<int64_t>(), N, M, O, I, alpha,
                      dev);
  else
    cuda::segment_sum(dst.data<int64_t>(), src.data<int64_t>(), keys.data<int64_t>(), N, M, O, I,
                      alpha, dev);
#else
  detail::no_cuda(op);
#endif
}

void index_add_impl(const char* op, Tensor& dst, int64_t dim, const Tensor& index,
                    const Tensor& src, double alpha) {
  detail::check_args(op, {&dst, &index, &src});
  detail::check_index(op, "index", index);
  check_sum_dtype(op, dst, src);
  const std::string ctx = describe({{"dst", &dst}, {"index", &index}, {"src", &src}});
  VQ_CHECK(ShapeError, index.dim() <= 1, op, ": index must be 0-D or 1-D, got ", ctx);
  VQ_CHECK(ShapeError, dst.dim() >= 1, op, ": dst must have at least one dim, got ", ctx);
  const int64_t d = wrap_dim(dim, dst.dim(), op);
  const int64_t N = index.numel();
  Shape want = dst.shape();
  want[d] = N;
  VQ_CHECK(ShapeError, src.shape() == want, op, ": src must have shape ", shape_str(want),
                    " (dst with dim ", d, " replaced by the ", N, " indices), got ", ctx);
  VQ_CHECK(DTypeError, dst.dtype() != DType::i64 || alpha == std::floor(alpha), op,
                    ": alpha must be integral for i64 tensors, got ", alpha);
  if (N == 0 || dst.numel() == 0) return;
  Tensor idx = index.contiguous();
  detail::check_index_bounds(op, idx, d, dst.size(d), ctx);
  Tensor target = dst.is_contiguous() ? dst : dst.contiguous();
  Tensor s = src.contiguous();
  const auto sz = detail::dims3(dst.shape(), d);
  segment_sum_dispatch(target, s, idx, N, sz.mid, sz.outer, sz.inner, alpha, op);
  if (target.same_storage(dst))
    dst.bump_version();
  else
    dst.copy_(target);
}

}  // namespace

Tensor scatter_add(const Tensor& base, int64_t dim, const Tensor& index, const Tensor& src) {
  const char* op = "scatter_add";
  detail::check_args(op, {&base, &index, &src});
  detail::check_index(op, "index", index);
  check_sum_dtype(op, base, src);
  const std::string ctx = describe({{"base", &base}, {"index", &index}, {"src", &src}});
  VQ_CHECK(ShapeError, index.dim() == base.dim() && src.dim() == base.dim(), op,
                    ": base, index and src must have the same number of dims, got ", ctx);
  if (base.dim() == 0)
    return scatter_add(base.reshape({1}), 0, index.reshape({1}), src.reshape({1})).reshape({});
  Tensor out = base.clone();
  const int64_t d = wrap_dim(dim, base.dim(), op);
  Tensor target = out, s = src;
  for (int64_t k = 0; k < base.dim(); ++k) {
    VQ_CHECK(ShapeError, index.size(k) <= src.size(k), op, ": index size ", index.size(k),
                      " exceeds src size ", src.size(k), " at dim ", k, " (", ctx, ")");
    if (index.size(k) < src.size(k)) s = s.narrow(k, 0, index.size(k));
    if (k == d) continue;
    VQ_CHECK(ShapeError, index.size(k) <= base.size(k), op, ": index size ", index.size(k),
                      " exceeds base size ", base.size(k), " at dim ", k, " (", ctx, ")");
    if (index.size(k) < base.size(k)) target = target.narrow(k, 0, index.size(k));
  }
  if (index.numel() == 0) return out;
  Tensor idx = index.contiguous();
  detail::check_index_bounds(op, idx, d, base.size(d), ctx);
  Tensor t = target.contiguous();  // out itself unless index covers fewer rows/cols than base
  s = s.contiguous();
  const auto sz = detail::dims3(idx.shape(), d);
  const int64_t K = base.size(d);
  if (out.device().is_cpu()) {
    if (out.dtype() == DType::f32)
      cpu::scatter_add(t.data<float>(), idx.data<int64_t>(), s.data<float>(), sz.outer, K, sz.mid,
                       sz.inner);
    else
      cpu::scatter_add(t.data<int64_t>(), idx.data<int64_t>(), s.data<int64_t>(), sz.outer, K,
                       sz.mid, sz.inner);
  } else {
#ifdef VQ_WITH_CUDA
    const int dev = out.device().index;
    if (out.dtype() == DType::f32)
      cuda::scatter_add(t.data<float>(), idx.data<int64_t>(), s.data<float>(), sz.outer, K, sz.mid,
                        sz.inner, dev);
    else
      cuda::scatter_add(t.data<int64_t>(), idx.data<int64_t>(), s.data<int64_t>(), sz.outer, K,
                        sz.mid, sz.inner, dev);
#else
    detail::no_cuda(op);
#endif
  }
  if (!t.same_storage(out)) target.copy_(t);
  return out;
}

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src,
                 double alpha) {
  check(x.defined(), "index_add: undefined tensor argument");
  Tensor out = x.clone();
  index_add_impl("index_add", out, dim, index, src, alpha);
  return out;
}

void index_add_(Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src, double alpha) {
  index_add_impl("index_add_", dst, dim, index, src, alpha);
}

Tensor bincount(const Tensor& index, int64_t minlength, const std::optional<Tensor>& weights) {
  const char* op = "bincount";
  detail::check_args(op, {&index});
  detail::check_index(op, "index", index);
  VQ_CHECK(ShapeError, index.dim() == 1, op, ": index must be 1-D, got ", index.str());
  VQ_CHECK(ShapeError, minlength >= 0, op, ": minlength must be non-negative, got ", minlength);
  if (weights) {
    detail::check_args(op, {&index, &*weights});
    detail::check_f32(op, "weights", *weights);
    VQ_CHECK(ShapeError, weights->shape() == index.shape(), op,
                      ": weights must have the shape of index, got ",
                      describe({{"index", &index}, {"weights", &*weights}}));
  }
  const int64_t n = index.numel();
  Tensor idx = index.contiguous();
  int64_t M = minlength;
  if (n > 0) {
    auto [mn, mx] = detail::index_minmax(idx);
    VQ_CHECK(ShapeError, mn >= 0, op, ": index values must be non-negative, got ", mn,
                      " (index=", index.str(), ")");
    M = std::max(M, mx + 1);
  }
  if (weights) {
    Tensor out = Tensor::zeros({M}, DType::f32, index.device());
    if (n > 0) segment_sum_dispatch(out, weights->contiguous(), idx, n, M, 1, 1, 1.0, op);
    return out;
  }
  Tensor out = Tensor::empty({M}, DType::i64, index.device());
  if (index.device().is_cpu()) {
    cpu::bincount(out.data<int64_t>(), idx.data<int64_t>(), n, M);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::bincount(out.data<int64_t>(), idx.data<int64_t>(), n, M, index.device().index);
#else
    detail::no_cuda(op);
#endif
  }
  return out;
}

Tensor cumsum(const Tensor& x, int64_t dim) {
  const char* op = "cumsum";
  detail::check_args(op, {&x});
  VQ_CHECK(DTypeError, x.dtype() == DType::f32 || x.dtype() == DType::i64 || x.dtype() == DType::i32 ||
                        x.dtype() == DType::u8 || x.dtype() == DType::boolean,
                    op, ": supports f32 and integer tensors (integers sum in i64), got ", x.str());
  Tensor xc = (x.dtype() == DType::f32 || x.dtype() == DType::i64) ? x.contiguous()
                                                                   : x.to(DType::i64).contiguous();
  if (x.dim() == 0) return xc.clone();
  const int64_t d = wrap_dim(dim, x.dim(), op);
  Tensor out = Tensor::empty(x.shape(), xc.dtype(), x.device());
  if (out.numel() == 0) return out;
  const auto s = detail::dims3(x.shape(), d);
  if (x.device().is_cpu()) {
    if (xc.dtype() == DType::f32)
      cpu::cumsum(out.data<float>(), xc.data<float>(), s.outer, s.mid, s.inner);
    else
      cpu::cumsum(out.data<int64_t>(), xc.data<int64_t>(), s.outer, s.mid, s.inner);
  } else {
#ifdef VQ_WITH_CUDA
    const int dev = x.device().index;
    if (xc.dtype() == DType::f32)
      cuda::cumsum(out.data<float>(), xc.data<float>(), s.outer, s.mid, s.inner, dev);
    else
      cuda::cumsum(out.data<int64_t>(), xc.data<int64_t>(), s.outer, s.mid, s.inner, dev);
#else
    detail::no_cuda(op);
#endif
  }
  return out;
}

}  // namespace vq::ops
