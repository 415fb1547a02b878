// BinaryMapper (quantizers/binary_mapper.h): the reference module's own example (its
// __main__ block: shapes, log_prob by indices and by one-hot, deterministic eval), a
// hand-computed straight-through forward and gradient, the aux KL loss and log_prob by
// hand and by gradcheck, Bernoulli sampling by its statistics, defaults per mode,
// decode, option and shape errors.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/functions.h"
#include "kernels/ops.h"
#include "quantizers/binary_mapper.h"
#include "quantizers/quantizer.h"
#include "tests/quantizers/vq_test_util.h"
#include "tests/support/gradcheck.h"

using namespace vq;

namespace {

std::shared_ptr<BinaryMapper> make_bm(const nlohmann::json& cfg) {
  return std::make_shared<BinaryMapper>(BinaryMapperOptions::from_json(cfg));
}

double sig(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

TEST_CASE("binary mapper: the reference's example (bits 8, unreduced aux, log_prob, deterministic eval)") {
  auto bm = make_bm({{"bits", 8}});
  const Tensor logits = test::randn({3, 4, 8}, 1);
  BinaryMapperCall c;
  c.reduce_aux_kl_loss = false;
  const BinaryMapperOutput o = bm->forward(Variable(logits), c);
  CHECK(o.one_hot.shape() == Shape{3, 4, 256});
  CHECK(o.indices.shape() == Shape{3, 4});
  CHECK(o.aux_kl_loss.shape() == Shape{3, 4});
  const Variable lp = bm->log_prob(Variable(logits), o.indices);
  CHECK(lp.shape() == Shape{3, 4});
  const Variable lp1 = bm->log_prob_one_hot(Variable(logits), o.one_hot.value());
  CHECK(test::max_abs_diff(lp.value(), lp1.value()) < 1e-6);
  CHECK(bm->log_prob(Variable(logits), o.indices, false).shape() == Shape{3, 4, 8});
  bm->eval();
  BinaryMapperCall d;
  d.deterministic = true;
  const BinaryMapperOutput a = bm->forward(Variable(logits), d), b = bm->forward(Variable(logits), d);
  CHECK(test::max_abs_diff(a.one_hot.value(), b.one_hot.value()) == 0.0);
  CHECK(a.aux_kl_loss.value().item<float>() == 0.f);  // eval: no aux loss by default
  CHECK_FALSE(a.one_hot.requires_grad());
}

TEST_CASE("binary mapper: hand-computed straight-through forward and gradient (bits 2)") {
  auto bm = make_bm({{"bits", 2}});
  Variable l(Tensor::from_vector({2.f, -1.f}, {1, 2}), true);
  BinaryMapperCall c;
  c.deterministic = true;
  c.calc_aux_loss = false;
  const BinaryMapperOutput o = bm->forward(l, c);
  // bit 0 set (p = sigmoid(2) > 0.5), bit 1 clear: index 1 (least significant first)
  CHECK(o.indices.to_vector<int64_t>() == std::vector<int64_t>{1});
  const auto v = o.one_hot.value().to_vector<float>();
  for (int k = 0; k < 4; ++k) CHECK(v[k] == doctest::Approx(k == 1 ? 1.0 : 0.0).epsilon(1e-6));
  // G_k = prod_i P(bit_i = code_k[i]); d (sum_k g_k G_k) / d l_i = sum_k g_k G_k (code_k[i] - p_i)
  const double p0 = sig(2.0), p1 = sig(-1.0);
  const double G[4] = {(1 - p0) * (1 - p1), p0 * (1 - p1), (1 - p0) * p1, p0 * p1};
  const float gv[4] = {0.3f, -1.2f, 0.7f, 2.0f};
  ag::sum(ag::mul(o.one_hot, Variable(Tensor::from_vector({gv[0], gv[1], gv[2], gv[3]}, {1, 4})))).backward();
  double want0 = 0, want1 = 0;
  for (int k = 0; k < 4; ++k) {
    want0 += gv[k] * G[k] * ((k & 1) - p0);
    want1 += gv[k] * G[k] * (((k >> 1) & 1) - p1);
  }
  const auto g = l.grad().to_vector<float>();
  CHECK(g[0] == doctest::Approx(want0).epsilon(1e-5));
  CHECK(g[1] == doctest::Approx(want1).epsilon(1e-5));
}

TEST_CASE("binary mapper: aux KL loss and log_prob by hand and by gradcheck") {
  auto bm = make_bm({{"bits", 1}, {"kl_loss_threshold", 0.1}});
  // logit 3: H = -(p ln p + (1 - p) ln(1 - p)); aux = relu(ln 2 - H - 0.1)
  const double p = sig(3.0), H = -(p * std::log(p) + (1 - p) * std::log(1 - p));
  const Variable aux = bm->calc_aux_loss(Variable(Tensor::from_vector({3.f}, {1, 1})));
  CHECK(aux.value().item<float>() == doctest::Approx(std::log(2.0) - H - 0.1).epsilon(1e-5));
  // logit 0.2 is below the threshold: relu gives 0
  CHECK(bm->calc_aux_loss(Variable(Tensor::from_vector({0.2f}, {1, 1}))).value().item<float>() == 0.f);

  auto bm2 = make_bm({{"bits", 2}, {"kl_loss_threshold", 0.0}});
  const Tensor lg = Tensor::from_vector({0.5f, -1.5f}, {1, 2});
  const float lp = bm2->log_prob(Variable(lg), Tensor::from_vector(std::vector<int64_t>{2}, {1})).value().item<float>();
  CHECK(lp == doctest::Approx(std::log(sig(-0.5)) + std::log(sig(-1.5))).epsilon(1e-6));

  const Tensor X = Tensor::from_vector({0.7f, -1.3f, 2.1f, 0.4f, -0.9f, 1.6f}, {3, 2});
  auto aux_fn = [&](const std::vector<Variable>& v) { return bm2->calc_aux_loss(v[0], false); };
  auto ent_fn = [&](const std::vector<Variable>& v) { return bm2->binary_entropy(v[0]); };
  const Tensor idx = Tensor::from_vector(std::vector<int64_t>{3, 0, 2}, {3});
  auto lp_fn = [&](const std::vector<Variable>& v) { return bm2->log_prob(v[0], idx); };
  test::GradCheckOptions opt;
  opt.eps = 1e-3;
  opt.label = "BinaryMapper aux";
  test::check_gradients(aux_fn, {X}, opt);
  opt.label = "BinaryMapper binary_entropy";
  test::check_gradients(ent_fn, {X}, opt);
  opt.label = "BinaryMapper log_prob";
  test::check_gradients(lp_fn, {X}, opt);
}

TEST_CASE("binary mapper: Bernoulli sampling by its statistics (temperature scales the logits)") {
  auto bm = make_bm({{"bits", 2}});
  const int64_t n = 20000;
  // bit 0: p = 0.3; bit 1: logit 1 at temperature 0.5 -> p = sigmoid(2)
  std::vector<float> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(static_cast<float>(std::log(0.3 / 0.7))), v.push_back(0.5f);
  BinaryMapperCall c;
  c.temperature = 0.5;
  const Tensor logits = Tensor::from_vector(v, {n, 2});
  const BinaryMapperOutput o = bm->forward(Variable(logits), c);
  const auto idx = o.indices.to_vector<int64_t>();
  double b0 = 0, b1 = 0;
  for (int64_t k : idx) b0 += k & 1, b1 += (k >> 1) & 1;
  const double p0 = sig(2 * std::log(0.3 / 0.7)), p1 = sig(1.0);
  CHECK(b0 / n == doctest::Approx(p0).epsilon(4 * std::sqrt(p0 * (1 - p0) / n) / p0));
  CHECK(b1 / n == doctest::Approx(p1).epsilon(4 * std::sqrt(p1 * (1 - p1) / n) / p1));
  // one-hot rows sum to 1 in value (straight-through adds G - G)
  CHECK(test::max_abs_diff(ops::sum(o.one_hot.value(), {-1}), Tensor::full({n}, 1.0)) < 1e-5);
}

TEST_CASE("binary mapper: defaults per mode, deterministic_on_eval, decode") {
  auto bm = make_bm({{"bits", 3}, {"deterministic_on_eval", true}});
  Variable l(test::randn({2, 5, 3}, 3), true);
  const BinaryMapperOutput t = bm->forward(l);
  CHECK(t.one_hot.requires_grad());     // straight-through in training
  CHECK(t.aux_kl_loss.requires_grad());  // aux loss in training
  bm->eval();
  const BinaryMapperOutput e = bm->forward(l);
  CHECK_FALSE(e.one_hot.requires_grad());
  // thresholded: index bits are logit > 0
  const auto lv = l.value().to_vector<float>();
  const auto ev = e.indices.to_vector<int64_t>();
  for (size_t r = 0; r < ev.size(); ++r) {
    int64_t want = 0;
    for (int i = 0; i < 3; ++i) want += (lv[r * 3 + i] > 0 ? 1 : 0) << i;
    CHECK(ev[r] == want);
  }
  CHECK(test::max_abs_diff(bm->get_output_from_indices(e.indices), e.one_hot.value()) == 0.0);
  // no leading axis: (bits,) -> one-hot (2^bits,), scalar index
  const BinaryMapperOutput one = bm->forward(Variable(Tensor::from_vector({1.f, -1.f, 2.f}, {3})));
  CHECK(one.one_hot.shape() == Shape{8});
  CHECK(one.indices.shape() == Shape{});
  CHECK(one.indices.to_vector<int64_t>()[0] == 5);
  CHECK(bm->state_dict().empty());
}

TEST_CASE("binary mapper: generic call, registry and errors") {
  auto q = make_quantizer("BinaryMapper", {{"bits", 4}});
  QuantizerCall c;
  c.x = Variable(test::randn({2, 3, 4}, 4));
  c.kwargs = {{"deterministic", true}, {"return_indices", true}, {"temperature", 2.0}};
  const QuantizerOutput o = q->call(c);
  CHECK(o.quantized.shape() == Shape{2, 3, 16});
  CHECK(o.indices.shape() == Shape{2, 3});
  c.kwargs = {{"temp", 2.0}};
  CHECK_THROWS_WITH_AS(q->call(c), doctest::Contains("'temp'"), ConfigError);
  CHECK_THROWS_WITH_AS(make_bm({{"bits", 0}}), doctest::Contains("bits"), ConfigError);
  CHECK_THROWS_WITH_AS(make_bm({{"bits", 25}}), doctest::Contains("bits"), ConfigError);
  CHECK_THROWS_WITH_AS(make_bm({{"bitz", 2}}), doctest::Contains("'bitz'"), ConfigError);
  auto bm = make_bm({{"bits", 4}});
  CHECK_THROWS_WITH_AS(bm->forward(Variable(test::randn({2, 3}, 5))), doctest::Contains("last dimension of 4"),
                       ShapeError);
  BinaryMapperCall bad;
  bad.temperature = 0;
  CHECK_THROWS_WITH_AS(bm->forward(Variable(test::randn({2, 4}, 5)), bad), doctest::Contains("temperature"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(bm->log_prob(Variable(test::randn({2, 4}, 6)), Tensor::zeros({3}, DType::i64)),
                       doctest::Contains("leading shape"), ShapeError);
}
