// Nearest x2 upsampling fused into the following 3x3 convolution (see upsample_conv.h).
#include "apps/train/upsample_conv.h"

#include "autograd/functions.h"
#include "core/error.h"
#include "nn/functional.h"

namespace vq::app {

Variable upsample2x_conv3x3(const Variable& x, const Variable& weight, const Variable& bias) {
  check<ShapeError>(x.dim() == 4 && weight.dim() == 4 && weight.size(2) == 3 &&
                        weight.size(3) == 3 && weight.size(1) == x.size(1),
                    "upsample2x_conv3x3: expected x [B, C, H, W] and weight [O, C, 3, 3], got x=",
                    x.value().str(), " weight=", weight.value().str());
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), O = weight.size(0);
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
  // y[:, g O + o, i', j'] = sum_{s,t} K_g[o, :, s, t] x[:, :, i' + s - 1, j' + t - 1]
  const Variable y = nn::conv2d(x, k, b4, {1, 1}, {1, 1});  // [B, 4O, H+1, W+1]
  // parity (a, b) output (i, j) is y at (i + a, j + b) in group g
  std::vector<Variable> row_parities;
  for (int a = 0; a < 2; ++a) {
    std::vector<Variable> cols;
    for (int b = 0; b < 2; ++b) {
      Variable g = ag::narrow(y, 1, (2 * a + b) * O, O);
      cols.push_back(ag::narrow(ag::narrow(g, 2, a, H), 3, b, W));
    }
    row_parities.push_back(ag::reshape(ag::stack(cols, 4), {B, O, H, 2 * W}));
  }
  return ag::reshape(ag::stack(row_parities, 3), {B, O, 2 * H, 2 * W});
}

}  // namespace vq::app
