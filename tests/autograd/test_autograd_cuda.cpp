// Autograd on CUDA vs CPU: composite graphs (an MLP with a softmax loss, a
// vector-quantization step with straight-through and detach, an indexing/shape
// mix) run on both devices from the same inputs, comparing outputs and every input
// gradient; finite-difference checks directly on the GPU; gradients across to().
// Runs in vq_cuda_tests, which reports itself skipped without a GPU.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>

#include "autograd/functions.h"
#include "kernels/ops.h"
#include "tests/support/gradcheck.h"

using namespace vq;

namespace {
using Vars = std::vector<Variable>;
const Device kGpu{DeviceType::CUDA, 0};

void check_close(const std::string& what, const Tensor& cpu_t, const Tensor& gpu_t, double atol = 1e-4,
                 double rtol = 1e-4) {
  REQUIRE(gpu_t.device() == kGpu);
  REQUIRE(cpu_t.shape() == gpu_t.shape());
  std::vector<float> a = cpu_t.contiguous().to_vector<float>();
  std::vector<float> b = gpu_t.to(Device()).contiguous().to_vector<float>();
  int bad = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double err = std::abs(static_cast<double>(a[i]) - b[i]);
    if (!(err <= atol + rtol * std::abs(a[i]))) {
      if (bad++ < 3) FAIL_CHECK(what << " element " << i << ": cpu " << a[i] << " vs cuda " << b[i]);
    }
  }
  CHECK_MESSAGE(bad == 0, what << ": " << bad << " of " << a.size() << " elements differ");
}

// Runs graph on CPU and CUDA leaves made from the same host inputs; the output is
// back-propagated with the same random projection; compares value and gradients.
void compare_devices(const std::string& name, const std::function<Variable(const Vars&)>& graph,
                     const std::vector<Tensor>& inputs, double tol = 1e-3) {
  Vars cpu_in, gpu_in;
  for (const Tensor& t : inputs) {
    cpu_in.emplace_back(t.clone(), true);
    gpu_in.emplace_back(t.to(kGpu), true);
  }
  Variable yc = graph(cpu_in);
  Variable yg = graph(gpu_in);
  check_close(name + " output", yc.value(), yg.value(), tol, tol);
  Generator gen(99);
  Tensor r = Tensor::randn(yc.shape(), gen);
  yc.backward(r);
  yg.backward(r.to(kGpu));
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string what = name + " grad of input " + std::to_string(i);
    REQUIRE_MESSAGE(yc.requires_grad(), what);
    REQUIRE_MESSAGE(cpu_in[i].has_grad() == gpu_in[i].has_grad(), what);
    if (cpu_in[i].has_grad()) check_close(what, cpu_in[i].grad(), gpu_in[i].grad(), tol, tol);
  }
}

Tensor on(const Tensor& t, Device d) { return t.to(d); }
}  // namespace

TEST_CASE("autograd cuda: MLP with a log-softmax loss matches CPU") {
  Generator gen(1);
  Tensor x = Tensor::randn({8, 6}, gen), w1 = Tensor::randn({6, 16}, gen, Device(), 0.f, 0.4f);
  Tensor b1 = Tensor::randn({16}, gen), w2 = Tensor::randn({16, 5}, gen, Device(), 0.f, 0.3f);
  Tensor target = ops::one_hot(Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 0, 1, 2}, {8}), 5,
                               DType::f32);
  compare_devices(
      "mlp",
      [&](const Vars& v) {
        Tensor t = on(target, v[0].device());
        Variable h = ag::gelu(ag::matmul(v[0], v[1]) + v[2]);
        Variable h2 = ag::silu(h) * ag::sigmoid(h) + ag::tanh(h);
        Variable logits = ag::matmul(h2, v[3]);
        Variable nll = ag::mean(ag::neg(ag::sum(ag::log_softmax(logits, 1) * Variable(t), {1})));
        Variable reg = ag::mean(ag::var(h, {0})) * 0.1 + ag::norm(v[1]) * 0.01;
        return nll + reg;
      },
      {x, w1, b1, w2});
}

TEST_CASE("autograd cuda: vector-quantization step with straight-through matches CPU") {
  Generator gen(2);
  Tensor x = Tensor::randn({12, 4}, gen), codebook = Tensor::randn({6, 4}, gen);
  compare_devices(
      "vq",
      [](const Vars& v) {
        const Variable &xv = v[0], &e = v[1];
        // squared distances |x|^2 - 2 x e^T + |e|^2, [12, 6]
        Variable d = ag::sum(xv * xv, {1}, true) - 2.0 * ag::matmul(xv, ag::transpose(e, 0, 1)) +
                     ag::reshape(ag::sum(e * e, {1}), {1, 6});
        Tensor idx = ag::min(d, 1).second;
        Variable q = ag::index_select(e, 0, idx);
        Variable commit = ag::mean(ag::pow(xv - ag::detach(q), 2.0));
        Variable code = ag::mean(ag::pow(q - ag::detach(xv), 2.0));
        Variable st = xv + ag::detach(q - xv);
        Variable soft = ag::mean(ag::logsumexp(ag::neg(d), 1));
        return ag::sum(ag::tanh(st), {1}) + commit * 0.25 + code + soft;
      },
      {x, codebook});
}

TEST_CASE("autograd cuda: indexing and shape graph matches CPU") {
  Generator gen(3);
  Tensor a = test::rand_distinct({4, 5}, gen), b = Tensor::randn({4, 5}, gen);
  Tensor c = Tensor::randn({2, 5, 3}, gen), d = Tensor::randn({2, 4, 3}, gen);
  Tensor gidx = Tensor::from_vector(std::vector<int64_t>{4, 0, 1, 1, 2, 3, 0, 0}, {4, 2});
  Tensor sidx = Tensor::from_vector(std::vector<int64_t>{2, 0, 2, 1}, {4});
  Tensor mask = Tensor::from_vector(std::vector<uint8_t>{1, 0, 0, 1, 0}, {5}, DType::boolean);
  std::vector<int64_t> sc(24);
  for (size_t i = 0; i < sc.size(); ++i) sc[i] = static_cast<int64_t>((i * 7 + 3) % 5);
  Tensor scidx = Tensor::from_vector(sc, {2, 4, 3});
  compare_devices(
      "indexing",
      [&](const Vars& v) {
        Device dev = v[0].device();
        Variable g = ag::gather(v[0], 1, on(gidx, dev));                        // [4, 2]
        Variable s = ag::index_add(v[1], 0, on(sidx, dev), ag::exp(v[0]), 0.5);  // [4, 5]
        Variable cs = ag::cumsum(ag::masked_fill(s, on(mask, dev), 0.0), 1);   // [4, 5]
        Variable tk = ag::topk(v[0], 3, 1).first;                               // [4, 3]
        Variable so = ag::sort(v[0] * v[1], 0, true).first;                     // [4, 5]
        auto pieces = ag::split(so, 2, 1);                                      // 2, 2, 1
        Variable mix = ag::cat({g, tk, pieces[0], ag::clamp(pieces[2], -0.5, 0.5)}, 1);  // [4, 8]
        Variable w = ag::where(on(mask, dev), ag::maximum(cs, v[1]), ag::minimum(cs, v[1]));
        Variable bm = ag::bmm(v[3], v[2], false, true);                           // [2, 4, 5]
        Variable st = ag::stack({w, ag::pad(ag::narrow(mix, 1, 0, 3), {0, 2})}, 0);  // [2, 4, 5]
        Variable sc = ag::scatter_add(st, 2, on(scidx, dev), ag::narrow(bm, 2, 0, 3));  // [2, 4, 5]
        return ag::softmax(bm + st, 2) + sc;
      },
      {a, b, c, d});
}

TEST_CASE("autograd cuda: finite differences on the GPU") {
  Generator gen(4);
  Tensor x = Tensor::randn({3, 4}, gen, kGpu), w = Tensor::randn({4, 2}, gen, kGpu);
  auto opt = [](const char* label) {
    test::GradCheckOptions o;
    o.label = label;
    return o;
  };
  test::check_gradients([](const Vars& v) { return ag::softmax(v[0], 1); }, {x}, opt("cuda softmax"));
  test::check_gradients([](const Vars& v) { return ag::matmul(v[0], v[1]); }, {x, w}, opt("cuda matmul"));
  test::check_gradients([](const Vars& v) { return ag::cumsum(v[0], 0); }, {x}, opt("cuda cumsum"));
  Tensor idx = Tensor::from_vector(std::vector<int64_t>{2, 0, 2}, {3}, kGpu);
  test::check_gradients([idx](const Vars& v) { return ag::index_select(v[0], 0, idx); }, {x},
                        opt("cuda index_select"));
  test::check_gradients([](const Vars& v) { return ag::var(v[0], {1}); }, {x}, opt("cuda var"));
}

TEST_CASE("autograd cuda: to() carries gradients across devices; engine on CUDA") {
  Variable x(Tensor::from_vector({0.f, 1.f}, {2}), true);  // CPU leaf
  Variable y = ag::to(ag::exp(ag::to(x, kGpu)), Device());
  CHECK(y.device() == Device());
  y.backward(Tensor::ones({2}));
  REQUIRE(x.grad().device() == Device());
  std::vector<float> g = x.grad().to_vector<float>();
  CHECK(g[0] == doctest::Approx(1.0));
  CHECK(g[1] == doctest::Approx(std::exp(1.0)));

  // accumulation, hooks and in-place detection with CUDA tensors
  Variable z(Tensor::from_vector({1.f, 2.f}, {2}, kGpu), true);
  int fired = 0;
  z.register_hook([&fired](Tensor& grad) {
    ++fired;
    CHECK(grad.device() == kGpu);
  });
  (z * z).backward(Tensor::ones({2}, DType::f32, kGpu));
  (z * 3.0).backward(Tensor::ones({2}, DType::f32, kGpu));
  CHECK(fired == 2);
  CHECK(z.grad().to(Device()).to_vector<float>() == std::vector<float>{5, 7});
  Variable e = ag::exp(z);
  e.value().fill_(0.0);
  CHECK_THROWS_WITH_AS(e.backward(Tensor::ones({2}, DType::f32, kGpu)),
                       doctest::Contains("exp: a tensor saved for backward was modified in place"),
                       AutogradError);
}
