// Reduction ops that pick an element: max/min with indices, amax/amin, argmax/argmin
// (declared in kernels/ops.h). First index on ties, NaN wins (like torch).
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

// Fills values / indices (either may be undefined) for a plan with R >= 1.
void run_max(const char* op, const ReducePlan& p, Tensor* values, Tensor* indices, bool is_max) {
  float* v = values ? values->data<float>() : nullptr;
  int64_t* i = indices ? indices->data<int64_t>() : nullptr;
  const Device dev = p.src.device();
  if (dev.is_cuda()) {
#ifdef VQ_WITH_CUDA
    cuda::max_forward(v, i, p.src.data<float>(), p.outer, p.R, p.inner, is_max, dev.index);
#else
    detail::no_cuda(op, p.src);
#endif
  } else {
    cpu::max_forward(v, i, p.src.data<float>(), p.outer, p.R, p.inner, is_max);
  }
}

ReducePlan plan_nonempty(const char* op, const Tensor& x, int64_t dim, bool keepdim) {
  detail::check_args(op, {&x});
  detail::check_f32(op, "x", x);
  ReducePlan p = detail::plan_dim(op, x, dim, keepdim);
  VQ_CHECK(ShapeError, p.R > 0, op, ": cannot reduce over dim ", dim, " of size 0 (x=",
                    detail::ShapeText{&x.shape()}, ")");
  return p;
}

std::pair<Tensor, Tensor> max_min(const char* op, const Tensor& x, int64_t dim, bool keepdim,
                                  bool is_max) {
  const ReducePlan p = plan_nonempty(op, x, dim, keepdim);
  Tensor values = Tensor::empty(p.out_shape, DType::f32, x.device());
  Tensor indices = Tensor::empty(p.out_shape, DType::i64, x.device());
  run_max(op, p, &values, &indices, is_max);
  return {values, indices};
}

Tensor arg(const char* op, const Tensor& x, int64_t dim, bool keepdim, bool is_max) {
  const ReducePlan p = plan_nonempty(op, x, dim, keepdim);
  Tensor indices = Tensor::empty(p.out_shape, DType::i64, x.device());
  run_max(op, p, nullptr, &indices, is_max);
  return indices;
}

Tensor all_reduce(const char* op, const Tensor& x, bool is_max) {
  detail::check_args(op, {&x});
  detail::check_f32(op, "x", x);
  VQ_CHECK(ShapeError, x.numel() > 0, op, ": empty input x=", detail::ShapeText{&x.shape()},
                    " has no max/min");
  ReducePlan p;
  p.src = x.contiguous();
  p.R = x.numel();
  Tensor values = Tensor::empty(Shape{}, DType::f32, x.device());
  run_max(op, p, &values, nullptr, is_max);
  return values;
}

}  // namespace

std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) {
  return max_min("max", x, dim, keepdim, true);
}

std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim) {
  return max_min("min", x, dim, keepdim, false);
}

Tensor amax(const Tensor& x) { return all_reduce("amax", x, true); }

Tensor amin(const Tensor& x) { return all_reduce("amin", x, false); }

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  return arg("argmax", x, dim, keepdim, true);
}

Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) {
  return arg("argmin", x, dim, keepdim, false);
}

}  // namespace vq::ops
