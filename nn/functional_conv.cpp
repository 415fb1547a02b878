// linear and conv2d (see nn/functional.h): validation, device dispatch to ops::gemm /
// the raw conv kernels (kernels/cpu/conv.h, kernels/cuda/conv.h), one autograd node each.
#include <algorithm>

#include "autograd/node.h"
#include "kernels/cpu/conv.h"
#include "kernels/ops.h"
#include "nn/functional.h"
#include "nn/functional_detail.h"

#ifdef VQ_WITH_CUDA
#include "kernels/cuda/conv.h"
#endif

namespace vq::nn {

Variable linear(const Variable& x, const Variable& weight, const Variable& bias) {
  const char* op = "linear";
  detail::check_args(op, {{"x", &x}, {"weight", &weight}, {"bias", &bias}});
  check(weight.defined(), op, ": weight is undefined");
  auto desc = [&] { return detail::describe({{"x", &x}, {"weight", &weight}, {"bias", &bias}}); };
  VQ_CHECK(ShapeError, weight.dim() == 2, op, ": weight must be [out, in], got ", desc());
  const int64_t out = weight.size(0), in = weight.size(1);
  VQ_CHECK(ShapeError, x.dim() >= 1 && x.size(-1) == in, op, ": x must be [..., ", in,
                    "] to match weight, got ", desc());
  VQ_CHECK(ShapeError, !bias.defined() || (bias.dim() == 1 && bias.size(0) == out), op,
                    ": bias must be [", out, "], got ", desc());
  const Shape xs = x.shape();
  const int64_t N = x.numel() / std::max<int64_t>(in, 1);
  Tensor x2 = x.value().contiguous().reshape({N, in});
  Tensor w = weight.value().contiguous();
  Tensor y2 = Tensor::empty({N, out}, DType::f32, x.device());
  if (bias.defined()) y2.copy_(bias.value());
  ops::gemm(x2, false, w, true, y2, 1.f, bias.defined() ? 1.f : 0.f);
  Shape ys = xs;
  ys.back() = out;
  // y = x W^T + b:  dx = g W,  dW = g^T x,  db = sum_rows g
  return make_result(
      "linear", y2.reshape(ys), {x, weight, bias}, {x2, w},
      [xs, N, in, out](const Tensor& grad, const BackwardContext& ctx) -> std::vector<Tensor> {
        Tensor g2 = grad.contiguous().reshape({N, out});
        const Tensor& x2s = ctx.saved(0);
        const Tensor& ws = ctx.saved(1);
        Tensor dx, dw, db;
        if (ctx.needs_grad(0)) {
          dx = Tensor::empty({N, in}, DType::f32, grad.device());
          ops::gemm(g2, false, ws, false, dx);
          dx = dx.reshape(xs);
        }
        if (ctx.needs_grad(1)) {
          dw = Tensor::empty({out, in}, DType::f32, grad.device());
          ops::gemm(g2, true, x2s, false, dw);
        }
        if (ctx.needs_grad(2)) db = ops::sum(g2, {0});
        return {dx, dw, db};
      });
}

Variable conv2d(const Variable& x, const Variable& weight, const Variable& bias,
                std::array<int64_t, 2> stride, std::array<int64_t, 2> padding) {
  const char* op = "conv2d";
  detail::check_args(op, {{"x", &x}, {"weight", &weight}, {"bias", &bias}});
  check(weight.defined(), op, ": weight is undefined");
  auto desc = [&] { return detail::describe({{"x", &x}, {"weight", &weight}, {"bias", &bias}}); };
  VQ_CHECK(ShapeError, x.dim() == 4 && weight.dim() == 4, op,
                    ": expected x [B, C, H, W] and weight [O, C, KH, KW], got ", desc());
  VQ_CHECK(ShapeError, x.size(1) == weight.size(1), op, ": x has ", x.size(1),
                    " channels but weight expects ", weight.size(1), ": ", desc());
  VQ_CHECK(ShapeError, !bias.defined() || (bias.dim() == 1 && bias.size(0) == weight.size(0)), op,
                    ": bias must be [", weight.size(0), "], got ", desc());
  VQ_CHECK(ShapeError, stride[0] >= 1 && stride[1] >= 1 && padding[0] >= 0 && padding[1] >= 0, op,
                    ": stride must be >= 1 and padding >= 0, got stride (", stride[0], ", ",
                    stride[1], ") padding (", padding[0], ", ", padding[1], ")");
  cpu::Conv2dGeometry g;
  g.B = x.size(0);
  g.C = x.size(1);
  g.H = x.size(2);
  g.W = x.size(3);
  g.O = weight.size(0);
  g.KH = weight.size(2);
  g.KW = weight.size(3);
  g.SH = stride[0];
  g.SW = stride[1];
  g.PH = padding[0];
  g.PW = padding[1];
  VQ_CHECK(ShapeError, g.H + 2 * g.PH >= g.KH && g.W + 2 * g.PW >= g.KW && g.KH >= 1 && g.KW >= 1,
                    op, ": kernel ", g.KH, "x", g.KW, " is larger than the padded input (padding ",
                    g.PH, ", ", g.PW, "): ", desc());
  g.infer_output();
  const Device dev = x.device();
  Tensor xc = x.value().contiguous(), wc = weight.value().contiguous();
  Tensor bc = bias.defined() ? bias.value().contiguous() : Tensor();
  Tensor y = Tensor::empty({g.B, g.O, g.Ho, g.Wo}, DType::f32, dev);
  const float* bp = bc.defined() ? bc.data<float>() : nullptr;
  if (dev.is_cuda()) {
#ifdef VQ_WITH_CUDA
    cuda::conv2d_forward(y.data<float>(), xc.data<float>(), wc.data<float>(), bp, g, dev.index);
#else
    detail::no_cuda(op);
#endif
  } else {
    cpu::conv2d_forward(y.data<float>(), xc.data<float>(), wc.data<float>(), bp, g);
  }
  // y_b = W col(x_b) + b:  dW = sum_b dy_b col(x_b)^T,  dx_b = col2im(W^T dy_b),
  // dbias = sum_{b, p} dy  (kernels/cpu/conv.h)
  return make_result(
      "conv2d", y, {x, weight, bias}, {xc, wc},
      [g](const Tensor& grad, const BackwardContext& ctx) -> std::vector<Tensor> {
        Tensor gy = grad.contiguous();
        const Device d = gy.device();
        Tensor dx, dw, db;
        if (ctx.needs_grad(0)) dx = Tensor::empty({g.B, g.C, g.H, g.W}, DType::f32, d);
        if (ctx.needs_grad(1)) dw = Tensor::empty({g.O, g.C, g.KH, g.KW}, DType::f32, d);
        if (ctx.needs_grad(2)) db = Tensor::empty({g.O}, DType::f32, d);
        float* dxp = dx.defined() ? dx.data<float>() : nullptr;
        float* dwp = dw.defined() ? dw.data<float>() : nullptr;
        float* dbp = db.defined() ? db.data<float>() : nullptr;
        const float* xp = ctx.saved(0).data<float>();
        const float* wp = ctx.saved(1).data<float>();
        if (d.is_cuda()) {
#ifdef VQ_WITH_CUDA
          cuda::conv2d_backward(dxp, dwp, dbp, gy.data<float>(), xp, wp, g, d.index);
#else
          detail::no_cuda("conv2d backward");
#endif
        } else {
          cpu::conv2d_backward(dxp, dwp, dbp, gy.data<float>(), xp, wp, g);
        }
        return {dx, dw, db};
      });
}

}  // namespace vq::nn
