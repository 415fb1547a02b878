// LatentQuantize (quantizers/latent_quantize.h): the reference's
// tests/test_latent_quantization.py cases (bit-exact round trips for images, videos,
// series, optimize_values=False, equal levels, int levels, 4 codebooks, the int-levels
// error), value tables bit-exact with torch, the truncating index formula, a
// hand-computed forward and loss, gradients, option errors.
#include <doctest/doctest.h>

#include <cstring>

#include "autograd/functions.h"
#include "kernels/ops.h"
#include "quantizers/latent_quantize.h"
#include "tests/quantizers/vq_test_util.h"
#include "tests/support/gradcheck.h"

using namespace vq;

namespace {

std::shared_ptr<LatentQuantize> make_lq(const nlohmann::json& cfg) {
  return std::make_shared<LatentQuantize>(LatentQuantizeOptions::from_json(cfg));
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  const auto x = a.contiguous().to_vector<float>(), y = b.contiguous().to_vector<float>();
  return std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

void round_trip(const nlohmann::json& cfg, const Shape& shape, uint64_t seed) {
  auto q = make_lq(cfg);
  const Tensor x = test::randn(shape, seed);
  const QuantizerOutput o = q->forward(Variable(x));
  CHECK(o.quantized.shape() == x.shape());
  CHECK(same_bits(o.quantized.value(), q->indices_to_codes(o.indices)));
}

}  // namespace

TEST_CASE("latent quantize: reference round trips (image, video, series, options)") {
  const nlohmann::json base = {{"levels", {5, 5, 8}}, {"dim", 16}, {"commitment_loss_weight", 0.1},
                               {"quantization_loss_weight", 0.1}};
  round_trip(base, {1, 16, 32, 32}, 1);
  round_trip(base, {1, 16, 10, 32, 32}, 2);
  round_trip(base, {1, 16, 64}, 3);
  nlohmann::json nov = base;
  nov["optimize_values"] = false;
  round_trip(nov, {1, 16, 32, 32}, 4);
  nlohmann::json eq = base;
  eq["levels"] = {5, 5, 5};
  round_trip(eq, {1, 16, 32, 32}, 5);
  nlohmann::json il = base;
  il["levels"] = 5;
  il["codebook_dim"] = 3;
  round_trip(il, {1, 16, 32, 32}, 6);
  nlohmann::json bad = base;
  bad["levels"] = 5;
  CHECK_THROWS_WITH_AS(make_lq(bad), doctest::Contains("option 'levels' is an int"), ConfigError);
}

TEST_CASE("latent quantize: 4 codebooks keep the codebook axis; backward works") {
  auto q = make_lq({{"levels", {5, 5, 8}}, {"dim", 16}, {"num_codebooks", 4}});
  CHECK(q->keep_num_codebooks_dim());
  CHECK(q->has_projections());  // 16 <-> 12
  Variable x(test::randn({1, 16, 64}, 7), true);
  const QuantizerOutput o = q->forward(x);
  CHECK(o.indices.shape() == Shape{1, 64, 4});
  CHECK(same_bits(o.quantized.value(), q->indices_to_codes(o.indices)));
  ag::add(ag::sum(o.quantized), o.loss).backward();
  CHECK(x.has_grad());
  CHECK(q->find_parameter("project_in.weight")->has_grad());
  // the value tables get no gradient (as in the reference)
  CHECK_FALSE(q->find_parameter("values_per_latent.0")->has_grad());
}

TEST_CASE("latent quantize: value tables are torch's, bit for bit") {
  // torch.linspace(-0.5, 0.5, 7) and torch.arange(6) / 6 - 0.5
  const std::vector<float> t7{-0.5f, -0.3333333134651184f, -0.1666666567325592f, -1.4901161193847656e-08f,
                              0.1666666567325592f, 0.3333333134651184f, 0.5f};
  CHECK(latent_value_table(7) == t7);
  const auto t6 = latent_value_table(6);
  for (int k = 0; k < 6; ++k) CHECK(t6[k] == static_cast<float>(k) / 6.f - 0.5f);
  CHECK(latent_value_table(15)[7] == -2.2351741790771484e-08f);
  CHECK(latent_value_table(2) == std::vector<float>{-0.5f, 0.f});
}

TEST_CASE("latent quantize: indices by the reference's float formula, truncated") {
  // levels [15]: the middle table value is -2.2e-8, its level 6.9999995 truncates to 6;
  // levels [15, 3] with the second code 0 adds 15 and rounds to 22 (as torch does)
  auto a = make_lq({{"levels", {15}}, {"dim", 1}});
  const float mid = latent_value_table(15)[7];
  CHECK(a->codes_to_indices(Tensor::from_vector({mid}, {1, 1})).to_vector<int64_t>() == std::vector<int64_t>{6});
  auto b = make_lq({{"levels", {15, 3}}, {"dim", 2}});
  CHECK(b->codes_to_indices(Tensor::from_vector({mid, 0.f}, {1, 2})).to_vector<int64_t>() == std::vector<int64_t>{22});
  CHECK_THROWS_WITH_AS(b->codes_to_indices(Tensor::zeros({1, 3})), doctest::Contains("last dim must be codebook_dim=2"),
                       ShapeError);
}

TEST_CASE("latent quantize: hand-computed forward, indices and loss") {
  auto q = make_lq({{"levels", {3, 4}}, {"dim", 2}, {"commitment_loss_weight", 0.15}, {"quantization_loss_weight", 0.05}});
  CHECK(q->codebook_size() == 12);
  // (b=1, dim=2, n=2): tokens (0.3, -0.2) and (-0.1, 0.4)
  Variable x(Tensor::from_vector({0.3f, -0.1f, -0.2f, 0.4f}, {1, 2, 2}), true);
  const QuantizerOutput o = q->forward(x);
  // tables [-0.5, 0, 0.5] and [-0.5, -0.25, 0, 0.25]: (0.5, -0.25) -> 2 + 1 * 3 = 5; (0, 0.25) -> 1 + 3 * 3 = 10
  CHECK(o.indices.to_vector<int64_t>() == std::vector<int64_t>{5, 10});
  CHECK(test::max_abs_diff(o.quantized.value(), Tensor::from_vector({0.5f, 0.f, -0.25f, 0.25f}, {1, 2, 2})) < 1e-7);
  // m = (0.04 + 0.0025 + 0.01 + 0.0225) / 4 = 0.01875; loss = (0.15 + 0.05) m
  CHECK(o.loss.value().item<float>() == doctest::Approx(0.00375).epsilon(1e-5));
  CHECK(test::max_abs_diff(q->indices_to_codes(o.indices), o.quantized.value()) == 0.0);
  // gradient of the loss alone: commitment through the straight-through output
  // 0.15 * 2 (out - x) / 4 plus quantization 0.05 * 2 (x - out) / 4 = 0.05 (out - x)
  o.loss.backward();
  const Tensor want = ops::mul(ops::sub(o.quantized.value(), x.value()), 0.05);
  CHECK(test::max_abs_diff(x.grad(), want) < 1e-7);
  q->eval();
  const QuantizerOutput e = q->forward(Variable(x.value()));
  CHECK(e.loss.value().item<float>() == 0.f);
  CHECK_FALSE(e.loss.requires_grad());
}

TEST_CASE("latent quantize: gradcheck of the quantization loss (commitment weight 0)") {
  // with commitment_loss_weight = 0 the loss is w_q * mse(sg(out), z), whose autograd
  // gradient in z is the derivative of its value (out is piecewise constant)
  auto q = make_lq({{"levels", {5, 4}}, {"dim", 2}, {"commitment_loss_weight", 0.0}, {"quantization_loss_weight", 0.7}});
  // values away from the table midpoints (+-0.375, +-0.125 for L=4; +-0.375, +-0.125 for L=5)
  const Tensor z = Tensor::from_vector({0.21f, -0.3f, 0.05f, 0.44f, -0.47f, 0.02f}, {1, 2, 3});
  auto fn = [&](const std::vector<Variable>& v) { return q->forward(v[0]).loss; };
  test::GradCheckOptions opt;
  opt.label = "LatentQuantize loss";
  opt.eps = 1e-3;
  test::check_gradients(fn, {z}, opt);
}

TEST_CASE("latent quantize: state, keep_num_codebooks_dim, tables as buffers") {
  auto q = make_lq({{"levels", {5, 5, 8}}, {"dim", 16}});
  auto sd = q->state_dict();
  CHECK(sd.count("values_per_latent.2") == 1);
  CHECK(sd.count("project_in.weight") == 1);
  CHECK(sd.size() == 7);
  auto nov = make_lq({{"levels", {5, 5, 8}}, {"dim", 3}, {"optimize_values", false}});
  CHECK(nov->state_dict().empty());  // non-persistent buffers, no projections
  CHECK(nov->parameters().empty());
  CHECK(nov->values(2).shape() == Shape{8});
  // keep_num_codebooks_dim=True with one codebook keeps a trailing axis of 1
  auto keep = make_lq({{"levels", {5, 5}}, {"dim", 2}, {"keep_num_codebooks_dim", true}});
  CHECK(keep->forward(Variable(test::randn({2, 2, 3}, 8))).indices.shape() == Shape{2, 3, 1});
  // (b, dim): one token
  auto tok = make_lq({{"levels", {5, 5}}, {"dim", 2}});
  const QuantizerOutput o = tok->forward(Variable(test::randn({4, 2}, 9)));
  CHECK(o.quantized.shape() == Shape{4, 2});
  CHECK(o.indices.shape() == Shape{4});
  CHECK(same_bits(o.quantized.value(), tok->indices_to_codes(o.indices)));
}

TEST_CASE("latent quantize: errors name the option") {
  CHECK_THROWS_WITH_AS(make_lq({{"levels", {5, 1}}, {"dim", 2}}), doctest::Contains("every level must be >= 2"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(make_lq({{"levels", {5, 5}}, {"dim", 2}, {"codebook_dim", 3}}),
                       doctest::Contains("option 'codebook_dim'"), ConfigError);
  CHECK_THROWS_WITH_AS(make_lq({{"levels", {5, 5}}, {"dim", 0}}), doctest::Contains("option 'dim'"), ConfigError);
  CHECK_THROWS_WITH_AS(make_lq({{"levels", {5, 5}}, {"dim", 2}, {"num_codebooks", 0}}),
                       doctest::Contains("option 'num_codebooks'"), ConfigError);
  CHECK_THROWS_WITH_AS(make_lq({{"levels", {5, 5}}, {"dim", 2}, {"in_place_codebook_optimizer", {{"type", "SGD"}}}}),
                       doctest::Contains("option 'in_place_codebook_optimizer'"), ConfigError);
  CHECK_THROWS_WITH_AS(make_lq({{"levels", {5, 5}}, {"dim", 2}, {"levles", 2}}), doctest::Contains("unknown option 'levles'"),
                       ConfigError);
  auto q = make_lq({{"levels", {5, 5}}, {"dim", 2}});
  CHECK_THROWS_WITH_AS(q->forward(Variable(Tensor::zeros({1, 8, 2}))),
                       doctest::Contains("expected z of shape (b, 2, ...) (channel-first), got z=[1, 8, 2]"), ShapeError);
  auto h = make_lq({{"levels", {5, 5}}, {"dim", 4}, {"num_codebooks", 2}});
  CHECK_THROWS_WITH_AS(h->indices_to_codes(Tensor::zeros({1, 3, 3}, DType::i64)),
                       doctest::Contains("last dim must be num_codebooks=2"), ShapeError);
}
