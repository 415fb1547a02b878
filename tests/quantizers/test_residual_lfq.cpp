// ResidualLFQ and GroupedResidualLFQ (quantizers/residual_lfq.h): the README's rflq case
// (bit-exact eval decode), per-layer losses, codebook scales 2^-l and halving soft clamp,
// quantize dropout (losses 0 and indices -1 for dropped layers), all_codes, decode of
// spherical layers (SPEC 23.21 fix), grouped variants with masks, errors.
#include <doctest/doctest.h>

#include <cstring>

#include "autograd/functions.h"
#include "kernels/ops.h"
#include "quantizers/residual_lfq.h"
#include "tests/quantizers/vq_test_util.h"

using namespace vq;

namespace {

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  const auto x = a.contiguous().to_vector<float>(), y = b.contiguous().to_vector<float>();
  return std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

std::shared_ptr<ResidualLFQ> make_rlfq(const nlohmann::json& cfg) {
  return std::make_shared<ResidualLFQ>(ResidualLFQOptions::from_json(cfg));
}

}  // namespace

TEST_CASE("residual lfq: README rflq, eval decode is bit-exact") {
  auto q = make_rlfq({{"dim", 256}, {"codebook_size", 256}, {"num_quantizers", 8}});
  q->eval();
  const Tensor x = test::randn({1, 1024, 256}, 50);
  const QuantizerOutput o = q->forward(Variable(x));
  CHECK(o.quantized.shape() == x.shape());
  CHECK(o.indices.shape() == Shape{1, 1024, 8});
  CHECK(o.loss.shape() == Shape{8});
  CHECK(same_bits(o.quantized.value(), q->get_output_from_indices(o.indices)));
}

TEST_CASE("residual lfq: per-layer losses, scales, all codes and gradients") {
  auto q = make_rlfq({{"dim", 4}, {"codebook_size", 16}, {"num_quantizers", 3}, {"commitment_loss_weight", 0.25},
                      {"soft_clamp_input_value", 2.0}});
  Variable x(test::randn({2, 8, 4}, 51), true);
  ResidualLFQCall call;
  call.return_all_codes = true;
  const QuantizerOutput o = q->forward(x, call);
  CHECK(o.loss.shape() == Shape{3});
  for (float l : o.loss.value().to_vector<float>()) CHECK(std::isfinite(l));
  REQUIRE(o.all_codes.defined());
  CHECK(o.all_codes.shape() == Shape{3, 2, 8, 4});
  // layer l's codes are +-2^-l
  for (int64_t l = 0; l < 3; ++l)
    for (float v : o.all_codes.value().select(0, l).contiguous().to_vector<float>())
      CHECK(std::fabs(v) == std::ldexp(1.f, -static_cast<int>(l)));
  ag::add(ag::sum(o.quantized), ag::sum(o.loss)).backward();
  CHECK(ops::sum(ops::abs(x.grad())).item<float>() > 0);
  const auto sd = q->state_dict();
  CHECK(sd.count("layers.0.mask"));
  CHECK(sd.count("layers.2.mask"));
}

TEST_CASE("residual lfq: quantize dropout zeroes dropped losses and indices") {
  auto q = make_rlfq({{"dim", 6}, {"codebook_size", 64}, {"num_quantizers", 8}, {"quantize_dropout", true},
                      {"quantize_dropout_cutoff_index", 2}});
  const Tensor x = test::randn({1, 10, 6}, 52);
  ResidualLFQCall call;
  call.rand_quantize_dropout_fixed_seed = 1;  // random.Random(1).randrange(2, 8) = 3
  const QuantizerOutput o = q->forward(Variable(x, true), call);
  const auto idx = o.indices.to_vector<int64_t>();
  for (int64_t t = 0; t < 10; ++t)
    for (int64_t l = 0; l < 8; ++l) CHECK((idx[t * 8 + l] == -1) == (l > 3));
  const auto loss = o.loss.value().to_vector<float>();
  for (int64_t l = 4; l < 8; ++l) CHECK(loss[l] == 0.f);
  const Tensor codes = q->get_codes_from_indices(o.indices);
  CHECK(ops::count_nonzero(codes.narrow(0, 4, 4).contiguous()).item<int64_t>() == 0);
  // decode of the first layers only
  q->eval();
  const QuantizerOutput e = q->forward(Variable(x));
  CHECK(q->get_output_from_indices(e.indices.narrow(-1, 0, 2).contiguous()).shape() == x.shape());
}

TEST_CASE("residual lfq: spherical layers decode through the layer (SPEC 23.21 fix)") {
  auto q = make_rlfq({{"dim", 5}, {"codebook_size", 32}, {"num_quantizers", 2}, {"spherical", true}});
  q->eval();
  const Tensor x = test::randn({2, 7, 5}, 53);
  const QuantizerOutput o = q->forward(Variable(x));
  CHECK(same_bits(o.quantized.value(), q->get_output_from_indices(o.indices)));
}

TEST_CASE("grouped residual lfq: losses (groups, q), masks, image maps, decode") {
  auto g = std::make_shared<GroupedResidualLFQ>(GroupedResidualLFQOptions::from_json(
      {{"dim", 8}, {"groups", 2}, {"codebook_size", 16}, {"num_quantizers", 2}}));
  const Tensor x = test::randn({2, 5, 8}, 54);
  const Tensor mask = Tensor::from_vector(std::vector<uint8_t>{1, 0}, {2}, DType::boolean);
  QuantizerOutput o = g->forward(Variable(x), mask, true);
  CHECK(o.quantized.shape() == x.shape());
  CHECK(o.indices.shape() == Shape{2, 2, 5, 2});
  CHECK(o.loss.shape() == Shape{2, 2});
  CHECK(o.all_codes.shape() == Shape{2, 2, 2, 5, 4});
  g->eval();
  o = g->forward(Variable(x));
  CHECK(same_bits(o.quantized.value(), g->get_output_from_indices(o.indices)));
  auto gi = std::make_shared<GroupedResidualLFQ>(GroupedResidualLFQOptions::from_json(
      {{"dim", 8}, {"groups", 2}, {"accept_image_fmap", true}, {"codebook_size", 16}, {"num_quantizers", 2}}));
  gi->eval();
  const Tensor img = test::randn({1, 8, 3, 4}, 55);
  o = gi->forward(Variable(img));
  CHECK(o.quantized.shape() == img.shape());
  CHECK(o.indices.shape() == Shape{2, 1, 3, 4, 2});
  CHECK(test::max_abs_diff(o.quantized.value(), gi->get_output_from_indices(o.indices)) < 1e-6);
}

TEST_CASE("residual lfq: errors") {
  CHECK_THROWS_WITH_AS(make_rlfq({{"dim", 4}, {"codebook_size", 10}, {"num_quantizers", 2}}),
                       doctest::Contains("codebook_size must be a power of 2"), ConfigError);
  CHECK_THROWS_WITH_AS(make_rlfq({{"dim", 4}, {"codebook_size", 16}, {"num_quantizers", 2}, {"codebook_scale", 2.0}}),
                       doctest::Contains("got multiple values for LFQ keyword argument 'codebook_scale'"), ConfigError);
  CHECK_THROWS_WITH_AS(make_rlfq({{"dim", 4}, {"codebook_size", 16}, {"num_quantizers", 2}, {"entropy_weight", 2.0}}),
                       doctest::Contains("LFQ: unknown option 'entropy_weight'"), ConfigError);
  CHECK_THROWS_WITH_AS(make_rlfq({{"dim", 4}, {"codebook_size", 16}, {"num_quantizers", 2}, {"quantize_dropout", true},
                                  {"quantize_dropout_cutoff_index", 5}}),
                       doctest::Contains("quantize_dropout_cutoff_index"), ConfigError);
  CHECK_THROWS_WITH_AS(make_rlfq({{"dim", 4}, {"codebook_size", 16}, {"num_quantizers", 2}})->forward(
                           Variable(Tensor::zeros({1, 2, 3, 4}))),
                       doctest::Contains("ResidualLFQ: expected x of shape (b, n, dim=4)"), ShapeError);
}
