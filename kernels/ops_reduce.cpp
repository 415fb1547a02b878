// Reduction ops, additive family: sum, mean, var, norm, and count_nonzero / any / all
// (declared in kernels/ops.h). Each validates, plans the reduction into the kernels'
// [outer, R, inner] form (ops_reduce_plan.h) and dispatches by device.
#include <cmath>
#include <limits>

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

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// out[outer, inner] (shaped out_shape) = the spec's reduction of plan.src.
Tensor run(const char* op, const ReducePlan& plan, const ReduceSpec& spec) {
  Tensor out = Tensor::empty(plan.out_shape, DType::f32, plan.src.device());
  const Device dev = plan.src.device();
  if (dev.is_cuda()) {
#ifdef VQ_WITH_CUDA
    cuda::reduce_forward(out.data<float>(), plan.src.data<float>(), plan.outer, plan.R,
                         plan.inner, spec, dev.index);
#else
    detail::no_cuda(op, plan.src);
#endif
  } else {
    cpu::reduce_forward(out.data<float>(), plan.src.data<float>(), plan.outer, plan.R,
                        plan.inner, spec);
  }
  return out;
}

ReducePlan checked_plan(const char* op, const Tensor& x, const std::vector<int64_t>& dims,
                        bool keepdim) {
  detail::check_args(op, {&x});
  detail::check_f32(op, "x", x);
  return detail::plan_reduce(op, x, dims, keepdim);
}

// 1/n, or NaN when n <= 0 (torch: mean of nothing and var with too few samples are NaN).
double inverse_or_nan(int64_t n) { return n > 0 ? 1.0 / static_cast<double>(n) : kNaN; }

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  const ReducePlan plan = checked_plan("sum", x, dims, keepdim);
  return run("sum", plan, ReduceSpec{});
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  const ReducePlan plan = checked_plan("mean", x, dims, keepdim);
  ReduceSpec spec;
  spec.scale = inverse_or_nan(plan.R);
  return run("mean", plan, spec);
}

Tensor var(const Tensor& x, const std::vector<int64_t>& dims, bool unbiased, bool keepdim) {
  // Two passes over the same plan: the mean, then the mean squared deviation from it
  // (no catastrophic cancellation as in E[x^2] - E[x]^2).
  const ReducePlan plan = checked_plan("var", x, dims, keepdim);
  ReduceSpec mean_spec;
  mean_spec.scale = inverse_or_nan(plan.R);
  const Tensor mu = run("var", plan, mean_spec);
  ReduceSpec spec;
  spec.kind = ReduceKind::sq_dev_sum;
  spec.center = mu.data<float>();
  spec.scale = inverse_or_nan(plan.R - (unbiased ? 1 : 0));
  return run("var", plan, spec);
}

Tensor norm(const Tensor& x, const std::vector<int64_t>& dims, double p, bool keepdim) {
  VQ_CHECK(ConfigError, p > 0.0, "norm: p must be > 0 (or inf), got ", p, " for x=",
                     detail::ShapeText{&x.shape()});
  const ReducePlan plan = checked_plan("norm", x, dims, keepdim);
  ReduceSpec spec;
  if (std::isinf(p)) {
    spec.kind = ReduceKind::abs_max;
  } else if (p == 1.0) {
    spec.kind = ReduceKind::abs_sum;
  } else if (p == 2.0) {
    spec.kind = ReduceKind::sq_sum;
    spec.root = 2.0;
  } else {
    spec.kind = ReduceKind::pow_sum;
    spec.p = p;
    spec.root = p;
  }
  return run("norm", plan, spec);
}

namespace {
// Non-zero count of any dtype, returned to the host (CUDA synchronizes).
int64_t count_on_host(const char* op, const Tensor& x) {
  detail::check_args(op, {&x});
  const Tensor xc = x.contiguous();
  if (x.device().is_cuda()) {
#ifdef VQ_WITH_CUDA
    return cuda::count_nonzero_forward(xc.raw_data(), xc.dtype(), xc.numel(), x.device().index);
#else
    detail::no_cuda(op, x);
#endif
  }
  return cpu::count_nonzero_forward(xc.raw_data(), xc.dtype(), xc.numel());
}

int64_t count_bool(const char* op, const Tensor& x) {
  detail::check_args(op, {&x});
  VQ_CHECK(DTypeError, x.dtype() == DType::boolean || x.dtype() == DType::u8, op,
                    ": x must be bool or u8, got ", dtype_name(x.dtype()),
                    detail::ShapeText{&x.shape()});
  return count_on_host(op, x);
}
}  // namespace

Tensor count_nonzero(const Tensor& x) {
  const int64_t count = count_on_host("count_nonzero", x);
  return Tensor::from_vector(std::vector<int64_t>{count}, Shape{}, x.device());
}

bool any(const Tensor& x) { return count_bool("any", x) > 0; }

bool all(const Tensor& x) { return count_bool("all", x) == x.numel(); }

}  // namespace vq::ops
