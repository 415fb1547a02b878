// CUDA vs CPU for the fused optimizer kernels and clip_grad_norm_: the same parameters
// and gradient sequence on both devices must give the same trajectory (the kernels use
// the same f32 operations in the same order, so the tolerance is a few ulps).
// Runs only where a GPU answers (vq_cuda_tests exits 77 otherwise).
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <memory>

#include "optim/optim.h"

using namespace vq;

namespace {

void expect_close(const std::string& what, const Tensor& a_t, const Tensor& b_t, double rtol = 1e-6,
                  double atol = 1e-7) {
  CHECK(b_t.device().is_cuda());
  std::vector<float> a = a_t.contiguous().to_vector<float>();
  std::vector<float> b = b_t.to(cpu_device()).contiguous().to_vector<float>();
  REQUIRE(a.size() == b.size());
  int64_t bad = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::fabs(double(a[i]) - b[i]) <= atol + rtol * std::fabs(double(a[i])))) ++bad;
  CHECK_MESSAGE(bad == 0, what, ": ", bad, "/", a.size(), " elements differ");
}

using MakeOpt = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Variable>)>;

void compare_trajectories(const std::string& label, const MakeOpt& make) {
  CAPTURE(label);
  Generator gen(9);
  const std::vector<Shape> shapes = {{64, 33}, {33}, {70001}};  // one above the CPU's parallel threshold
  std::vector<Variable> cp, gp;
  for (const Shape& s : shapes) {
    Tensor v = Tensor::randn(s, gen);
    cp.emplace_back(v.clone(), true);
    gp.emplace_back(v.to(cuda_device()), true);
  }
  auto co = make(cp), go = make(gp);
  for (int step = 0; step < 6; ++step) {
    for (size_t i = 0; i < shapes.size(); ++i) {
      if (step == 2 && i == 1) {  // a parameter without a gradient is skipped on both
        cp[i].set_grad(Tensor());
        gp[i].set_grad(Tensor());
        continue;
      }
      Tensor g = Tensor::randn(shapes[i], gen);
      cp[i].set_grad(g);
      gp[i].set_grad(g.to(cuda_device()));
    }
    co->step();
    go->step();
  }
  for (size_t i = 0; i < shapes.size(); ++i)
    expect_close(label + " param " + std::to_string(i), cp[i].value(), gp[i].value());
  auto cs = co->state_dict(), gs = go->state_dict();
  CHECK(cs.size() == gs.size());
  for (auto& kv : cs) {
    REQUIRE(gs.count(kv.first) == 1);
    if (kv.second.dtype() == DType::i64)
      CHECK(kv.second.item<int64_t>() == gs.at(kv.first).item<int64_t>());
    else
      expect_close(label + " state " + kv.first, kv.second, gs.at(kv.first));
  }
}

}  // namespace

TEST_CASE("cuda optim: SGD, Adam, AdamW trajectories equal the CPU's") {
  compare_trajectories("SGD momentum dampening wd", [](std::vector<Variable> p) {
    optim::SGDOptions o;
    o.lr = 0.05;
    o.momentum = 0.9;
    o.dampening = 0.1;
    o.weight_decay = 0.01;
    return std::make_unique<optim::SGD>(std::move(p), o);
  });
  compare_trajectories("SGD nesterov maximize", [](std::vector<Variable> p) {
    optim::SGDOptions o;
    o.lr = 0.1;
    o.momentum = 0.8;
    o.nesterov = true;
    o.maximize = true;
    return std::make_unique<optim::SGD>(std::move(p), o);
  });
  compare_trajectories("Adam coupled wd", [](std::vector<Variable> p) {
    optim::AdamOptions o;
    o.lr = 1e-2;
    o.beta1 = 0.8;
    o.beta2 = 0.95;
    o.eps = 1e-6;
    o.weight_decay = 0.1;
    return std::make_unique<optim::Adam>(std::move(p), o);
  });
  compare_trajectories("AdamW amsgrad", [](std::vector<Variable> p) {
    optim::AdamWOptions o;
    o.lr = 3e-3;
    o.amsgrad = true;
    return std::make_unique<optim::AdamW>(std::move(p), o);
  });
}

TEST_CASE("cuda optim: clip_grad_norm_ equals the CPU's, without reading back") {
  Generator gen(10);
  for (double max_norm : {1.0, 1e6}) {
    CAPTURE(max_norm);
    std::vector<Variable> cp, gp;
    for (Shape s : {Shape{300, 40}, Shape{7}, Shape{100000}}) {
      Tensor g = Tensor::randn(s, gen);
      cp.emplace_back(Tensor::zeros(s), true);
      gp.emplace_back(Tensor::zeros(s, DType::f32, cuda_device()), true);
      cp.back().set_grad(g);
      gp.back().set_grad(g.to(cuda_device()));
    }
    Tensor ct = optim::clip_grad_norm_(cp, max_norm), gt = optim::clip_grad_norm_(gp, max_norm);
    CHECK(gt.device().is_cuda());
    CHECK(gt.dim() == 0);
    expect_close("total_norm", ct, gt, 1e-6, 0);
    for (size_t i = 0; i < cp.size(); ++i)
      expect_close("clipped grad " + std::to_string(i), cp[i].grad(), gp[i].grad(), 2e-6, 1e-9);
  }
}
