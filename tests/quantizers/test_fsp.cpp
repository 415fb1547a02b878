// FSP (quantizers/fsp.h): the reference's tests/test_fsp.py cases (SPEC 20.2: CDF round
// trips, basic shapes, eval / channel-first / projection round trips, index encoding,
// quantize_rate=1 determinism, a Linear -> FSP -> Linear training step), a hand-computed
// forward and gradient, VectorNorm by hand and by gradcheck, the need_inv_act identity
// gradient, the training perturbation by its statistics, option errors.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/functions.h"
#include "kernels/ops.h"
#include "nn/linear.h"
#include "quantizers/fsp.h"
#include "quantizers/quantizer.h"
#include "tests/quantizers/vq_test_util.h"
#include "tests/support/gradcheck.h"

using namespace vq;

namespace {

std::shared_ptr<FSP> make_fsp(const nlohmann::json& cfg) {
  return std::make_shared<FSP>(FSPOptions::from_json(cfg));
}

constexpr double kSqrt12 = 3.4641016151377544;

}  // namespace

TEST_CASE("fsp: CDF activations lie in (0, 1) and invert within 1e-4 (reference test 1)") {
  const Tensor x = test::randn({64, 10}, 11);
  for (const char* name : {"tanh", "sigmoid", "normal", "laplace", "cauchy"}) {
    INFO(name);
    const FspActivation a = parse_fsp_activation(name);
    const Tensor p = fsp_act(a, Variable(x)).value();
    CHECK(ops::amin(p).item<float>() > 0.f);
    CHECK(ops::amax(p).item<float>() < 1.f);
    CHECK(test::max_abs_diff(fsp_inv_act(a, p), x) < 1e-4);
  }
  // known values: normal CDF(1) = 0.841344746, cauchy CDF(1) = 0.75, laplace CDF(-1) = e^-1 / 2
  const Tensor one = Tensor::from_vector({1.f, -1.f}, {2});
  const auto n = fsp_act(FspActivation::normal, Variable(one)).value().to_vector<float>();
  CHECK(n[0] == doctest::Approx(0.841344746).epsilon(1e-6));
  CHECK(fsp_act(FspActivation::cauchy, Variable(one)).value().to_vector<float>()[0] == doctest::Approx(0.75));
  CHECK(fsp_act(FspActivation::laplace, Variable(one)).value().to_vector<float>()[1] ==
        doctest::Approx(0.5 * std::exp(-1.0)).epsilon(1e-6));
  CHECK(fsp_inv_act(FspActivation::normal, Tensor::from_vector({0.975f}, {1})).to_vector<float>()[0] ==
        doctest::Approx(1.959964).epsilon(1e-5));
}

TEST_CASE("fsp: activation gradients (gradcheck, every CDF)") {
  const Tensor z = Tensor::from_vector({-1.3f, -0.4f, 0.3f, 0.9f, 1.7f, -2.2f}, {2, 3});
  for (const char* name : {"tanh", "sigmoid", "normal", "laplace", "cauchy"}) {
    const FspActivation a = parse_fsp_activation(name);
    auto fn = [a](const std::vector<Variable>& v) { return fsp_act(a, v[0]); };
    test::GradCheckOptions opt;
    opt.label = std::string("fsp_act ") + name;
    opt.eps = 1e-3;
    test::check_gradients(fn, {z}, opt);
  }
}

TEST_CASE("fsp: basic shapes, norm loss 0 with vector_norm none (reference test 2)") {
  auto q = make_fsp({{"levels", {8, 5, 5, 5}}, {"act_name", "normal"}, {"vector_norm", "none"}});
  const Tensor x = test::randn({1, 1024, 4}, 1);
  const FSPOutput o = q->forward(Variable(x));
  CHECK(o.quantized.shape() == x.shape());
  CHECK(o.indices.shape() == Shape{1, 1024});
  CHECK(o.indices.dtype() == DType::i64);
  CHECK(o.norm_loss.value().item<float>() == 0.f);
  CHECK(o.level_indices.shape() == Shape{1, 1024, 4});
  CHECK(o.mean.shape() == Shape{4});
  CHECK(q->codebook_size() == 1000);
}

TEST_CASE("fsp: eval round trip with the defaults (reference test 3), decode = get_output_from_indices") {
  auto q = make_fsp({{"levels", {8, 5, 5, 5}}});
  q->eval();
  const FSPOutput o = q->forward(Variable(test::randn({1, 1024, 4}, 2)));
  CHECK(test::max_abs_diff(o.quantized.value(), q->indices_to_codes(o.indices)) < 1e-5);
  CHECK(test::max_abs_diff(o.quantized.value(), q->get_output_from_indices(o.indices)) < 1e-5);
  CHECK(ops::amin(o.indices.to(DType::f32)).item<float>() >= 0.f);
  CHECK(ops::amax(o.indices.to(DType::f32)).item<float>() < 1000.f);
}

TEST_CASE("fsp: index encoding, first dimension least significant (reference test 4)") {
  auto q = make_fsp({{"levels", {8, 5, 5, 5}}});
  const Tensor top = Tensor::from_vector(std::vector<int64_t>{7, 4, 4, 4}, {1, 4});
  CHECK(q->level_indices_to_indices(top).to_vector<int64_t>()[0] == 999);
  CHECK(q->indices_to_level_indices(Tensor::from_vector(std::vector<int64_t>{999}, {1})).to_vector<int64_t>() ==
        std::vector<int64_t>{7, 4, 4, 4});
  CHECK(q->level_indices_to_indices(Tensor::zeros({1, 4}, DType::i64)).to_vector<int64_t>()[0] == 0);
  // 1 + 8 * 2 + 40 * 3 + 200 * 1 = 337
  const Tensor l = Tensor::from_vector(std::vector<int64_t>{1, 2, 3, 1}, {4});
  CHECK(q->level_indices_to_indices(l).to_vector<int64_t>()[0] == 337);
  CHECK(q->indices_to_level_indices(Tensor::from_vector(std::vector<int64_t>{337}, {1})).to_vector<int64_t>() ==
        std::vector<int64_t>{1, 2, 3, 1});
  // bin centres (level + 0.5) / L
  const auto c = q->indices_to_act_value(Tensor::from_vector(std::vector<int64_t>{337}, {})).to_vector<float>();
  CHECK(c == std::vector<float>{1.5f / 8, 2.5f / 5, 3.5f / 5, 1.5f / 5});
}

TEST_CASE("fsp: quantize_rate=1 in training is deterministic (reference test 5)") {
  auto q = make_fsp({{"levels", {8, 5, 5, 5}}, {"quantize_rate", 1.0}});
  CHECK(q->is_training());
  const Tensor x = test::randn({2, 16, 4}, 3);
  const FSPOutput a = q->forward(Variable(x)), b = q->forward(Variable(x));
  CHECK(test::max_abs_diff(a.quantized.value(), b.quantized.value()) == 0.0);
  CHECK_FALSE(a.p_accept_prob.defined());
}

TEST_CASE("fsp: channel-first image and projection round trips (reference tests 6, 7)") {
  auto img = make_fsp({{"levels", {8, 5, 5, 5}}, {"channel_first", true}});
  img->eval();
  const FSPOutput o = img->forward(Variable(test::randn({2, 4, 8, 8}, 4)));
  CHECK(o.quantized.shape() == Shape{2, 4, 8, 8});
  CHECK(o.indices.shape() == Shape{2, 8, 8});
  CHECK(test::max_abs_diff(o.quantized.value(), img->indices_to_codes(o.indices)) < 1e-5);

  auto proj = make_fsp({{"levels", {8, 5, 5, 5}}, {"dim", 256}});
  proj->eval();
  CHECK(proj->has_projections());
  const FSPOutput p = proj->forward(Variable(test::randn({1, 64, 256}, 5)));
  CHECK(p.indices.shape() == Shape{1, 64});
  CHECK(test::max_abs_diff(p.quantized.value(), proj->indices_to_codes(p.indices)) < 1e-4);
  auto sd = proj->state_dict();
  CHECK(sd.size() == 4);  // project_in/out weight and bias; _levels, _basis are not stored
  CHECK(sd.count("project_out.bias") == 1);

  // need_inv_act: decode uses eps 1e-6, the forward the dtype's eps: equal away from the ends
  auto inv = make_fsp({{"levels", {8, 5, 5, 5}}, {"need_inv_act", true}});
  inv->eval();
  const FSPOutput i = inv->forward(Variable(test::randn({1, 64, 4}, 6)));
  CHECK(test::max_abs_diff(i.quantized.value(), inv->indices_to_codes(i.indices)) < 1e-5);
}

TEST_CASE("fsp: Linear -> FSP(dim 256) -> Linear trains with finite gradients (reference test 8, f32 and f64)") {
  Generator gen(42);
  nn::Linear l1(256, 256, true, gen), l2(256, 256, true, gen);
  auto q = make_fsp({{"levels", {8, 5, 5, 5}}, {"dim", 256}});
  Variable x(test::randn({2, 64, 256}, 7), true);
  const FSPOutput o = q->forward(l1.forward(x));
  CHECK(o.quantized.dtype() == DType::f32);
  CHECK(o.indices.dtype() == DType::i64);
  CHECK(ops::amin(o.indices.to(DType::f32)).item<float>() >= 0.f);
  CHECK(ops::amax(o.indices.to(DType::f32)).item<float>() < 1000.f);
  ag::add(ag::sum(l2.forward(o.quantized)), o.norm_loss).backward();
  CHECK(test::all_finite(x.grad()));
  for (auto& p : q->parameters()) CHECK(test::all_finite(p.grad()));
  for (auto& p : l1.parameters()) CHECK(test::all_finite(p.grad()));
  for (auto& p : l2.parameters()) CHECK(test::all_finite(p.grad()));
  // f64 input: computed in f32, returned as f64
  const FSPOutput d = q->forward(Variable(test::randn({2, 8, 256}, 8).to(DType::f64)));
  CHECK(d.quantized.dtype() == DType::f64);
}

TEST_CASE("fsp: a hand-computed forward and gradient (tanh, L = 4)") {
  // z = 0: a = 0.5, level floor(2) = 2, centre 2.5 / 4 = 0.625, q = 0.125 * sqrt(12);
  // z = -1: a = (tanh(-1) + 1) / 2 = 0.1192029, level 0, centre 0.125 (= -0.375 sqrt 12)
  auto q = make_fsp({{"levels", {4}}, {"quantize_rate", 1.0}});
  Variable z(Tensor::from_vector({0.f, -1.f}, {2, 1}), true);
  const FSPOutput o = q->forward(z);
  const auto v = o.quantized.value().to_vector<float>();
  CHECK(v[0] == doctest::Approx(0.125 * kSqrt12).epsilon(1e-6));
  CHECK(v[1] == doctest::Approx(-0.375 * kSqrt12).epsilon(1e-6));
  CHECK(o.indices.to_vector<int64_t>() == std::vector<int64_t>{2, 0});
  ag::sum(o.quantized).backward();
  // straight-through: d q / d z = act'(z) sqrt(12) = (1 - tanh^2) / 2 sqrt(12)
  const auto g = z.grad().to_vector<float>();
  const double t = std::tanh(-1.0);
  CHECK(g[0] == doctest::Approx(0.5 * kSqrt12).epsilon(1e-5));
  CHECK(g[1] == doctest::Approx((1 - t * t) / 2 * kSqrt12).epsilon(1e-5));
}

TEST_CASE("fsp: need_inv_act passes the gradient straight to the pre-activation") {
  auto q = make_fsp({{"levels", {8, 5}}, {"need_inv_act", true}, {"vector_norm", "none"}, {"quantize_rate", 1.0}});
  Variable z(test::randn({3, 2}, 9), true);
  const FSPOutput o = q->forward(z);
  const Tensor g = test::randn({3, 2}, 10);
  ag::sum(ag::mul(o.quantized, Variable(g))).backward();
  CHECK(test::max_abs_diff(z.grad(), g) == 0.0);
  // the value is the inverse CDF of the bin centre: atanh(2 c - 1)
  const Tensor c = q->indices_to_act_value(o.indices);
  CHECK(test::max_abs_diff(o.quantized.value(), fsp_inv_act(FspActivation::tanh, c)) < 1e-5);
}

TEST_CASE("fsp: VectorNorm by hand and by gradcheck") {
  // column 0 = (1, 2, 3, 6): mean 3, unbiased var 14 / 3, std 2.1602469; z = (-2, -1, 0, 3) / std:
  // skew = mean(z^3) = (-8 - 1 + 27) / 4 / std^3, kurt = (16 + 1 + 81) / 4 / std^4 - 3
  const Tensor Z = Tensor::from_vector({1.f, 0.f, 2.f, 0.f, 3.f, 0.f, 6.f, 0.f}, {4, 2});
  VectorNormSpec s = VectorNormSpec::preset("kurt");
  const VectorNormResult r = vector_norm(Variable(Z), s);
  const double var = 14.0 / 3, sd = std::sqrt(var);
  const double skew = 18.0 / 4 / std::pow(sd, 3), kurt = 98.0 / 4 / std::pow(sd, 4) - 3;
  CHECK(r.mean.value().to_vector<float>()[0] == doctest::Approx(3.0));
  CHECK(r.variance.value().to_vector<float>()[0] == doctest::Approx(var));
  CHECK(r.skewness.value().to_vector<float>()[0] == doctest::Approx(skew));
  CHECK(r.kurtosis.value().to_vector<float>()[0] == doctest::Approx(kurt));
  // column 1 is constant: std clamps to 1e-8, z = 0, skew 0, kurt -3
  CHECK(r.kurtosis.value().to_vector<float>()[1] == doctest::Approx(-3.0));
  const double want = 0.1 * (9.0 + 0.0) / 2 + 0.07 * ((var - 1) * (var - 1) + 1.0) / 2 +
                      0.06 * (skew * skew) / 2 + 0.05 * ((kurt * kurt) + 9.0) / 2;
  CHECK(r.loss.value().item<float>() == doctest::Approx(want).epsilon(1e-5));

  const Tensor X = Tensor::from_vector({0.3f, -1.2f, 1.1f, 0.4f, -0.7f, 0.9f, 0.2f, -0.1f, 1.6f, -0.5f}, {5, 2});
  auto fn = [&s](const std::vector<Variable>& v) { return vector_norm(v[0], s).loss; };
  test::GradCheckOptions opt;
  opt.label = "VectorNorm kurt";
  opt.eps = 1e-3;
  test::check_gradients(fn, {X}, opt);
}

TEST_CASE("fsp: training perturbation (quantize_rate 0 and 0.5) by its statistics") {
  const int64_t L = 5;
  const Tensor x = ops::mul(test::randn({4000, 1}, 12), 0.3);
  auto centre_of = [](const Tensor& out) { return ops::add(ops::div(out, kSqrt12), 0.5); };
  auto q0 = make_fsp({{"levels", {L}}});  // default quantize_rate 0: every scalar perturbed
  const FSPOutput o = q0->forward(Variable(x));
  REQUIRE(o.p_accept_prob.defined());
  CHECK(o.p_accept_prob.item<float>() > 0.99f);
  const Tensor a = fsp_act(FspActivation::tanh, Variable(x)).value();
  const auto qa = centre_of(o.quantized.value()).to_vector<float>();
  const auto av = a.to_vector<float>();
  double sum = 0, sum_sq = 0, max_abs = 0;
  for (size_t i = 0; i < qa.size(); ++i) {
    const double d = qa[i] - av[i];
    sum += d, sum_sq += d * d, max_abs = std::max(max_abs, std::fabs(d));
  }
  const double n = static_cast<double>(qa.size()), half = 1.0 / (2 * L);
  CHECK(max_abs <= half + 1e-6);
  CHECK(std::fabs(sum / n) < 4 * half / std::sqrt(3 * n));         // mean 0
  CHECK(sum_sq / n == doctest::Approx(half * half / 3).epsilon(0.1));  // var of U[-h, h]

  auto q5 = make_fsp({{"levels", {L}}, {"quantize_rate", 0.5}});
  const FSPOutput h = q5->forward(Variable(x));
  const auto qh = centre_of(h.quantized.value()).to_vector<float>();
  const auto cen = q5->indices_to_act_value(h.indices).to_vector<float>();
  int64_t at_centre = 0;
  for (size_t i = 0; i < qh.size(); ++i) at_centre += std::fabs(qh[i] - cen[i]) < 1e-6;
  CHECK(static_cast<double>(at_centre) / n == doctest::Approx(0.5).epsilon(0.08));
  // eval always quantizes
  q5->eval();
  const FSPOutput e = q5->forward(Variable(x));
  CHECK(test::max_abs_diff(centre_of(e.quantized.value()), q5->indices_to_act_value(e.indices)) < 1e-6);
}

TEST_CASE("fsp: generic call, registry and option errors") {
  auto q = make_quantizer("FSP", {{"levels", {8, 5, 5, 5}}});
  QuantizerCall c;
  c.x = Variable(test::randn({1, 8, 4}, 13));
  c.kwargs = {{"eps", 1e-3}};
  const QuantizerOutput o = q->call(c);
  CHECK(o.indices.shape() == Shape{1, 8});
  CHECK(o.loss.defined());
  c.kwargs = {{"epsilon", 1e-3}};
  CHECK_THROWS_WITH_AS(q->call(c), doctest::Contains("'epsilon'"), ConfigError);

  CHECK_THROWS_WITH_AS(make_fsp({{"levels", {8, 5}}, {"quantize_rate", 1.5}}), doctest::Contains("quantize_rate"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(make_fsp({{"levels", {8, 5}}, {"act_name", "relu"}}), doctest::Contains("act_name"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(make_fsp({{"levels", {8, 5}}, {"vector_norm", "big"}}), doctest::Contains("vector_norm"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(make_fsp({{"levels", std::vector<int64_t>{}}}), doctest::Contains("levels"), ConfigError);
  CHECK_THROWS_WITH_AS(make_fsp({{"levels", {8, 0}}}), doctest::Contains("levels"), ConfigError);
  CHECK_THROWS_WITH_AS(make_fsp({{"levels", {8, 5}}, {"dims", 4}}), doctest::Contains("'dims'"), ConfigError);
  auto f = make_fsp({{"levels", {8, 5}}});
  CHECK_THROWS_WITH_AS(f->forward(Variable(test::randn({2, 3, 4}, 14))),
                       doctest::Contains("expected dimension of 2 but found dimension of 4"), ShapeError);
}
