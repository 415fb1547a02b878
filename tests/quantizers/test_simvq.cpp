// SimVQ and ResidualSimVQ (quantizers/sim_vq.h, residual_sim_vq.h): the reference's
// README cases (sim_vq, residual_sim_vq round trips), a hand-computed forward / loss /
// gradient, the eval codebook cache, channel-first layouts, quantize dropout with a
// fixed seed, a shared codebook_transform, gradcheck of the loss path, errors.
#include <doctest/doctest.h>

#include "autograd/functions.h"
#include "kernels/ops.h"
#include "quantizers/residual_sim_vq.h"
#include "quantizers/sim_vq.h"
#include "tests/quantizers/vq_test_util.h"
#include "tests/support/gradcheck.h"

using namespace vq;

namespace {

std::shared_ptr<SimVQ> make_sim(const nlohmann::json& cfg) { return std::make_shared<SimVQ>(SimVQOptions::from_json(cfg)); }
std::shared_ptr<ResidualSimVQ> make_rsim(const nlohmann::json& cfg) {
  return std::make_shared<ResidualSimVQ>(ResidualSimVQOptions::from_json(cfg));
}

// A transform whose weight is a given Variable (for gradcheck over it).
class MatLayer : public nn::Layer {
 public:
  explicit MatLayer(Variable w) : w_(std::move(w)) {}
  Variable forward(const Variable& x) override { return ag::matmul(x, ag::transpose(w_, 0, 1)); }
  std::string repr() const override { return "MatLayer()"; }

 private:
  Variable w_;
};

// dim 2, K 3: frozen codebook rows (1, 0), (0, 1), (-1, -1), transform 2 I.
std::shared_ptr<SimVQ> small_sim(bool rotation) {
  auto q = make_sim({{"dim", 2}, {"codebook_size", 3}, {"rotation_trick", rotation}});
  q->load_state_dict({{"frozen_codebook", Tensor::from_vector({1, 0, 0, 1, -1, -1}, {3, 2})},
                      {"code_transform.weight", Tensor::from_vector({2, 0, 0, 2}, {2, 2})}});
  return q;
}

}  // namespace

TEST_CASE("simvq: README sim_vq, output equals the decoded codes") {
  auto q = make_sim({{"dim", 512}, {"codebook_size", 1024}});
  const Tensor x = test::randn({1, 1024, 512}, 1);
  const QuantizerOutput o = q->forward(Variable(x));
  CHECK(o.quantized.shape() == x.shape());
  CHECK(o.indices.shape() == Shape{1, 1024});
  CHECK(o.loss.shape() == Shape{});
  CHECK(test::max_abs_diff(o.quantized.value(), q->indices_to_codes(o.indices)) < 1e-6);
}

TEST_CASE("simvq: hand-computed indices, loss and gradients") {
  auto q = small_sim(false);
  // tokens (1.8, 0.1) -> code (2, 0); (-1.5, -1.2) -> code (-2, -2)
  Variable x(Tensor::from_vector({1.8f, 0.1f, -1.5f, -1.2f}, {1, 2, 2}), true);
  const QuantizerOutput o = q->forward(x);
  CHECK(o.indices.to_vector<int64_t>() == std::vector<int64_t>{0, 2});
  CHECK(test::max_abs_diff(o.quantized.value(), Tensor::from_vector({2, 0, -2, -2}, {1, 2, 2})) < 1e-6);
  // m = (0.04 + 0.01 + 0.25 + 0.64) / 4 = 0.235; loss = m + 0.25 m
  CHECK(o.loss.value().item<float>() == doctest::Approx(0.29375).epsilon(1e-6));
  o.loss.backward();
  // d/dx = 0.25 * 2 (x - c) / 4
  CHECK(test::max_abs_diff(x.grad(), Tensor::from_vector({-0.025f, 0.0125f, 0.0625f, 0.1f}, {1, 2, 2})) < 1e-7);
  // d/dW = sum over tokens of 2 (c - x) / 4 f^T
  Variable* w = q->find_parameter("code_transform.weight");
  REQUIRE(w != nullptr);
  CHECK(test::max_abs_diff(w->grad(), Tensor::from_vector({0.35f, 0.25f, 0.35f, 0.4f}, {2, 2})) < 1e-6);
}

TEST_CASE("simvq: weights of the two loss terms") {
  auto q = make_sim({{"dim", 2}, {"codebook_size", 3}, {"input_to_quantize_commit_loss_weight", 0.5},
                     {"commitment_weight", 2.0}});
  q->load_state_dict({{"frozen_codebook", Tensor::from_vector({1, 0, 0, 1, -1, -1}, {3, 2})},
                      {"code_transform.weight", Tensor::from_vector({2, 0, 0, 2}, {2, 2})}});
  const QuantizerOutput o = q->forward(Variable(Tensor::from_vector({1.8f, 0.1f, -1.5f, -1.2f}, {1, 2, 2})));
  CHECK(o.loss.value().item<float>() == doctest::Approx(2.0 * 1.5 * 0.235).epsilon(1e-6));
}

TEST_CASE("simvq: rotation trick output is the code, gradient reaches the input in eval") {
  auto q = small_sim(true);
  q->eval();
  Variable x(Tensor::from_vector({1.8f, 0.1f, -1.5f, -1.2f}, {2, 2}), true);  // (b, dim): one token each
  const QuantizerOutput o = q->forward(x);
  CHECK(o.indices.shape() == Shape{2});
  CHECK(test::max_abs_diff(o.quantized.value(), Tensor::from_vector({2, 0, -2, -2}, {2, 2})) < 1e-6);
  ag::sum(o.quantized).backward();
  CHECK(x.has_grad());
  CHECK(test::all_finite(x.grad()));
  CHECK(test::max_abs_diff(x.grad(), Tensor::zeros({2, 2})) > 1e-3);
}

TEST_CASE("simvq: channel-first image layout and decode") {
  auto q = make_sim({{"dim", 8}, {"codebook_size", 16}, {"channel_first", true}});
  const Tensor x = ops::mul(test::randn({2, 8, 3, 5}, 2), 0.5);
  const QuantizerOutput o = q->forward(Variable(x));
  CHECK(o.quantized.shape() == x.shape());
  CHECK(o.indices.shape() == Shape{2, 3, 5});
  CHECK(test::max_abs_diff(o.quantized.value(), q->get_output_from_indices(o.indices)) < 1e-5);
  // the same tokens channel-last give the same indices
  auto r = make_sim({{"dim", 8}, {"codebook_size", 16}});
  r->load_state_dict(q->state_dict());
  const QuantizerOutput o2 = r->forward(Variable(x.permute({0, 2, 3, 1}).contiguous()));
  CHECK(o2.indices.to_vector<int64_t>() == o.indices.contiguous().to_vector<int64_t>());
}

TEST_CASE("simvq: no-grad calls cache the codebook and notice new weights") {
  auto q = small_sim(false);
  q->eval();
  const Variable x(Tensor::from_vector({1.8f, 0.1f}, {1, 2}));
  {
    NoGradGuard ng;
    CHECK(q->forward(x).indices.to_vector<int64_t>() == std::vector<int64_t>{0});
    CHECK_FALSE(q->codebook().requires_grad());
    const void* cached = q->codebook().value().raw_data();
    CHECK(q->codebook().value().raw_data() == cached);  // reused, not recomputed
    // new transform weights (in-place copy bumps the version): swap the axes
    q->load_state_dict({{"frozen_codebook", Tensor::from_vector({1, 0, 0, 1, -1, -1}, {3, 2})},
                        {"code_transform.weight", Tensor::from_vector({0, 2, 2, 0}, {2, 2})}});
    CHECK(q->forward(x).indices.to_vector<int64_t>() == std::vector<int64_t>{1});
  }
  // eval with grad mode on: the loss reaches the transform, as in the reference
  CHECK(q->codebook().requires_grad());
  Variable loss = q->forward(x).loss;
  REQUIRE(loss.requires_grad());
  loss.backward();
  Variable* w = q->find_parameter("code_transform.weight");
  REQUIRE(w != nullptr);
  CHECK(w->has_grad());
  q->train();
  CHECK(q->codebook().requires_grad());
  CHECK(q->forward(x).loss.requires_grad());
}

TEST_CASE("simvq: state dict, frozen codebook scale, init_fn") {
  SimVQOptions o;
  o.dim = 4;
  o.codebook_size = 4096;
  o.frozen_codebook_dim = 16;
  auto q = std::make_shared<SimVQ>(o);
  auto sd = q->state_dict();
  CHECK(sd.size() == 2);
  CHECK(sd.at("frozen_codebook").shape() == Shape{4096, 16});
  CHECK(sd.at("code_transform.weight").shape() == Shape{4, 16});
  // N(0, 1) / sqrt(16): variance 1/16
  const Tensor f = sd.at("frozen_codebook");
  const double var = ops::mean(ops::mul(f, f)).item<float>();
  CHECK(var == doctest::Approx(1.0 / 16).epsilon(0.05));
  o.init_fn = [](const Tensor& t) { return ops::mul(t, 0.0); };
  auto z = std::make_shared<SimVQ>(o);
  CHECK(test::max_abs_diff(z->state_dict().at("frozen_codebook"), Tensor::zeros({4096, 16})) == 0.0);
}

// The loss's stop-gradients make its autograd gradient differ from the derivative of its
// value unless one term is off: with input_to_quantize_commit_loss_weight = 0 the loss is
// cw * mse(sg(x), c) and its gradient in the transform weight is the true one (the x
// path is checked by hand above).
TEST_CASE("simvq: gradcheck of the loss in the transform weight") {
  SimVQOptions o;
  o.dim = 3;
  o.codebook_size = 4;
  o.input_to_quantize_commit_loss_weight = 0.0;
  o.commitment_weight = 1.7;
  const Tensor w0 = ops::add(Tensor::from_vector({1, 0, 0, 0, 1, 0, 0, 0, 1}, {3, 3}), ops::mul(test::randn({3, 3}, 3), 0.2));
  // tokens near codes 0, 1, 3 so that no decision flips within the finite-difference step
  Tensor codes;
  {
    Generator g(5);
    SimVQ probe(o, std::make_shared<MatLayer>(Variable(w0)), g);
    probe.eval();
    codes = probe.codebook().value();
  }
  const Tensor x = ops::add(ops::index_select(codes, 0, Tensor::from_vector(std::vector<int64_t>{0, 1, 3}, {3})),
                            ops::mul(test::randn({3, 3}, 4), 0.05));
  auto fn = [&](const std::vector<Variable>& v) {
    Generator g(5);
    SimVQ s(o, std::make_shared<MatLayer>(v[1]), g);
    return s.forward(v[0]).loss;
  };
  test::GradCheckOptions opt;
  opt.label = "SimVQ loss";
  opt.eps = 1e-3;
  opt.check_input = {false, true};
  test::check_gradients(fn, {x.reshape({1, 3, 3}), w0}, opt);
}

TEST_CASE("simvq: construction and input errors name the option") {
  CHECK_THROWS_WITH_AS(make_sim({{"dim", 0}, {"codebook_size", 4}}), doctest::Contains("option 'dim'"), ConfigError);
  CHECK_THROWS_WITH_AS(make_sim({{"dim", 4}, {"codebook_size", 0}}), doctest::Contains("option 'codebook_size'"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(make_sim({{"dim", 4}, {"codebook_size", 4}, {"frozen_codebook_dim", -1}}),
                       doctest::Contains("option 'frozen_codebook_dim'"), ConfigError);
  CHECK_THROWS_WITH_AS(make_sim({{"dim", 4}, {"codebook_size", 4}, {"codebok_size", 4}}),
                       doctest::Contains("unknown option 'codebok_size'"), ConfigError);
  CHECK_THROWS_WITH_AS(make_sim({{"dim", 4}, {"codebook_size", 4}, {"init_fn", "uniform"}}),
                       doctest::Contains("option 'init_fn'"), ConfigError);
  CHECK_THROWS_WITH_AS(make_sim({{"dim", 4}, {"codebook_size", 4}, {"codebook_transform", {{"type", "conv"}}}}),
                       doctest::Contains("SimVQ.codebook_transform: type must be"), ConfigError);
  CHECK_THROWS_WITH_AS(make_sim({{"dim", 4}, {"codebook_size", 4}, {"rotation_trick", "yes"}}),
                       doctest::Contains("option 'rotation_trick' has the wrong type"), ConfigError);
  auto q = make_sim({{"dim", 4}, {"codebook_size", 8}});
  CHECK_THROWS_WITH_AS(q->forward(Variable(Tensor::zeros({2, 3, 5}))),
                       doctest::Contains("expected dimension of 4 but found dimension of 5"), ShapeError);
  CHECK_THROWS_WITH_AS(q->forward(Variable(Tensor::zeros({2, 3, 4}, DType::f64))), doctest::Contains("must be f32"),
                       DTypeError);
  CHECK_THROWS_WITH_AS(q->indices_to_codes(Tensor::from_vector(std::vector<int64_t>{0, 8}, {1, 2})),
                       doctest::Contains("indices must lie in [0, 8)"), ShapeError);
}

// ---------------- ResidualSimVQ ----------------

TEST_CASE("residual simvq: README residual_sim_vq, channel-first round trip") {
  auto q = make_rsim({{"dim", 512}, {"num_quantizers", 4}, {"codebook_size", 1024}, {"channel_first", true}});
  const Tensor x = test::randn({1, 512, 32, 32}, 6);
  const QuantizerOutput o = q->forward(Variable(x));
  CHECK(o.quantized.shape() == x.shape());
  CHECK(o.indices.shape() == Shape{1, 32, 32, 4});
  CHECK(o.loss.shape() == Shape{4});
  CHECK(test::max_abs_diff(o.quantized.value(), q->get_output_from_indices(o.indices)) < 1e-5);
}

TEST_CASE("residual simvq: all codes, codebooks, codebook_dim") {
  auto q = make_rsim({{"dim", 8}, {"num_quantizers", 3}, {"codebook_size", 16}});
  q->eval();
  ResidualSimVQCall call;
  call.return_all_codes = true;
  const QuantizerOutput o = q->forward(Variable(ops::mul(test::randn({2, 5, 8}, 7), 0.5)), call);
  CHECK(o.all_codes.shape() == Shape{3, 2, 5, 8});
  CHECK(test::max_abs_diff(ops::sum(o.all_codes.value(), {0}), o.quantized.value()) < 1e-5);
  CHECK(q->codebooks().shape() == Shape{3, 16, 8});
  CHECK(q->codebook_dim() == 8);  // the reference's property raises (SPEC 23.26)
  CHECK(q->codebook_size() == 16);
  auto sd = q->state_dict();
  CHECK(sd.count("layers.2.frozen_codebook") == 1);
  CHECK(sd.count("layers.2.code_transform.weight") == 1);
}

TEST_CASE("residual simvq: quantize dropout with a fixed seed drops the deeper layers") {
  auto q = make_rsim({{"dim", 8}, {"num_quantizers", 4}, {"codebook_size", 16}, {"quantize_dropout", true}});
  ResidualSimVQCall call;
  call.rand_quantize_dropout_fixed_seed = 1;  // Python: random.Random(1).randrange(0, 4) == 1
  const QuantizerOutput o = q->forward(Variable(ops::mul(test::randn({2, 5, 8}, 8), 0.5), true), call);
  const auto idx = o.indices.to_vector<int64_t>();
  for (size_t t = 0; t < idx.size() / 4; ++t) {
    CHECK(idx[4 * t] >= 0);
    CHECK(idx[4 * t + 1] >= 0);
    CHECK(idx[4 * t + 2] == -1);
    CHECK(idx[4 * t + 3] == -1);
  }
  const auto loss = o.loss.value().to_vector<float>();
  CHECK(loss[0] > 0.f);
  CHECK(loss[2] == 0.f);
  CHECK(loss[3] == 0.f);
  CHECK(test::max_abs_diff(o.quantized.value(), q->get_output_from_indices(o.indices)) < 1e-5);
  // the first two columns alone decode to the same output
  const Tensor two = o.indices.narrow(-1, 0, 2).contiguous();
  CHECK(test::max_abs_diff(o.quantized.value(), q->get_output_from_indices(two)) < 1e-5);
  // eval: no dropout
  q->eval();
  CHECK(ops::all(ops::ge(q->forward(Variable(test::randn({2, 5, 8}, 9)), call).indices, 0.0)));
  auto plain = make_rsim({{"dim", 8}, {"num_quantizers", 4}, {"codebook_size", 16}});
  CHECK_THROWS_WITH_AS(plain->get_output_from_indices(two), doctest::Contains("quantize dropout must be enabled"),
                       ConfigError);
}

TEST_CASE("residual simvq: one codebook_transform spec is one module shared by the layers") {
  auto q = make_rsim({{"dim", 8},
                      {"num_quantizers", 2},
                      {"codebook_size", 16},
                      {"codebook_transform", {{"type", "mlp"}, {"hidden", {12}}}}});
  CHECK(q->parameters().size() == 4);  // one MLP: 2 weights + 2 biases
  auto sd = q->state_dict();
  CHECK(sd.count("layers.0.code_transform.0.weight") == 1);
  CHECK(sd.count("layers.1.code_transform.2.bias") == 1);
  CHECK(q->layers()[0]->code_transform() == q->layers()[1]->code_transform());
  const QuantizerOutput o = q->forward(Variable(ops::mul(test::randn({2, 5, 8}, 10), 0.5), true));
  ag::sum(o.loss).backward();
  for (const auto& p : q->parameters()) CHECK(p.has_grad());
}

TEST_CASE("residual simvq: errors name the option") {
  CHECK_THROWS_WITH_AS(make_rsim({{"dim", 8}, {"num_quantizers", 2}, {"codebook_size", 16}, {"heads", 2}}),
                       doctest::Contains("option 'heads' must be 1"), ConfigError);
  CHECK_THROWS_WITH_AS(make_rsim({{"dim", 8}, {"num_quantizers", 0}, {"codebook_size", 16}}),
                       doctest::Contains("option 'num_quantizers'"), ConfigError);
  CHECK_THROWS_WITH_AS(make_rsim({{"dim", 8}, {"num_quantizers", 2}, {"codebook_size", 16}, {"bogus", 1}}),
                       doctest::Contains("unknown option 'bogus'"), ConfigError);
  CHECK_THROWS_WITH_AS(make_rsim({{"dim", 8}, {"num_quantizers", 2}, {"codebook_size", 16}, {"quantize_dropout", true},
                                  {"quantize_dropout_cutoff_index", -1}}),
                       doctest::Contains("quantize_dropout_cutoff_index"), ConfigError);
  auto q = make_rsim({{"dim", 8}, {"num_quantizers", 2}, {"codebook_size", 16}});
  CHECK_THROWS_WITH_AS(q->get_output_from_indices(Tensor::zeros({1, 3, 3}, DType::i64)),
                       doctest::Contains("expected at most 2 quantizer indices"), ShapeError);
  QuantizerCall c;
  c.x = Variable(Tensor::zeros({1, 2, 8}));
  c.kwargs = {{"rand_quantize_dropout_fixed_seed", -3}};
  CHECK_THROWS_WITH_AS(q->call(c), doctest::Contains("must be >= 0"), ConfigError);
}
