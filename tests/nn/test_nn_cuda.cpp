// CUDA vs CPU for the layer kernels: conv2d (including the chunked path of the CUDA
// launcher), max_pool2d, upsample_nearest2d, layer_norm, group_norm, linear and
// dropout. Each case runs the same function on the same inputs on both devices,
// back-propagates the same output gradient, and compares values and every input
// gradient. Runs only where a GPU answers (vq_cuda_tests exits 77 otherwise).
#include <doctest/doctest.h>

#include <cmath>
#include <functional>

#include "autograd/functions.h"
#include "kernels/cpu/conv.h"
#ifdef VQ_WITH_CUDA
#include "kernels/cuda/conv.h"
#endif
#include "kernels/ops.h"
#include "nn/nn.h"
#include "tests/support/gradcheck.h"

using namespace vq;

namespace {

using Vars = std::vector<Variable>;
using Fn = std::function<Variable(const Vars&)>;

// |a - b| <= atol + rtol |a| elementwise (exact equality when both are 0), with a
// readable message otherwise.
void expect_close(const std::string& what, const Tensor& cpu_t, const Tensor& cuda_t, double rtol,
                  double atol) {
  REQUIRE(cuda_t.defined());
  CHECK(cuda_t.device().is_cuda());
  REQUIRE(cpu_t.shape() == cuda_t.shape());
  std::vector<float> a = cpu_t.contiguous().to_vector<float>();
  std::vector<float> b = cuda_t.to(cpu_device()).contiguous().to_vector<float>();
  int64_t bad = 0, worst = -1;
  double worst_err = -1;
  for (size_t i = 0; i < a.size(); ++i) {
    const double err = std::fabs(double(a[i]) - b[i]);
    const double excess = err - (atol + rtol * std::fabs(double(a[i])));
    if (!(excess <= 0)) {
      ++bad;
      if (!(excess <= worst_err)) {
        worst_err = excess;
        worst = static_cast<int64_t>(i);
      }
    }
  }
  CHECK_MESSAGE(bad == 0, what, ": ", bad, "/", a.size(), " elements differ; worst at ", worst,
                ": cpu ", (worst >= 0 ? a[worst] : 0.f), " cuda ", (worst >= 0 ? b[worst] : 0.f));
}

// Runs fn on CPU and CUDA copies of `inputs` (all requiring grad), backward with one
// random output gradient, compares the output and each input gradient.
void compare_devices(const std::string& label, const Fn& fn, const std::vector<Tensor>& inputs,
                     double rtol = 1e-5, double atol = 1e-5) {
  CAPTURE(label);
  Vars cv, gv;
  for (const Tensor& t : inputs) {
    cv.emplace_back(t.clone(), true);
    gv.emplace_back(t.to(cuda_device()), true);
  }
  Variable cy = fn(cv);
  Generator gen(77);
  Tensor gy = Tensor::randn(cy.shape(), gen);
  cy.backward(gy);
  Variable dy = fn(gv);
  dy.backward(gy.to(cuda_device()));
  expect_close(label + " value", cy.value(), dy.value(), rtol, atol);
  for (size_t i = 0; i < inputs.size(); ++i)
    expect_close(label + " grad of input " + std::to_string(i), cv[i].grad(), gv[i].grad(), rtol,
                 atol);
}

}  // namespace

TEST_CASE("cuda nn: conv2d forward and backward equal the CPU's") {
  Generator gen(1);
  struct Case {
    Shape x, w;
    std::array<int64_t, 2> stride, pad;
  };
  const Case cases[] = {
      {{2, 3, 8, 8}, {4, 3, 3, 3}, {1, 1}, {1, 1}},
      {{3, 2, 9, 7}, {5, 2, 3, 3}, {2, 2}, {1, 1}},
      {{2, 1, 7, 7}, {3, 1, 3, 3}, {2, 2}, {0, 0}},
      {{2, 3, 6, 7}, {2, 3, 2, 3}, {1, 2}, {0, 1}},
      {{4, 4, 5, 5}, {6, 4, 1, 1}, {1, 1}, {0, 0}},
      {{9, 16, 14, 14}, {32, 16, 3, 3}, {1, 1}, {1, 1}},  // the example's second layer, small batch
  };
  for (const Case& c : cases) {
    Tensor x = Tensor::randn(c.x, gen), w = Tensor::randn(c.w, gen), b = Tensor::randn({c.w[0]}, gen);
    auto st = c.stride, pd = c.pad;
    compare_devices("conv2d x=" + shape_str(c.x) + " w=" + shape_str(c.w),
                    [st, pd](const Vars& v) { return nn::conv2d(v[0], v[1], v[2], st, pd); },
                    {x, w, b}, 1e-4, 1e-4);
    compare_devices("conv2d no bias x=" + shape_str(c.x),
                    [st, pd](const Vars& v) { return nn::conv2d(v[0], v[1], Variable(), st, pd); },
                    {x, w}, 1e-4, 1e-4);
  }
}

#ifdef VQ_WITH_CUDA  // calls the raw launcher, which exists only in CUDA builds
TEST_CASE("cuda nn: conv2d launcher in small chunks equals one chunk and the CPU") {
  // Scratch capped so that each chunk holds 2 images: exercises the b0 > 0 offsets and
  // the accumulation of dW across chunks.
  Generator gen(2);
  cpu::Conv2dGeometry g;
  g.B = 7;
  g.C = 3;
  g.H = 6;
  g.W = 5;
  g.O = 4;
  g.KH = 3;
  g.KW = 3;
  g.SH = 1;
  g.SW = 2;
  g.PH = 1;
  g.PW = 1;
  g.infer_output();
  Tensor x = Tensor::randn({g.B, g.C, g.H, g.W}, gen), w = Tensor::randn({g.O, g.C, g.KH, g.KW}, gen);
  Tensor bias = Tensor::randn({g.O}, gen), dy = Tensor::randn({g.B, g.O, g.Ho, g.Wo}, gen);
  Tensor y = Tensor::empty({g.B, g.O, g.Ho, g.Wo}), dx = Tensor::empty(x.shape()),
         dw = Tensor::empty(w.shape()), db = Tensor::empty({g.O});
  cpu::conv2d_forward(y.data<float>(), x.data<float>(), w.data<float>(), bias.data<float>(), g);
  cpu::conv2d_backward(dx.data<float>(), dw.data<float>(), db.data<float>(), dy.data<float>(),
                       x.data<float>(), w.data<float>(), g);
  const Device dev = cuda_device();
  Tensor xg = x.to(dev), wg = w.to(dev), bg = bias.to(dev), dyg = dy.to(dev);
  const int64_t per_image = g.ckk() * g.p() + g.O * g.ckk();
  for (int64_t cap : {int64_t(0), 2 * per_image, int64_t(1)}) {
    CAPTURE(cap);
    Tensor yg = Tensor::empty(y.shape(), DType::f32, dev), dxg = Tensor::empty(x.shape(), DType::f32, dev),
           dwg = Tensor::empty(w.shape(), DType::f32, dev), dbg = Tensor::empty({g.O}, DType::f32, dev);
    cuda::conv2d_forward(yg.data<float>(), xg.data<float>(), wg.data<float>(), bg.data<float>(), g,
                         dev.index, cap);
    cuda::conv2d_backward(dxg.data<float>(), dwg.data<float>(), dbg.data<float>(), dyg.data<float>(),
                          xg.data<float>(), wg.data<float>(), g, dev.index, cap);
    expect_close("y", y, yg, 1e-4, 1e-4);
    expect_close("dx", dx, dxg, 1e-4, 1e-4);
    expect_close("dw", dw, dwg, 1e-4, 1e-4);
    expect_close("dbias", db, dbg, 1e-4, 1e-4);
  }
}
#endif

TEST_CASE("cuda nn: max_pool2d and upsample equal the CPU's exactly") {
  Generator gen(3);
  Tensor x = Tensor::randn({3, 4, 9, 8}, gen);
  // Integer-valued input: many ties, so the first-maximum rule is compared too.
  Tensor xi = ops::round(ops::mul(Tensor::randn({2, 3, 7, 7}, gen), 2.0));
  for (const Tensor& in : {x, xi}) {
    compare_devices("max_pool2d k2", [](const Vars& v) { return nn::max_pool2d(v[0], {2, 2}, {2, 2}); },
                    {in}, 0, 0);
    compare_devices("max_pool2d k3 s2 p1",
                    [](const Vars& v) { return nn::max_pool2d(v[0], {3, 3}, {2, 2}, {1, 1}); }, {in}, 0, 0);
    compare_devices("max_pool2d k(3,2) s1 overlapping",
                    [](const Vars& v) { return nn::max_pool2d(v[0], {3, 2}, {1, 1}, {1, 0}); }, {in}, 0, 0);
  }
  compare_devices("upsample x2", [](const Vars& v) { return nn::upsample_nearest2d(v[0], {2, 2}); },
                  {x}, 0, 0);
  compare_devices("upsample (3,1)", [](const Vars& v) { return nn::upsample_nearest2d(v[0], {3, 1}); },
                  {x}, 0, 0);
}

TEST_CASE("cuda nn: layer_norm and group_norm equal the CPU's") {
  Generator gen(4);
  for (int64_t D : {5, 32, 100, 1000}) {
    Tensor x = Tensor::randn({37, D}, gen), g = Tensor::randn({D}, gen), b = Tensor::randn({D}, gen);
    compare_devices("layer_norm D=" + std::to_string(D),
                    [D](const Vars& v) { return nn::layer_norm(v[0], {D}, v[1], v[2]); }, {x, g, b});
    compare_devices("layer_norm plain D=" + std::to_string(D),
                    [D](const Vars& v) { return nn::layer_norm(v[0], {D}); }, {x});
  }
  Tensor tall = Tensor::randn({300, 16}, gen), tg = Tensor::randn({16}, gen), tb = Tensor::randn({16}, gen);
  compare_devices("layer_norm 300 rows (several row chunks)",
                  [](const Vars& v) { return nn::layer_norm(v[0], {16}, v[1], v[2]); }, {tall, tg, tb});
  for (int64_t G : {1, 2, 8}) {
    Tensor x = Tensor::randn({3, 8, 5, 6}, gen), g = Tensor::randn({8}, gen), b = Tensor::randn({8}, gen);
    compare_devices("group_norm G=" + std::to_string(G),
                    [G](const Vars& v) { return nn::group_norm(v[0], G, v[1], v[2]); }, {x, g, b});
    compare_devices("group_norm no affine G=" + std::to_string(G),
                    [G](const Vars& v) { return nn::group_norm(v[0], G); }, {x});
  }
  Tensor big = Tensor::randn({2, 32, 28, 28}, gen), bg = Tensor::randn({32}, gen), bb = Tensor::randn({32}, gen);
  compare_devices("group_norm 28x28", [](const Vars& v) { return nn::group_norm(v[0], 8, v[1], v[2]); },
                  {big, bg, bb});
}

TEST_CASE("cuda nn: linear, activations, dropout mask, modules moved with to()") {
  Generator gen(5);
  Tensor x = Tensor::randn({4, 3, 16}, gen), w = Tensor::randn({8, 16}, gen), b = Tensor::randn({8}, gen);
  compare_devices("linear", [](const Vars& v) { return nn::linear(v[0], v[1], v[2]); }, {x, w, b}, 1e-4, 1e-4);
  for (const char* a : {"relu", "gelu", "gelu_tanh", "silu", "tanh"}) {
    auto layer = nn::make_activation(a);
    compare_devices(a, [layer](const Vars& v) { return layer->forward(v[0]); }, {x}, 1e-5, 1e-6);
  }
  compare_devices("dropout",
                  [](const Vars& v) {
                    Generator g(11);
                    return nn::dropout(v[0], 0.3, true, g);
                  },
                  {x}, 0, 0);
  Generator pg(6);
  nn::Conv2d conv(2, 3, 3, 1, 1, true, pg);
  Tensor img = Tensor::randn({2, 2, 6, 6}, gen);
  Tensor cpu_y = conv.forward(Variable(img)).value();
  conv.to(cuda_device());
  CHECK(conv.weight().device().is_cuda());
  expect_close("Conv2d module on cuda", cpu_y, conv.forward(Variable(img.to(cuda_device()))).value(),
               1e-4, 1e-4);
}
