// Nearest x2 upsampling fused into the following 3x3 convolution (see upsample_conv.h).
#include "apps/train/upsample_conv.h"

#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/error.h"
#include "kernels/cpu/conv_direct.h"
#include "nn/functional.h"

namespace vq::app {

namespace {

// The view of y [B, 4O, H+1, W+1] (contiguous) whose element (b, o, i, a, j, c) is
// y[b, (2a + c) O + o, i + a, j + c]: group offsets are linear in (a, c), so the four
// shifted parity windows are one strided view, laid out as the output [B, O, 2H, 2W].
Tensor parity_view(const Tensor& y, int64_t O, int64_t H, int64_t W) {
  const int64_t P = (H + 1) * (W + 1);
  return y.as_strided({y.size(0), O, H, 2, W, 2},
                      {4 * O * P, P, W + 1, 2 * O * P + (W + 1), 1, O * P + 1}, y.offset());
}

// Interleaves the four parity outputs into [B, O, 2H, 2W] with one strided copy;
// backward scatters the gradient back with one strided copy into zeros.
Variable interleave_parities(const Variable& y, int64_t O, int64_t H, int64_t W) {
  const int64_t B = y.size(0);
  Tensor yc = y.value().contiguous();
  Tensor out = parity_view(yc, O, H, W).contiguous().view({B, O, 2 * H, 2 * W});
  const Shape yshape = y.shape();
  return make_result("upsample2x_conv3x3_interleave", out, {y}, {},
                     [=](const Tensor& g, const BackwardContext&) -> std::vector<Tensor> {
                       Tensor gy = Tensor::zeros(yshape, g.dtype(), g.device());
                       parity_view(gy, O, H, W).copy_(g.contiguous().view({B, O, H, 2, W, 2}));
                       return {gy};
                     });
}

// CPU, f32, channel counts the direct kernels take: the parity convolution (k
// [4O, C, 2, 2], b4 [4O] or undefined) stores its output already interleaved and reads
// the interleaved gradient (kernels/cpu/conv_direct.h, ConvOut::parity2x): no [B, 4O,
// H+1, W+1] intermediate and no strided copies. Returns an undefined Variable when the
// case is not covered (the caller then takes the generic path).
Variable parity_conv_cpu(const Variable& x, const Variable& k, const Variable& b4) {
  if (!x.device().is_cpu() || x.dtype() != DType::f32 || k.dtype() != DType::f32 ||
      (b4.defined() && b4.dtype() != DType::f32))
    return Variable();
  cpu::Conv2dGeometry g;
  g.B = x.size(0);
  g.C = x.size(1);
  g.H = x.size(2);
  g.W = x.size(3);
  g.O = k.size(0);
  g.KH = g.KW = 2;
  g.PH = g.PW = 1;
  g.infer_output();
  if (!cpu::conv2d_direct_applies(g)) return Variable();
  Tensor xc = x.value().contiguous(), kc = k.value().contiguous();
  Tensor bc = b4.defined() ? b4.value().contiguous() : Tensor();
  Tensor y = Tensor::empty({g.B, g.O / 4, 2 * g.H, 2 * g.W}, DType::f32, x.device());
  cpu::conv2d_direct_forward(y.data<float>(), xc.data<float>(), kc.data<float>(),
                             bc.defined() ? bc.data<float>() : nullptr, g, cpu::conv_isa(),
                             cpu::ConvOut::parity2x);
  return make_result(
      "upsample2x_conv3x3", y, {x, k, b4}, {xc, kc},
      [g](const Tensor& grad, const BackwardContext& ctx) -> std::vector<Tensor> {
        Tensor gy = grad.contiguous();
        const Device d = gy.device();
        Tensor dx, dk, db;
        if (ctx.needs_grad(0)) dx = Tensor::empty({g.B, g.C, g.H, g.W}, DType::f32, d);
        if (ctx.needs_grad(1)) dk = Tensor::empty({g.O, g.C, 2, 2}, DType::f32, d);
        if (ctx.needs_grad(2)) db = Tensor::empty({g.O}, DType::f32, d);
        cpu::conv2d_direct_backward(
            dx.defined() ? dx.data<float>() : nullptr, dk.defined() ? dk.data<float>() : nullptr,
            db.defined() ? db.data<float>() : nullptr, gy.data<float>(), ctx.saved(0).data<float>(),
            ctx.saved(1).data<float>(), g, cpu::conv_isa(), cpu::ConvOut::parity2x);
        return {dx, dk, db};
      });
}

}  // namespace

Variable upsample2x_conv3x3(const Variable& x, const Variable& weight, const Variable& bias) {
  check<ShapeError>(x.dim() == 4 && weight.dim() == 4 && weight.size(2) == 3 &&
                        weight.size(3) == 3 && weight.size(1) == x.size(1),
                    "upsample2x_conv3x3: expected x [B, C, H, W] and weight [O, C, 3, 3], got x=",
                    x.value().str(), " weight=", weight.value().str());
  const int64_t C = x.size(1), H = x.size(2), W = x.size(3), O = weight.size(0);
  // A[a] (2 x 3): which 3x3 taps land on each of the two input rows of parity a.
  const Variable A0(Tensor::from_vector({1.f, 0.f, 0.f, 0.f, 1.f, 1.f}, {2, 3}, x.device()));
  const Variable A1(Tensor::from_vector({1.f, 1.f, 0.f, 0.f, 0.f, 1.f}, {2, 3}, x.device()));
  const Variable At0(Tensor::from_vector({1.f, 0.f, 0.f, 1.f, 0.f, 1.f}, {3, 2}, x.device()));
  const Variable At1(Tensor::from_vector({1.f, 0.f, 1.f, 0.f, 0.f, 1.f}, {3, 2}, x.device()));
  const Variable w = ag::reshape(weight, {O * C, 3, 3});
  std::vector<Variable> kernels;  // parity g = 2a + b: K_ab = A[a] w A[b]^T, [O, C, 2, 2]
  for (int a = 0; a < 2; ++a) {
    const Variable rows = ag::matmul(a == 0 ? A0 : A1, w);  // [OC, 2, 3]
    for (int b = 0; b < 2; ++b)
      kernels.push_back(ag::reshape(ag::matmul(rows, b == 0 ? At0 : At1), {O, C, 2, 2}));
  }
  const Variable k = ag::cat(kernels, 0);  // [4O, C, 2, 2]
  const Variable b4 = bias.defined() ? ag::cat({bias, bias, bias, bias}, 0) : Variable();
  if (Variable fused = parity_conv_cpu(x, k, b4); fused.defined()) return fused;
  // y[:, g O + o, i', j'] = sum_{s,t} K_g[o, :, s, t] x[:, :, i' + s - 1, j' + t - 1]
  const Variable y = nn::conv2d(x, k, b4, {1, 1}, {1, 1});  // [B, 4O, H+1, W+1]
  // parity (a, b) output (i, j) is y at (i + a, j + b) in group g = 2a + b
  return interleave_parities(y, O, H, W);
}

}  // namespace vq::app
