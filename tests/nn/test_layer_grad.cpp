// Finite-difference gradient checks of every layer function and layer of nn/ (with
// respect to the input and every parameter), on small shapes, over the option
// combinations that take different code paths (stride, padding, bias, affine,
// overlapping pooling windows, rectangular kernels and scales).
#include <doctest/doctest.h>

#include "autograd/functions.h"
#include "nn/nn.h"
#include "tests/support/gradcheck.h"

using namespace vq;
using test::check_gradients;
using test::GradCheckOptions;

namespace {
using Vars = std::vector<Variable>;
GradCheckOptions named(const std::string& label, double atol = 2e-3, double rtol = 1e-2) {
  GradCheckOptions o;
  o.label = label;
  o.atol = atol;
  o.rtol = rtol;
  return o;
}
}  // namespace

TEST_CASE("nn grad: linear with and without bias, batched input") {
  Generator gen(1);
  Tensor x = Tensor::randn({2, 3, 4}, gen), w = Tensor::randn({5, 4}, gen),
         b = Tensor::randn({5}, gen);
  check_gradients([](const Vars& v) { return nn::linear(v[0], v[1], v[2]); }, {x, w, b},
                  named("linear bias"));
  check_gradients([](const Vars& v) { return nn::linear(v[0], v[1]); }, {x, w},
                  named("linear no bias"));
  Tensor x1 = Tensor::randn({4}, gen);  // rank-1 input
  check_gradients([](const Vars& v) { return nn::linear(v[0], v[1], v[2]); }, {x1, w, b},
                  named("linear rank-1"));
}

TEST_CASE("nn grad: conv2d stride, padding, bias, rectangular kernels") {
  Generator gen(2);
  struct Case {
    Shape x, w;
    std::array<int64_t, 2> stride, pad;
    bool bias;
  };
  const Case cases[] = {
      {{2, 2, 5, 5}, {3, 2, 3, 3}, {1, 1}, {1, 1}, true},   // the common 3x3 "same" conv
      {{2, 2, 6, 6}, {3, 2, 3, 3}, {2, 2}, {1, 1}, false},  // strided, no bias
      {{1, 1, 7, 7}, {2, 1, 3, 3}, {2, 2}, {0, 0}, true},   // no padding, odd size
      {{2, 3, 4, 5}, {2, 3, 2, 3}, {1, 2}, {0, 1}, true},   // rectangular kernel and stride
      {{1, 4, 3, 3}, {2, 4, 1, 1}, {1, 1}, {0, 0}, true},   // pointwise
      {{5, 1, 4, 4}, {2, 1, 3, 3}, {1, 1}, {1, 1}, true},   // batch > one dW group (4 images)
      {{2, 2, 5, 6}, {3, 2, 3, 1}, {1, 1}, {1, 0}, true},   // flat-shift path, rows only
      {{2, 1, 6, 5}, {2, 1, 5, 5}, {1, 1}, {2, 2}, true},   // flat-shift path, 5x5 "same"
      {{1, 2, 4, 5}, {2, 2, 3, 3}, {1, 1}, {2, 2}, true},   // stride 1 but Wo > W (row path)
      {{1, 2, 5, 5}, {2, 2, 3, 3}, {1, 1}, {0, 0}, false},  // stride 1, Wo < W (row path)
  };
  for (const Case& c : cases) {
    Tensor x = Tensor::randn(c.x, gen), w = Tensor::randn(c.w, gen),
           b = Tensor::randn({c.w[0]}, gen);
    const std::string tag = "conv2d x=" + shape_str(c.x) + " w=" + shape_str(c.w);
    auto st = c.stride, pd = c.pad;
    if (c.bias)
      check_gradients([st, pd](const Vars& v) { return nn::conv2d(v[0], v[1], v[2], st, pd); },
                      {x, w, b}, named(tag));
    else
      check_gradients([st, pd](const Vars& v) { return nn::conv2d(v[0], v[1], Variable(), st, pd); },
                      {x, w}, named(tag));
  }
}

TEST_CASE("nn grad: max_pool2d without ties, overlapping and padded windows") {
  Generator gen(3);
  // Distinct values 0.05 apart: central differences (eps 1e-2) never swap the argmax.
  Tensor x = test::rand_distinct({2, 2, 5, 5}, gen, -4.f, 4.f, 0.03f);
  check_gradients([](const Vars& v) { return nn::max_pool2d(v[0], {2, 2}, {2, 2}); }, {x},
                  named("max_pool2d k2"));
  check_gradients([](const Vars& v) { return nn::max_pool2d(v[0], {3, 3}, {2, 2}, {1, 1}); },
                  {x}, named("max_pool2d k3 s2 p1"));
  check_gradients([](const Vars& v) { return nn::max_pool2d(v[0], {3, 2}, {1, 1}); }, {x},
                  named("max_pool2d k(3,2) s1 (overlapping)"));
  Tensor x3 = test::rand_distinct({2, 4, 4}, gen, -4.f, 4.f, 0.03f);
  check_gradients([](const Vars& v) { return nn::max_pool2d(v[0], {2, 2}, {2, 2}); }, {x3},
                  named("max_pool2d rank 3"));
}

TEST_CASE("nn grad: upsample_nearest2d") {
  Generator gen(4);
  Tensor x = Tensor::randn({2, 2, 3, 3}, gen);
  check_gradients([](const Vars& v) { return nn::upsample_nearest2d(v[0], {2, 2}); }, {x},
                  named("upsample x2"));
  check_gradients([](const Vars& v) { return nn::upsample_nearest2d(v[0], {3, 2}); }, {x},
                  named("upsample (3,2)"));
}

TEST_CASE("nn grad: layer_norm and group_norm with and without affine") {
  Generator gen(5);
  Tensor x = Tensor::randn({3, 2, 6}, gen), g = Tensor::randn({6}, gen),
         b = Tensor::randn({6}, gen);
  check_gradients([](const Vars& v) { return nn::layer_norm(v[0], {6}, v[1], v[2]); }, {x, g, b},
                  named("layer_norm affine"));
  check_gradients([](const Vars& v) { return nn::layer_norm(v[0], {6}); }, {x},
                  named("layer_norm plain"));
  Tensor g2 = Tensor::randn({2, 6}, gen);
  check_gradients([](const Vars& v) { return nn::layer_norm(v[0], {2, 6}, v[1]); }, {x, g2},
                  named("layer_norm 2-D shape, weight only"));

  Tensor xg = Tensor::randn({2, 6, 2, 3}, gen), gg = Tensor::randn({6}, gen),
         bg = Tensor::randn({6}, gen);
  check_gradients([](const Vars& v) { return nn::group_norm(v[0], 3, v[1], v[2]); }, {xg, gg, bg},
                  named("group_norm 3 groups affine"));
  check_gradients([](const Vars& v) { return nn::group_norm(v[0], 2); }, {xg},
                  named("group_norm no affine"));
  Tensor xs = Tensor::randn({2, 4, 5}, gen), gs = Tensor::randn({4}, gen),
         bs = Tensor::randn({4}, gen);
  check_gradients([](const Vars& v) { return nn::group_norm(v[0], 1, v[1], v[2]); }, {xs, gs, bs},
                  named("group_norm one group, sequence input"));
  check_gradients([](const Vars& v) { return nn::group_norm(v[0], 4, v[1], v[2]); }, {xs, gs, bs},
                  named("group_norm one channel per group"));
}

TEST_CASE("nn grad: activation layers, dropout, Sequential and MLP") {
  Generator gen(6);
  Tensor x = test::rand_signed({2, 3, 4}, gen, 0.1f, 2.f);
  for (const char* a : {"relu", "gelu", "gelu_tanh", "silu", "tanh", "identity"}) {
    auto layer = nn::make_activation(a);
    if (std::string(a) == "identity") continue;  // returns its input: no graph to check
    check_gradients([layer](const Vars& v) { return layer->forward(v[0]); }, {x},
                    named(std::string("activation ") + a));
  }
  // Dropout: a fresh generator per call gives the same mask each time.
  check_gradients(
      [](const Vars& v) {
        Generator g(99);
        return nn::dropout(v[0], 0.4, true, g);
      },
      {x}, named("dropout p=0.4"));
  // A small conv net in the style of the reference's autoencoder example, w.r.t. its
  // input (no max pooling here: near-ties of a random net could flip under the
  // finite-difference step; pooling is checked above on well-separated inputs).
  Generator pg(7);
  auto net = std::make_shared<nn::Sequential>();
  net->add(std::make_shared<nn::Conv2d>(1, 4, 3, 2, 1, true, pg));
  net->add(std::make_shared<nn::GroupNorm>(2, 4));
  net->add(std::make_shared<nn::SiLU>());
  net->add(std::make_shared<nn::Upsample>(2));
  net->add(std::make_shared<nn::Conv2d>(4, 1, 3, 1, 1, true, pg));
  Tensor img = Tensor::randn({2, 1, 4, 4}, gen);
  check_gradients([net](const Vars& v) { return net->forward(v[0]); }, {img},
                  named("conv/groupnorm/silu/pool/upsample/conv stack", 3e-3, 2e-2));
  nn::MLPOptions mo;
  mo.activation = "tanh";
  nn::MLP mlp({3, 5, 2}, mo, pg);
  Tensor xm = Tensor::randn({4, 3}, gen);
  check_gradients([&mlp](const Vars& v) { return mlp.forward(v[0]); }, {xm}, named("MLP tanh"));
}
