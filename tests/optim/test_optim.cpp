// Optimizers, clipping and schedules: hand-computed steps, options (momentum, Nesterov,
// decay, AMSGrad, maximize), skipping parameters without gradients, state_dict, the
// version bump of the in-place update, error messages, and a small MLP trained on a
// synthetic regression to a stated loss.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/functions.h"
#include "nn/nn.h"
#include "optim/optim.h"

using namespace vq;

namespace {
Variable param(float v) { return Variable(Tensor::from_vector({v}, {1}), true); }
float val(const Variable& p) { return p.value().to_vector<float>()[0]; }
void set_grad(Variable& p, float g) { p.set_grad(Tensor::from_vector({g}, {1})); }
}  // namespace

TEST_CASE("optim: SGD steps by hand (plain, momentum, Nesterov, decay, maximize)") {
  Variable p = param(1.f);
  optim::SGDOptions o;
  o.lr = 0.1;
  optim::SGD plain({p}, o);
  set_grad(p, 0.5f);
  plain.step();
  CHECK(val(p) == doctest::Approx(0.95));

  Variable m = param(1.f);
  o.momentum = 0.9;
  optim::SGD mom({m}, o);
  set_grad(m, 1.f);
  mom.step();  // buf = g = 1 (no dampening on the first step)
  CHECK(val(m) == doctest::Approx(0.9));
  mom.step();  // buf = 0.9 * 1 + 1 = 1.9
  CHECK(val(m) == doctest::Approx(0.71));
  CHECK(mom.state_dict().at("0.momentum_buffer").to_vector<float>()[0] == doctest::Approx(1.9));

  Variable n = param(1.f);
  o.nesterov = true;
  optim::SGD nes({n}, o);
  set_grad(n, 1.f);
  nes.step();  // g + 0.9 buf = 1.9
  CHECK(val(n) == doctest::Approx(0.81));

  Variable d = param(2.f);
  optim::SGDOptions od;
  od.lr = 0.1;
  od.weight_decay = 0.5;
  od.maximize = true;
  optim::SGD dec({d}, od);
  set_grad(d, 1.f);
  dec.step();  // g = -1 + 0.5 * 2 = 0: unchanged
  CHECK(val(d) == doctest::Approx(2.0));
}

TEST_CASE("optim: Adam / AdamW first steps by hand, AMSGrad state, skipped parameters") {
  // step 1: m_hat = g, sqrt(v_hat) = |g|, so p -= lr * g / (|g| + eps)
  Variable a = param(1.f), b = param(5.f);
  optim::AdamOptions o;
  o.lr = 0.1;
  optim::Adam adam({a, b}, o);
  set_grad(a, 2.f);  // b has no gradient: skipped, no state
  adam.step();
  CHECK(val(a) == doctest::Approx(0.9));
  CHECK(val(b) == 5.f);
  auto sd = adam.state_dict();
  CHECK(sd.count("0.step") == 1);
  CHECK(sd.count("1.step") == 0);
  CHECK(sd.at("0.step").item<int64_t>() == 1);
  CHECK(sd.at("0.exp_avg").to_vector<float>()[0] == doctest::Approx(0.2));
  CHECK(sd.at("0.exp_avg_sq").to_vector<float>()[0] == doctest::Approx(0.004));

  // coupled decay changes the gradient only (normalized away on step 1);
  // decoupled decay shrinks the parameter first: 1 * (1 - 0.1 * 0.1) - 0.1
  Variable c = param(1.f), w = param(1.f);
  o.weight_decay = 0.1;
  optim::Adam coupled({c}, o);
  set_grad(c, 2.f);
  coupled.step();
  CHECK(val(c) == doctest::Approx(0.9));
  optim::AdamWOptions ow;
  ow.lr = 0.1;
  ow.weight_decay = 0.1;
  optim::AdamW adamw({w}, ow);
  set_grad(w, 2.f);
  adamw.step();
  CHECK(val(w) == doctest::Approx(0.89));
  CHECK(optim::AdamWOptions().weight_decay == 0.01);

  // AMSGrad keeps the running max of v: 0.004 after g = 2, then v = 0.999 * 0.004
  Variable s = param(1.f);
  optim::AdamOptions oa;
  oa.amsgrad = true;
  optim::Adam ams({s}, oa);
  set_grad(s, 2.f);
  ams.step();
  set_grad(s, 0.f);
  ams.step();
  auto st = ams.state_dict();
  CHECK(st.at("0.exp_avg_sq").to_vector<float>()[0] == doctest::Approx(0.999 * 0.004));
  CHECK(st.at("0.max_exp_avg_sq").to_vector<float>()[0] == doctest::Approx(0.004));

  // maximize ascends
  Variable up = param(0.f);
  optim::AdamOptions om;
  om.lr = 0.5;
  om.maximize = true;
  optim::Adam asc({up}, om);
  set_grad(up, 3.f);
  asc.step();
  CHECK(val(up) == doctest::Approx(0.5));
}

TEST_CASE("optim: state_dict round trip continues the same trajectory") {
  Variable a = param(1.f), b = param(1.f);
  optim::AdamOptions o;
  o.lr = 0.05;
  optim::Adam first({a}, o), second({b}, o);
  for (int i = 0; i < 3; ++i) {
    set_grad(a, 1.f + i);
    first.step();
  }
  b.value().copy_(a.value());
  second.load_state_dict(first.state_dict());
  set_grad(a, -2.f);
  set_grad(b, -2.f);
  first.step();
  second.step();
  CHECK(val(a) == val(b));
  auto bad = first.state_dict();
  bad["0.exp_avg"] = Tensor::zeros({2});
  CHECK_THROWS_WITH_AS(second.load_state_dict(bad),
                       doctest::Contains("Adam.load_state_dict: '0.exp_avg' has shape [2] but the "
                                         "optimizer expects [1]"),
                       ShapeError);
  bad = first.state_dict();
  bad["7.step"] = Tensor::zeros({}, DType::i64);
  CHECK_THROWS_WITH_AS(second.load_state_dict(bad), doctest::Contains("unexpected key '7.step'"),
                       ConfigError);
}

TEST_CASE("optim: the in-place update invalidates graphs that saved the parameter") {
  Variable w = param(3.f);
  Variable y = ag::mul(w, w);  // saves w
  optim::SGDOptions o;
  o.lr = 0.1;
  optim::SGD sgd({w}, o);
  set_grad(w, 1.f);
  sgd.step();
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("modified in place"), AutogradError);
  sgd.zero_grad();
  CHECK_FALSE(w.has_grad());
}

TEST_CASE("optim: errors name the optimizer and the option") {
  Variable p = param(1.f);
  optim::SGDOptions s;
  s.nesterov = true;
  CHECK_THROWS_WITH_AS(optim::SGD({p}, s),
                       doctest::Contains("SGD: nesterov momentum requires a momentum > 0 and zero dampening"),
                       ConfigError);
  s = optim::SGDOptions();
  s.lr = -1;
  CHECK_THROWS_WITH_AS(optim::SGD({p}, s), doctest::Contains("SGD: invalid learning rate lr=-1"),
                       ConfigError);
  optim::AdamOptions a;
  a.beta2 = 1.0;
  CHECK_THROWS_WITH_AS(optim::Adam({p}, a),
                       doctest::Contains("Adam: invalid beta parameter at index 1: 1"), ConfigError);
  a = optim::AdamOptions();
  a.eps = -1e-8;
  CHECK_THROWS_WITH_AS(optim::AdamW({p}, optim::AdamWOptions()).set_lr(-0.5),
                       doctest::Contains("AdamW: invalid learning rate lr=-0.5"), ConfigError);
  CHECK_THROWS_WITH_AS(optim::Adam({p}, a), doctest::Contains("Adam: invalid epsilon value"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(optim::Adam({}, optim::AdamOptions()),
                       doctest::Contains("Adam: got an empty parameter list"), ConfigError);
  CHECK_THROWS_WITH_AS(optim::Adam({p, p}, optim::AdamOptions()),
                       doctest::Contains("Adam: parameter 1 appears more than once"), ConfigError);
  Variable frozen(Tensor::ones({2}), false);
  CHECK_THROWS_WITH_AS(optim::SGD({frozen}, optim::SGDOptions()),
                       doctest::Contains("SGD: parameter 0 is undefined or does not require grad"),
                       ConfigError);
}

TEST_CASE("optim: clip_grad_norm_ by hand") {
  Variable a(Tensor::zeros({2}), true), b(Tensor::zeros({1}), true), none(Tensor::zeros({3}), true);
  a.set_grad(Tensor::from_vector({3, 0}, {2}));
  b.set_grad(Tensor::from_vector({4}, {1}));
  Tensor n = optim::clip_grad_norm_({a, none, b}, 10.0);  // none has no grad: ignored
  CHECK(n.dim() == 0);
  CHECK(n.item<float>() == doctest::Approx(5.0));
  CHECK(a.grad().to_vector<float>() == std::vector<float>{3, 0});  // not clipped
  n = optim::clip_grad_norm_({a, b}, 1.0);
  CHECK(n.item<float>() == doctest::Approx(5.0));
  CHECK(a.grad().to_vector<float>()[0] == doctest::Approx(0.6));
  CHECK(b.grad().to_vector<float>()[0] == doctest::Approx(0.8));
  CHECK(optim::clip_grad_norm_({none}, 1.0).item<float>() == 0.f);
  CHECK_THROWS_WITH_AS(optim::clip_grad_norm_({a}, 1.0, 1.0),
                       doctest::Contains("clip_grad_norm_: only norm_type 2 is supported"),
                       ConfigError);
  b.set_grad(Tensor::from_vector({INFINITY}, {1}));
  CHECK_THROWS_WITH_AS(optim::clip_grad_norm_({a, b}, 1.0, 2.0, true),
                       doctest::Contains("clip_grad_norm_: the total norm of the gradients is non-finite"),
                       Error);
}

TEST_CASE("optim: learning-rate schedules by hand") {
  optim::LinearWarmup lw(1.0, 4, 0.25);
  CHECK(lw.lr_at(0) == doctest::Approx(0.25));
  CHECK(lw.lr_at(2) == doctest::Approx(0.625));
  CHECK(lw.lr_at(4) == doctest::Approx(1.0));
  CHECK(lw.lr_at(40) == doctest::Approx(1.0));
  optim::CosineAnnealing ca(1.0, 10, 0.0);
  CHECK(ca.lr_at(0) == doctest::Approx(1.0));
  CHECK(ca.lr_at(5) == doctest::Approx(0.5));
  CHECK(ca.lr_at(10) == doctest::Approx(0.0));
  CHECK(ca.lr_at(25) == doctest::Approx(0.0));
  optim::WarmupCosine wc(1.0, 4, 14, 0.1);
  CHECK(wc.lr_at(0) == doctest::Approx(0.0));
  CHECK(wc.lr_at(2) == doctest::Approx(0.5));
  CHECK(wc.lr_at(4) == doctest::Approx(1.0));
  CHECK(wc.lr_at(9) == doctest::Approx(0.55));
  CHECK(wc.lr_at(14) == doctest::Approx(0.1));
  CHECK(wc.lr_at(99) == doctest::Approx(0.1));
  Variable p = param(1.f);
  optim::SGD sgd({p}, optim::SGDOptions());
  wc.apply(sgd, 2);
  CHECK(sgd.lr() == doctest::Approx(0.5));
  CHECK_THROWS_WITH_AS(optim::WarmupCosine(1.0, 5, 5), doctest::Contains("WarmupCosine: need 0 <= warmup_steps < total_steps"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(ca.lr_at(-1), doctest::Contains("CosineAnnealing: step must be >= 0"),
                       ConfigError);
}

TEST_CASE("optim: an MLP trained with AdamW on a synthetic regression reaches MSE < 1e-3") {
  // y = 0.5 sin(3 x0) + x1^2 - 0.3 x0 x1 on 256 points of [-1, 1]^2, full batch.
  Generator gen(2024);
  const int64_t N = 256;
  Tensor X = Tensor::rand({N, 2}, gen, cpu_device(), -1.f, 1.f);
  std::vector<float> xv = X.to_vector<float>(), yv(N);
  for (int64_t i = 0; i < N; ++i) {
    const float a = xv[2 * i], b = xv[2 * i + 1];
    yv[i] = 0.5f * std::sin(3 * a) + b * b - 0.3f * a * b;
  }
  Variable x(X), y(Tensor::from_vector(yv, {N, 1}));
  nn::MLPOptions mo;
  mo.activation = "tanh";
  nn::MLP model({2, 32, 32, 1}, mo, gen);
  optim::AdamWOptions oo;
  oo.lr = 1e-2;
  oo.weight_decay = 1e-4;
  optim::AdamW opt(model.parameters(), oo);
  const int steps = 600;
  optim::WarmupCosine sched(1e-2, 20, steps, 1e-4);
  auto loss_fn = [&] {
    Variable d = model.forward(x) - y;
    return ag::mean(d * d);
  };
  const float initial = loss_fn().value().item<float>();
  float loss = initial;
  for (int s = 0; s < steps; ++s) {
    sched.apply(opt, s);
    opt.zero_grad();
    Variable l = loss_fn();
    loss = l.value().item<float>();
    l.backward();
    optim::clip_grad_norm_(model.parameters(), 1.0);
    opt.step();
  }
  loss = loss_fn().value().item<float>();
  MESSAGE("MLP regression: MSE ", initial, " -> ", loss, " after ", steps, " AdamW steps");
  CHECK(initial > 0.05f);
  CHECK(loss < 1e-3f);
}
