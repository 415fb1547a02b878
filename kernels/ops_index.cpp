// Tensor-level gather, index_select, masked_fill and one_hot (declared in kernels/ops.h):
// validate, range-check indices, allocate, dispatch to kernels/cpu/index or
// kernels/cuda/index.
#include <cstring>

#include "kernels/cpu/index.h"
#include "kernels/ops.h"
#include "kernels/ops_check.h"
#include "kernels/ops_index_util.h"
#ifdef VQ_WITH_CUDA
#include "kernels/cuda/index.h"
#endif

namespace vq::ops {

using detail::describe;

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  const char* op = "gather";
  detail::check_args(op, {&x, &index});
  detail::check_index(op, "index", index);
  const std::string ctx = describe({{"x", &x}, {"index", &index}});
  VQ_CHECK(ShapeError, index.dim() == x.dim(), op, ": index must have as many dims as x, got ", ctx);
  if (x.dim() == 0) return gather(x.reshape({1}), 0, index.reshape({1})).reshape({});
  const int64_t d = wrap_dim(dim, x.dim(), op);
  Tensor xs = x;
  for (int64_t k = 0; k < x.dim(); ++k) {
    if (k == d) continue;
    VQ_CHECK(ShapeError, index.size(k) <= x.size(k), op, ": index size ", index.size(k),
                      " exceeds x size ", x.size(k), " at dim ", k, " (", ctx, ")");
    if (index.size(k) < x.size(k)) xs = xs.narrow(k, 0, index.size(k));
  }
  Tensor out = Tensor::empty(index.shape(), x.dtype(), x.device());
  if (out.numel() == 0) return out;
  Tensor idx = index.contiguous();
  detail::check_index_bounds(op, idx, d, x.size(d), ctx);
  xs = xs.contiguous();
  const auto s = detail::dims3(idx.shape(), d);
  const size_t elem = dtype_size(x.dtype());
  if (x.device().is_cpu()) {
    cpu::gather_forward(out.raw_data(), xs.raw_data(), idx.data<int64_t>(), s.outer, x.size(d),
                        s.mid, s.inner, elem);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::gather_forward(out.raw_data(), xs.raw_data(), idx.data<int64_t>(), s.outer, x.size(d),
                         s.mid, s.inner, elem, x.device().index);
#else
    detail::no_cuda(op);
#endif
  }
  return out;
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  const char* op = "index_select";
  detail::check_args(op, {&x, &index});
  detail::check_index(op, "index", index);
  const std::string ctx = describe({{"x", &x}, {"index", &index}});
  VQ_CHECK(ShapeError, index.dim() <= 1, op, ": index must be 0-D or 1-D, got ", ctx);
  if (x.dim() == 0) return index_select(x.reshape({1}), 0, index.reshape({-1})).reshape({});
  const int64_t d = wrap_dim(dim, x.dim(), op);
  const int64_t n = index.numel();
  Shape shape = x.shape();
  shape[d] = n;
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  if (out.numel() == 0) return out;
  Tensor idx = index.contiguous();
  detail::check_index_bounds(op, idx, d, x.size(d), ctx);
  Tensor xc = x.contiguous();
  const auto s = detail::dims3(x.shape(), d);
  const size_t elem = dtype_size(x.dtype());
  if (x.device().is_cpu()) {
    cpu::index_select_forward(out.raw_data(), xc.raw_data(), idx.data<int64_t>(), s.outer, s.mid, n,
                              s.inner, elem);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::index_select_forward(out.raw_data(), xc.raw_data(), idx.data<int64_t>(), s.outer, s.mid,
                               n, s.inner, elem, x.device().index);
#else
    detail::no_cuda(op);
#endif
  }
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  const char* op = "masked_fill";
  detail::check_args(op, {&x, &mask});
  VQ_CHECK(DTypeError, mask.dtype() == DType::boolean || mask.dtype() == DType::u8, op,
                    ": mask must be bool or u8, got ", mask.str());
  const Shape b = broadcast_shapes(x.shape(), mask.shape(), op);
  VQ_CHECK(ShapeError, b == x.shape(), op, ": mask ", shape_str(mask.shape()),
                    " cannot be broadcast to x ", shape_str(x.shape()));
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (out.numel() == 0) return out;
  Tensor xc = x.contiguous();
  Tensor m = mask.expand(x.shape()).contiguous();
  // The fill value converted with the library's cast rules, as raw element bytes.
  Tensor v = Tensor::full({1}, value, x.dtype());
  unsigned char bytes[8] = {0};
  std::memcpy(bytes, v.raw_data(), dtype_size(x.dtype()));
  const size_t elem = dtype_size(x.dtype());
  if (x.device().is_cpu()) {
    cpu::masked_fill(out.raw_data(), xc.raw_data(), static_cast<const uint8_t*>(m.raw_data()),
                     bytes, out.numel(), elem);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::masked_fill(out.raw_data(), xc.raw_data(), static_cast<const uint8_t*>(m.raw_data()),
                      bytes, out.numel(), elem, x.device().index);
#else
    detail::no_cuda(op);
#endif
  }
  return out;
}

Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype) {
  const char* op = "one_hot";
  detail::check_args(op, {&index});
  detail::check_index(op, "index", index);
  Tensor idx = index.contiguous();
  int64_t C = num_classes;
  if (C < 0) {
    VQ_CHECK(ShapeError, C == -1, op, ": num_classes must be positive or -1 (infer), got ", C);
    VQ_CHECK(ShapeError, idx.numel() > 0, op, ": cannot infer num_classes from an empty index ",
                      index.str());
    C = detail::index_minmax(idx).second + 1;
  }
  if (idx.numel() > 0) {
    auto [mn, mx] = detail::index_minmax(idx);
    VQ_CHECK(ShapeError, mn >= 0 && mx < C, op, ": class values must be in [0, ", C, "), got ",
                      mn < 0 ? mn : mx, " (index=", index.str(), ")");
  }
  Shape shape = index.shape();
  shape.push_back(C);
  const DType compute = dtype == DType::f32 ? DType::f32 : DType::i64;
  Tensor out = Tensor::empty(shape, compute, index.device());
  const int64_t n = idx.numel();
  if (out.numel() > 0) {
    if (index.device().is_cpu()) {
      if (compute == DType::f32)
        cpu::one_hot(out.data<float>(), idx.data<int64_t>(), n, C);
      else
        cpu::one_hot(out.data<int64_t>(), idx.data<int64_t>(), n, C);
    } else {
#ifdef VQ_WITH_CUDA
      const int dev = index.device().index;
      if (compute == DType::f32)
        cuda::one_hot(out.data<float>(), idx.data<int64_t>(), n, C, dev);
      else
        cuda::one_hot(out.data<int64_t>(), idx.data<int64_t>(), n, C, dev);
#else
      detail::no_cuda(op);
#endif
    }
  }
  return compute == dtype ? out : out.to(dtype);
}

}  // namespace vq::ops
