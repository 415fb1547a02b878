// Layers as Modules: parameter names and state_dict keys equal torch's, PyTorch's
// default initialization distributions, train/eval behaviour, repr, and
// nn/init.h (fans, gains, kaiming / xavier / orthogonal).
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "autograd/functions.h"
#include "nn/nn.h"

using namespace vq;

namespace {
std::set<std::string> keys(const nn::Module& m) {
  std::set<std::string> out;
  for (const auto& kv : m.state_dict()) out.insert(kv.first);
  return out;
}
struct Stats {
  double mean = 0, std = 0, min = 1e30, max = -1e30;
};
Stats stats(const Tensor& t) {
  std::vector<float> v = t.contiguous().to_vector<float>();
  Stats s;
  for (float e : v) {
    s.mean += e;
    s.min = std::min<double>(s.min, e);
    s.max = std::max<double>(s.max, e);
  }
  s.mean /= v.size();
  for (float e : v) s.std += (e - s.mean) * (e - s.mean);
  s.std = std::sqrt(s.std / v.size());
  return s;
}
}  // namespace

TEST_CASE("nn modules: state_dict keys match torch") {
  nn::Linear lin(8, 4);
  CHECK(keys(lin) == std::set<std::string>{"weight", "bias"});
  CHECK(lin.state_dict().at("weight").shape() == Shape{4, 8});
  CHECK(keys(nn::Linear(8, 4, false)) == std::set<std::string>{"weight"});
  nn::Conv2d conv(3, 16, 3, 1, 1);
  CHECK(conv.state_dict().at("weight").shape() == Shape{16, 3, 3, 3});
  CHECK(conv.state_dict().at("bias").shape() == Shape{16});
  CHECK(keys(nn::LayerNorm({8})) == std::set<std::string>{"weight", "bias"});
  CHECK(keys(nn::LayerNorm({8}, 1e-5, false)).empty());
  CHECK(keys(nn::LayerNorm({8}, 1e-5, true, false)) == std::set<std::string>{"weight"});
  CHECK(keys(nn::GroupNorm(2, 4)) == std::set<std::string>{"weight", "bias"});
  CHECK(keys(nn::GroupNorm(2, 4, 1e-5, false)).empty());
  // nn.Sequential(Conv2d(1, 16, 3, padding=1), MaxPool2d(2), GELU(), Conv2d(16, 32, 3, padding=1))
  nn::Sequential seq;
  seq.add(std::make_shared<nn::Conv2d>(1, 16, 3, 1, 1));
  seq.add(std::make_shared<nn::MaxPool2d>(2));
  seq.add(std::make_shared<nn::GELU>());
  seq.add(std::make_shared<nn::Conv2d>(16, 32, 3, 1, 1));
  CHECK(keys(seq) == std::set<std::string>{"0.weight", "0.bias", "3.weight", "3.bias"});
  nn::MLP mlp({4, 8, 8, 2});
  CHECK(keys(mlp) == std::set<std::string>{"0.weight", "0.bias", "2.weight", "2.bias",
                                           "4.weight", "4.bias"});
  CHECK(mlp.size() == 5);
  nn::MLPOptions o;
  o.dropout = 0.1;
  o.activate_last = true;
  CHECK(nn::MLP({4, 8, 2}, o).size() == 5);  // Linear, act, Dropout, Linear, act
}

TEST_CASE("nn modules: load_state_dict round trip through a Sequential") {
  Generator g1(1), g2(2);
  nn::MLP a({3, 6, 2}, nn::MLPOptions(), g1), b({3, 6, 2}, nn::MLPOptions(), g2);
  Variable x(Tensor::randn({5, 3}, g1));
  CHECK(a.forward(x).value().to_vector<float>() != b.forward(x).value().to_vector<float>());
  b.load_state_dict(a.state_dict());
  CHECK(a.forward(x).value().to_vector<float>() == b.forward(x).value().to_vector<float>());
  auto sd = a.state_dict();
  sd.erase("2.bias");
  CHECK_THROWS_WITH_AS(b.load_state_dict(sd), doctest::Contains("missing keys [2.bias]"),
                       ConfigError);
}

TEST_CASE("nn modules: PyTorch default initializations") {
  Generator gen(3);
  // Linear(in): weight and bias uniform on +-1/sqrt(in): std bound/sqrt(3)
  nn::Linear lin(400, 300, true, gen);
  const double bound = 1.0 / std::sqrt(400.0);
  Stats w = stats(lin.weight().value());
  CHECK(w.min >= -bound);
  CHECK(w.max <= bound);
  CHECK(w.max > 0.99 * bound);
  CHECK(std::fabs(w.mean) < 1e-3);
  CHECK(w.std == doctest::Approx(bound / std::sqrt(3.0)).epsilon(0.01));
  Stats b = stats(lin.bias().value());
  CHECK(b.min >= -bound);
  CHECK(b.max <= bound);
  // Conv2d(cin, cout, 3): +-1/sqrt(cin * 9)
  nn::Conv2d conv(16, 64, 3, 1, 1, true, gen);
  const double cb = 1.0 / std::sqrt(16.0 * 9.0);
  Stats cw = stats(conv.weight().value());
  CHECK(cw.min >= -cb);
  CHECK(cw.max <= cb);
  CHECK(cw.std == doctest::Approx(cb / std::sqrt(3.0)).epsilon(0.02));
  Stats cbias = stats(conv.bias().value());
  CHECK(cbias.max <= cb);
  CHECK(cbias.min >= -cb);
  // norm layers: gain 1, bias 0
  nn::LayerNorm ln({6});
  CHECK(ln.weight().value().to_vector<float>() == std::vector<float>(6, 1.f));
  CHECK(ln.bias().value().to_vector<float>() == std::vector<float>(6, 0.f));
  nn::GroupNorm gn(2, 4);
  CHECK(gn.weight().value().to_vector<float>() == std::vector<float>(4, 1.f));
  CHECK(gn.bias().value().to_vector<float>() == std::vector<float>(4, 0.f));
}

TEST_CASE("nn init: fans, gains, kaiming, xavier, orthogonal") {
  // SPEC 0: a codebook (h, K, d) has fan_in K*d, not d
  nn::init::Fans f = nn::init::calculate_fans({2, 512, 32});
  CHECK(f.fan_in == 512 * 32);
  CHECK(f.fan_out == 2 * 32);
  CHECK(nn::init::calculate_fans({16, 3, 3, 3}).fan_in == 27);
  CHECK_THROWS_WITH_AS(nn::init::calculate_fans({5}),
                       doctest::Contains("fewer than 2 dimensions, got [5]"), ShapeError);
  CHECK(nn::init::calculate_gain("relu") == doctest::Approx(std::sqrt(2.0)));
  CHECK(nn::init::calculate_gain("tanh") == doctest::Approx(5.0 / 3.0));
  CHECK(nn::init::calculate_gain("leaky_relu", std::sqrt(5.0)) == doctest::Approx(std::sqrt(1.0 / 3.0)));
  CHECK_THROWS_AS(nn::init::calculate_gain("swish"), ConfigError);

  Generator gen(4);
  Tensor k = Tensor::empty({256, 128});
  nn::init::kaiming_uniform_(k, 0.0, nn::init::FanMode::fan_in, "leaky_relu", gen);
  const double kb = std::sqrt(6.0 / 128.0);
  Stats ks = stats(k);
  CHECK(ks.max <= kb);
  CHECK(ks.min >= -kb);
  CHECK(ks.std == doctest::Approx(kb / std::sqrt(3.0)).epsilon(0.02));
  Tensor xn = Tensor::empty({200, 300});
  nn::init::xavier_normal_(xn, 1.0, gen);
  CHECK(stats(xn).std == doctest::Approx(std::sqrt(2.0 / 500.0)).epsilon(0.02));
  Tensor xu = Tensor::empty({200, 300});
  nn::init::xavier_uniform_(xu, 2.0, gen);
  CHECK(stats(xu).max <= 2.0 * std::sqrt(6.0 / 500.0));
  Tensor kn = Tensor::empty({300, 200});
  nn::init::kaiming_normal_(kn, 0.0, nn::init::FanMode::fan_out, "relu", gen);
  CHECK(stats(kn).std == doctest::Approx(std::sqrt(2.0) / std::sqrt(300.0)).epsilon(0.02));

  // orthogonal: rows <= cols gives orthonormal rows, rows >= cols orthonormal columns
  for (Shape s : {Shape{3, 5}, Shape{5, 3}, Shape{4, 2, 2}}) {
    Tensor q = Tensor::empty(s);
    nn::init::orthogonal_(q, 1.0, gen);
    const int64_t r = s[0], c = q.numel() / r;
    std::vector<float> v = q.to_vector<float>();
    const bool rows = r <= c;
    const int64_t n = rows ? r : c, len = rows ? c : r;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double dot = 0;
        for (int64_t k2 = 0; k2 < len; ++k2)
          dot += rows ? double(v[i * c + k2]) * v[j * c + k2] : double(v[k2 * c + i]) * v[k2 * c + j];
        CHECK(dot == doctest::Approx(i == j ? 1.0 : 0.0).epsilon(1e-5).scale(1.0));
      }
  }
  Tensor g2 = Tensor::empty({4, 4});
  nn::init::orthogonal_(g2, 2.0, gen);
  double n0 = 0;
  for (int j = 0; j < 4; ++j) n0 += std::pow(g2.to_vector<float>()[j], 2);
  CHECK(std::sqrt(n0) == doctest::Approx(2.0).epsilon(1e-5));
}

TEST_CASE("nn modules: train/eval, Identity, Dropout layer, repr, to(cpu)") {
  Generator gen(8);
  nn::Sequential seq;
  auto drop = seq.add(std::make_shared<nn::Dropout>(0.5, gen));
  seq.add(std::make_shared<nn::Identity>());
  Variable x(Tensor::ones({1000}));
  CHECK(seq.is_training());
  Variable y = seq.forward(x);
  CHECK(y.value().to_vector<float>() != x.value().to_vector<float>());
  seq.eval();
  CHECK_FALSE(drop->is_training());
  CHECK(seq.forward(x).same(x));
  seq.train();
  CHECK(drop->is_training());

  CHECK(nn::Linear(8, 4).repr() == "Linear(in_features=8, out_features=4, bias=True)");
  CHECK(nn::Conv2d(1, 16, 3, 1, 1).repr() ==
        "Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))");
  CHECK(nn::LayerNorm({8}).repr() == "LayerNorm((8,), eps=1e-05, elementwise_affine=True)");
  CHECK(nn::MaxPool2d(2).repr() == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))");
  CHECK(nn::MLP({2, 3}).repr() ==
        "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n)");

  // to(cpu) keeps parameter identity, so an optimizer holding them stays valid
  nn::Linear lin(3, 2);
  Variable w = lin.weight();
  lin.to(cpu_device());
  CHECK(w.same(lin.weight()));
  CHECK(lin.parameters().size() == 2);
}
