// logsumexp, softmax and log_softmax along one dim (declared in kernels/ops.h),
// numerically stable (the max along dim is subtracted before exp).
#include "core/error.h"
#include "kernels/cpu/reduce.h"
#include "kernels/ops.h"
#include "kernels/ops_check.h"
#include "kernels/ops_reduce_plan.h"
#ifdef VQ_WITH_CUDA
#include "kernels/cuda/reduce.h"
#endif

namespace vq::ops {

namespace {

using detail::ReducePlan;

ReducePlan checked(const char* op, const Tensor& x, int64_t dim, bool keepdim) {
  detail::check_args(op, {&x});
  detail::check_f32(op, "x", x);
  return detail::plan_dim(op, x, dim, keepdim);
}

Tensor softmax_impl(const char* op, const Tensor& x, int64_t dim, bool log) {
  const ReducePlan p = checked(op, x, dim, false);
  Tensor out = Tensor::empty(x.shape(), DType::f32, x.device());
  if (x.device().is_cuda()) {
#ifdef VQ_WITH_CUDA
    cuda::softmax_forward(out.data<float>(), p.src.data<float>(), p.outer, p.R, p.inner, log,
                          x.device().index);
#else
    detail::no_cuda(op, x);
#endif
  } else {
    cpu::softmax_forward(out.data<float>(), p.src.data<float>(), p.outer, p.R, p.inner, log);
  }
  return out;
}

}  // namespace

Tensor logsumexp(const Tensor& x, int64_t dim, bool keepdim) {
  const ReducePlan p = checked("logsumexp", x, dim, keepdim);
  Tensor out = Tensor::empty(p.out_shape, DType::f32, x.device());
  if (x.device().is_cuda()) {
#ifdef VQ_WITH_CUDA
    cuda::logsumexp_forward(out.data<float>(), p.src.data<float>(), p.outer, p.R, p.inner,
                            x.device().index);
#else
    detail::no_cuda("logsumexp", x);
#endif
  } else {
    cpu::logsumexp_forward(out.data<float>(), p.src.data<float>(), p.outer, p.R, p.inner);
  }
  return out;
}

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl("softmax", x, dim, false); }

Tensor log_softmax(const Tensor& x, int64_t dim) {
  return softmax_impl("log_softmax", x, dim, true);
}

}  // namespace vq::ops
