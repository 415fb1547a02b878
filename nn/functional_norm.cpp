// layer_norm and group_norm (see nn/functional.h): validation, device dispatch to
// kernels/cpu/nn_norm.h or kernels/cuda/nn_norm.h, one autograd node each (the
// per-row / per-group mean and 1/std are saved for the backward).
#include <algorithm>

#include "autograd/node.h"
#include "kernels/cpu/nn_norm.h"
#include "nn/functional.h"
#include "nn/functional_detail.h"

#ifdef VQ_WITH_CUDA
#include "kernels/cuda/nn_norm.h"
#endif

namespace vq::nn {

namespace {

const float* ptr_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }
float* ptr_or_null(Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

}  // namespace

Variable layer_norm(const Variable& x, const Shape& normalized_shape, const Variable& weight,
                    const Variable& bias, double eps) {
  const char* op = "layer_norm";
  detail::check_args(op, {{"x", &x}, {"weight", &weight}, {"bias", &bias}});
  auto desc = [&] { return detail::describe({{"x", &x}, {"weight", &weight}, {"bias", &bias}}); };
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  bool ok = k >= 1 && x.dim() >= k;
  for (int64_t i = 0; ok && i < k; ++i) ok = x.size(x.dim() - k + i) == normalized_shape[i];
  VQ_CHECK(ShapeError, ok, op, ": x must end with normalized_shape ", shape_str(normalized_shape),
                    ", got ", desc());
  for (const Variable* p : {&weight, &bias})
    VQ_CHECK(ShapeError, !p->defined() || p->shape() == normalized_shape, op,
                      ": weight and bias must have normalized_shape ",
                      shape_str(normalized_shape), ", got ", desc());
  const int64_t D = shape_numel(normalized_shape);
  const int64_t N = D > 0 ? x.numel() / D : 0;
  const Device dev = x.device();
  Tensor xc = x.value().contiguous();
  Tensor wc = weight.defined() ? weight.value().contiguous() : Tensor();
  Tensor bc = bias.defined() ? bias.value().contiguous() : Tensor();
  Tensor y = Tensor::empty(x.shape(), DType::f32, dev);
  Tensor mean = Tensor::empty({N}, DType::f32, dev), rstd = Tensor::empty({N}, DType::f32, dev);
  const float feps = static_cast<float>(eps);
  if (N * D > 0) {
    if (dev.is_cuda()) {
#ifdef VQ_WITH_CUDA
      cuda::layer_norm_forward(y.data<float>(), mean.data<float>(), rstd.data<float>(),
                               xc.data<float>(), ptr_or_null(wc), ptr_or_null(bc), N, D, feps,
                               dev.index);
#else
      detail::no_cuda(op);
#endif
    } else {
      cpu::layer_norm_forward(y.data<float>(), mean.data<float>(), rstd.data<float>(),
                              xc.data<float>(), ptr_or_null(wc), ptr_or_null(bc), N, D, feps);
    }
  }
  const Shape xs = x.shape();
  // xhat = (x - mean) rstd, y = xhat gamma + beta; with g = dy gamma:
  // dx = rstd (g - mean_D(g) - xhat mean_D(g xhat)), dgamma = sum dy xhat, dbeta = sum dy
  return make_result(
      "layer_norm", y, {x, weight, bias}, {xc, wc, mean, rstd},
      [xs, normalized_shape, N, D](const Tensor& grad,
                                   const BackwardContext& ctx) -> std::vector<Tensor> {
        Tensor gy = grad.contiguous();
        const Device d = gy.device();
        Tensor dx, dg, db;
        if (ctx.needs_grad(0)) dx = Tensor::empty(xs, DType::f32, d);
        if (ctx.needs_grad(1)) dg = Tensor::empty(normalized_shape, DType::f32, d);
        if (ctx.needs_grad(2)) db = Tensor::empty(normalized_shape, DType::f32, d);
        if (N == 0) {
          for (Tensor* t : {&dx, &dg, &db})
            if (t->defined()) t->zero_();
          return {dx, dg, db};
        }
        const float* xp = ctx.saved(0).data<float>();
        const float* gp = ptr_or_null(ctx.saved(1));
        const float* mp = ctx.saved(2).data<float>();
        const float* rp = ctx.saved(3).data<float>();
        if (d.is_cuda()) {
#ifdef VQ_WITH_CUDA
          cuda::layer_norm_backward(ptr_or_null(dx), ptr_or_null(dg), ptr_or_null(db),
                                    gy.data<float>(), xp, mp, rp, gp, N, D, d.index);
#else
          detail::no_cuda("layer_norm backward");
#endif
        } else {
          cpu::layer_norm_backward(ptr_or_null(dx), ptr_or_null(dg), ptr_or_null(db),
                                   gy.data<float>(), xp, mp, rp, gp, N, D);
        }
        return {dx, dg, db};
      });
}

Variable group_norm(const Variable& x, int64_t num_groups, const Variable& weight,
                    const Variable& bias, double eps) {
  const char* op = "group_norm";
  detail::check_args(op, {{"x", &x}, {"weight", &weight}, {"bias", &bias}});
  auto desc = [&] { return detail::describe({{"x", &x}, {"weight", &weight}, {"bias", &bias}}); };
  VQ_CHECK(ConfigError, num_groups >= 1, op, ": num_groups must be >= 1, got ", num_groups);
  VQ_CHECK(ShapeError, x.dim() >= 2, op, ": expected x [B, C, *], got ", desc());
  const int64_t B = x.size(0), C = x.size(1), G = num_groups;
  VQ_CHECK(ShapeError, C % G == 0, op, ": num_channels ", C, " is not divisible by num_groups ", G,
                    ": ", desc());
  for (const Variable* p : {&weight, &bias})
    VQ_CHECK(ShapeError, !p->defined() || (p->dim() == 1 && p->size(0) == C), op,
                      ": weight and bias must be [", C, "], got ", desc());
  const int64_t S = B * C > 0 ? x.numel() / (B * C) : 0;
  const Device dev = x.device();
  Tensor xc = x.value().contiguous();
  Tensor wc = weight.defined() ? weight.value().contiguous() : Tensor();
  Tensor bc = bias.defined() ? bias.value().contiguous() : Tensor();
  Tensor y = Tensor::empty(x.shape(), DType::f32, dev);
  Tensor mean = Tensor::empty({B, G}, DType::f32, dev), rstd = Tensor::empty({B, G}, DType::f32, dev);
  const float feps = static_cast<float>(eps);
  const bool empty = B * C * S == 0;
  if (!empty) {
    if (dev.is_cuda()) {
#ifdef VQ_WITH_CUDA
      cuda::group_norm_forward(y.data<float>(), mean.data<float>(), rstd.data<float>(),
                               xc.data<float>(), ptr_or_null(wc), ptr_or_null(bc), B, C, S, G,
                               feps, dev.index);
#else
      detail::no_cuda(op);
#endif
    } else {
      cpu::group_norm_forward(y.data<float>(), mean.data<float>(), rstd.data<float>(),
                              xc.data<float>(), ptr_or_null(wc), ptr_or_null(bc), B, C, S, G,
                              feps);
    }
  }
  const Shape xs = x.shape();
  // Per group (M = C/G * S elements), with g = dy gamma_c:
  // dx = rstd (g - mean_M(g) - xhat mean_M(g xhat)),
  // dgamma_c = sum_{b, s} dy xhat, dbeta_c = sum_{b, s} dy
  return make_result(
      "group_norm", y, {x, weight, bias}, {xc, wc, mean, rstd},
      [xs, B, C, S, G, empty](const Tensor& grad,
                              const BackwardContext& ctx) -> std::vector<Tensor> {
        Tensor gy = grad.contiguous();
        const Device d = gy.device();
        Tensor dx, dg, db;
        if (ctx.needs_grad(0)) dx = Tensor::empty(xs, DType::f32, d);
        if (ctx.needs_grad(1)) dg = Tensor::empty({C}, DType::f32, d);
        if (ctx.needs_grad(2)) db = Tensor::empty({C}, DType::f32, d);
        if (empty) {
          for (Tensor* t : {&dx, &dg, &db})
            if (t->defined()) t->zero_();
          return {dx, dg, db};
        }
        const float* xp = ctx.saved(0).data<float>();
        const float* gp = ptr_or_null(ctx.saved(1));
        const float* mp = ctx.saved(2).data<float>();
        const float* rp = ctx.saved(3).data<float>();
        if (d.is_cuda()) {
#ifdef VQ_WITH_CUDA
          cuda::group_norm_backward(ptr_or_null(dx), ptr_or_null(dg), ptr_or_null(db),
                                    gy.data<float>(), xp, mp, rp, gp, B, C, S, G, d.index);
#else
          detail::no_cuda("group_norm backward");
#endif
        } else {
          cpu::group_norm_backward(ptr_or_null(dx), ptr_or_null(dg), ptr_or_null(db),
                                   gy.data<float>(), xp, mp, rp, gp, B, C, S, G);
        }
        return {dx, dg, db};
      });
}

}  // namespace vq::nn
