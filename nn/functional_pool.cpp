// max_pool2d and upsample_nearest2d (see nn/functional.h): validation, device dispatch
// to kernels/cpu/nn_pool.h or kernels/cuda/nn_pool.h, one autograd node each.
#include <algorithm>

#include "autograd/node.h"
#include "kernels/cpu/nn_pool.h"
#include "nn/functional.h"
#include "nn/functional_detail.h"

#ifdef VQ_WITH_CUDA
#include "kernels/cuda/nn_pool.h"
#endif

namespace vq::nn {

namespace {

struct PoolGeometry {
  int64_t planes, H, W, Ho, Wo, KH, KW, SH, SW, PH, PW;
};

}  // namespace

Variable max_pool2d(const Variable& x, std::array<int64_t, 2> kernel,
                    std::array<int64_t, 2> stride, std::array<int64_t, 2> padding) {
  const char* op = "max_pool2d";
  detail::check_args(op, {{"x", &x}});
  VQ_CHECK(ShapeError, x.dim() == 3 || x.dim() == 4, op, ": expected x [B, C, H, W] or [C, H, W], got ",
                    x.value().str());
  VQ_CHECK(ShapeError, kernel[0] >= 1 && kernel[1] >= 1 && stride[0] >= 1 && stride[1] >= 1 &&
                        padding[0] >= 0 && padding[1] >= 0 && 2 * padding[0] <= kernel[0] &&
                        2 * padding[1] <= kernel[1],
                    op, ": need kernel >= 1, stride >= 1 and 0 <= padding <= kernel / 2, got kernel (",
                    kernel[0], ", ", kernel[1], ") stride (", stride[0], ", ", stride[1],
                    ") padding (", padding[0], ", ", padding[1], ")");
  PoolGeometry g;
  g.H = x.size(-2);
  g.W = x.size(-1);
  g.planes = x.numel() / std::max<int64_t>(g.H * g.W, 1);
  g.KH = kernel[0];
  g.KW = kernel[1];
  g.SH = stride[0];
  g.SW = stride[1];
  g.PH = padding[0];
  g.PW = padding[1];
  g.Ho = (g.H + 2 * g.PH - g.KH) / g.SH + 1;
  g.Wo = (g.W + 2 * g.PW - g.KW) / g.SW + 1;
  VQ_CHECK(ShapeError, g.H + 2 * g.PH >= g.KH && g.W + 2 * g.PW >= g.KW, op, ": kernel (", g.KH,
                    ", ", g.KW, ") is larger than the padded input ", x.value().str());
  Shape ys = x.shape();
  ys[ys.size() - 2] = g.Ho;
  ys[ys.size() - 1] = g.Wo;
  const Device dev = x.device();
  Tensor xc = x.value().contiguous();
  Tensor y = Tensor::empty(ys, DType::f32, dev);
  Tensor idx = Tensor::empty(ys, DType::i64, dev);
  if (dev.is_cuda()) {
#ifdef VQ_WITH_CUDA
    cuda::max_pool2d_forward(y.data<float>(), idx.data<int64_t>(), xc.data<float>(), g.planes,
                             g.H, g.W, g.Ho, g.Wo, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, dev.index);
#else
    detail::no_cuda(op);
#endif
  } else {
    cpu::max_pool2d_forward(y.data<float>(), idx.data<int64_t>(), xc.data<float>(), g.planes, g.H,
                            g.W, g.Ho, g.Wo, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW);
  }
  const Shape xs = x.shape();
  // y = x[argmax of the window]:  dx[argmax] += dy (summed over overlapping windows)
  return make_result(
      "max_pool2d", y, {x}, {idx},
      [g, xs](const Tensor& grad, const BackwardContext& ctx) -> std::vector<Tensor> {
        Tensor gy = grad.contiguous();
        const Device d = gy.device();
        Tensor dx = Tensor::empty(xs, DType::f32, d);
        const int64_t* ip = ctx.saved(0).data<int64_t>();
        if (d.is_cuda()) {
#ifdef VQ_WITH_CUDA
          cuda::max_pool2d_backward(dx.data<float>(), gy.data<float>(), ip, g.planes, g.H, g.W,
                                    g.Ho, g.Wo, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, d.index);
#else
          detail::no_cuda("max_pool2d backward");
#endif
        } else {
          cpu::max_pool2d_backward(dx.data<float>(), gy.data<float>(), ip, g.planes, g.H, g.W,
                                   g.Ho, g.Wo);
        }
        return {dx};
      });
}

Variable upsample_nearest2d(const Variable& x, std::array<int64_t, 2> scale) {
  const char* op = "upsample_nearest2d";
  detail::check_args(op, {{"x", &x}});
  VQ_CHECK(ShapeError, x.dim() == 3 || x.dim() == 4, op,
                    ": expected x [B, C, H, W] or [C, H, W], got ", x.value().str());
  VQ_CHECK(ConfigError, scale[0] >= 1 && scale[1] >= 1, op,
                     ": scale_factor must be an integer >= 1, got (", scale[0], ", ", scale[1],
                     ")");
  const int64_t H = x.size(-2), W = x.size(-1), sh = scale[0], sw = scale[1];
  const int64_t planes = x.numel() / std::max<int64_t>(H * W, 1);
  Shape ys = x.shape();
  ys[ys.size() - 2] = H * sh;
  ys[ys.size() - 1] = W * sw;
  const Device dev = x.device();
  Tensor xc = x.value().contiguous();
  Tensor y = Tensor::empty(ys, DType::f32, dev);
  if (dev.is_cuda()) {
#ifdef VQ_WITH_CUDA
    cuda::upsample_nearest2d_forward(y.data<float>(), xc.data<float>(), planes, H, W, sh, sw,
                                     dev.index);
#else
    detail::no_cuda(op);
#endif
  } else {
    cpu::upsample_nearest2d_forward(y.data<float>(), xc.data<float>(), planes, H, W, sh, sw);
  }
  const Shape xs = x.shape();
  // y[i, j] = x[i / sh, j / sw]:  dx[i, j] = sum of dy over its sh x sw block
  return make_result(
      "upsample_nearest2d", y, {x}, {},
      [xs, planes, H, W, sh, sw](const Tensor& grad, const BackwardContext&) -> std::vector<Tensor> {
        Tensor gy = grad.contiguous();
        const Device d = gy.device();
        Tensor dx = Tensor::empty(xs, DType::f32, d);
        if (d.is_cuda()) {
#ifdef VQ_WITH_CUDA
          cuda::upsample_nearest2d_backward(dx.data<float>(), gy.data<float>(), planes, H, W, sh,
                                            sw, d.index);
#else
          detail::no_cuda("upsample_nearest2d backward");
#endif
        } else {
          cpu::upsample_nearest2d_backward(dx.data<float>(), gy.data<float>(), planes, H, W, sh,
                                           sw);
        }
        return {dx};
      });
}

}  // namespace vq::nn
