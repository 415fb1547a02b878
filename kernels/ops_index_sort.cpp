// Tensor-level sort, topk and unique (declared in kernels/ops.h). The sorted dim is moved
// last and made contiguous so the raw kernels see [R, L] lines; CPU and CUDA share the
// integer keys of kernels/cpu/sort_keys.h and give identical orders.
#include "kernels/cpu/sort.h"
#include "kernels/ops.h"
#include "kernels/ops_check.h"
#include "kernels/ops_index_util.h"
#ifdef VQ_WITH_CUDA
#include "kernels/cuda/sort.h"
#endif

namespace vq::ops {

namespace {

void check_sortable(const char* op, const Tensor& x) {
  detail::check_args(op, {&x});
  VQ_CHECK(DTypeError, x.dtype() == DType::f32 || x.dtype() == DType::i64, op,
                    ": supports f32 and i64, got ", x.str());
}

// Sorts (k = L) or takes the top k of every line along `dim`.
std::pair<Tensor, Tensor> sorted_prefix(const char* op, const Tensor& x, int64_t dim, int64_t k,
                                        bool descending) {
  if (x.dim() == 0) {
    auto r = sorted_prefix(op, x.reshape({1}), 0, k, descending);
    return {r.first.reshape({}), r.second.reshape({})};
  }
  const int64_t d = wrap_dim(dim, x.dim(), op);
  const int64_t last = x.dim() - 1;
  Tensor xt = x.transpose(d, last).contiguous();
  const int64_t L = xt.size(last);
  Shape oshape = xt.shape();
  oshape[last] = k;
  Tensor values = Tensor::empty(oshape, x.dtype(), x.device());
  Tensor idx = Tensor::empty(oshape, DType::i64, x.device());
  const int64_t R = L > 0 ? xt.numel() / L : 0;
  if (R > 0 && k > 0) {
    if (x.device().is_cpu()) {
      cpu::topk_lines(values.raw_data(), idx.data<int64_t>(), xt.raw_data(), x.dtype(), R, L, k,
                      descending);
    } else {
#ifdef VQ_WITH_CUDA
      cuda::topk_lines(values.raw_data(), idx.data<int64_t>(), xt.raw_data(), x.dtype(), R, L, k,
                       descending, x.device().index);
#else
      detail::no_cuda(op);
#endif
    }
  }
  if (d == last) return {values, idx};
  return {values.transpose(d, last).contiguous(), idx.transpose(d, last).contiguous()};
}

}  // namespace

std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim, bool descending) {
  check_sortable("sort", x);
  const int64_t L = x.dim() == 0 ? 1 : x.size(wrap_dim(dim, x.dim(), "sort"));
  return sorted_prefix("sort", x, dim, L, descending);
}

std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest) {
  const char* op = "topk";
  check_sortable(op, x);
  const int64_t d = x.dim() == 0 ? 0 : wrap_dim(dim, x.dim(), op);
  const int64_t L = x.dim() == 0 ? 1 : x.size(d);
  VQ_CHECK(ShapeError, k >= 0 && k <= L, op, ": k=", k, " is out of range for dim ", d, " of size ", L,
                    " (x=", shape_str(x.shape()), ")");
  return sorted_prefix(op, x, dim, k, largest);
}

UniqueResult unique(const Tensor& x) {
  const char* op = "unique";
  check_sortable(op, x);
  Tensor flat = x.contiguous().reshape({-1});
  const int64_t n = flat.numel();
  Tensor values = Tensor::empty({n}, x.dtype(), x.device());
  Tensor inverse = Tensor::empty({n}, DType::i64, x.device());
  Tensor counts = Tensor::empty({n}, DType::i64, x.device());
  int64_t u = 0;
  if (n > 0) {
    if (x.device().is_cpu()) {
      u = cpu::unique(values.raw_data(), inverse.data<int64_t>(), counts.data<int64_t>(),
                      flat.raw_data(), x.dtype(), n);
    } else {
#ifdef VQ_WITH_CUDA
      u = cuda::unique(values.raw_data(), inverse.data<int64_t>(), counts.data<int64_t>(),
                       flat.raw_data(), x.dtype(), n, x.device().index);
#else
      detail::no_cuda(op);
#endif
    }
  }
  UniqueResult r;
  r.values = u == n ? values : values.narrow(0, 0, u).clone();
  r.counts = u == n ? counts : counts.narrow(0, 0, u).clone();
  r.inverse = inverse.reshape(x.shape());
  return r;
}

}  // namespace vq::ops
