// ResidualFSQ and GroupedResidualFSQ (quantizers/residual_fsq.h): the README's rfsq case
// (bit-exact eval decode), all_codes, quantize dropout (Python-exact depth for a fixed
// seed, depth statistics, decode from fewer layers), channel-first layouts (indices
// (b, q, ...) as the reference), soft clamp options, grouped image inputs (SPEC 23.27
// fix), gradients, errors.
#include <doctest/doctest.h>

#include <cstring>

#include "autograd/functions.h"
#include "kernels/ops.h"
#include "quantizers/residual_fsq.h"
#include "tests/quantizers/vq_test_util.h"

using namespace vq;

namespace {

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  const auto x = a.contiguous().to_vector<float>(), y = b.contiguous().to_vector<float>();
  return std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

std::shared_ptr<ResidualFSQ> make_rfsq(const nlohmann::json& cfg) {
  return std::make_shared<ResidualFSQ>(ResidualFSQOptions::from_json(cfg));
}

// Number of layers that ran (indices != -1 along the last axis of token 0).
int64_t depth(const Tensor& idx) {
  const auto v = idx.reshape({-1, idx.size(-1)}).select(0, 0).contiguous().to_vector<int64_t>();
  int64_t d = 0;
  while (d < static_cast<int64_t>(v.size()) && v[d] != -1) ++d;
  return d;
}

}  // namespace

TEST_CASE("residual fsq: README rfsq, eval decode is bit-exact") {
  auto q = make_rfsq({{"dim", 256}, {"levels", {8, 5, 5, 3}}, {"num_quantizers", 8}});
  q->eval();
  const Tensor x = test::randn({1, 1024, 256}, 40);
  const QuantizerOutput o = q->forward(Variable(x));
  CHECK(o.quantized.shape() == x.shape());
  CHECK(o.indices.shape() == Shape{1, 1024, 8});
  CHECK(same_bits(o.quantized.value(), q->get_output_from_indices(o.indices)));
  CHECK(q->codebook_size() == 600);
}

TEST_CASE("residual fsq: all codes sum to the output; residual layers refine") {
  auto q = make_rfsq({{"levels", {7, 5, 5}}, {"num_quantizers", 3}});
  q->eval();
  const Tensor x = ops::mul(test::randn({2, 50, 3}, 41), 0.5);
  ResidualFSQCall call;
  call.return_all_codes = true;
  const QuantizerOutput o = q->forward(Variable(x), call);
  REQUIRE(o.all_codes.defined());
  CHECK(o.all_codes.shape() == Shape{3, 2, 50, 3});
  const Tensor sum = ops::sum(o.all_codes.value(), {0});
  CHECK(test::max_abs_diff(sum, o.quantized.value()) < 1e-6);
  // error shrinks layer by layer (scales 1, 1/L, 1/L^2)
  double prev = 1e9;
  Tensor partial = Tensor::zeros(x.shape());
  for (int64_t l = 0; l < 3; ++l) {
    partial = ops::add(partial, o.all_codes.value().select(0, l));
    const double err = ops::mean(ops::pow(ops::sub(partial, x), 2.0)).item<float>();
    CHECK(err < prev);
    prev = err;
  }
}

TEST_CASE("residual fsq: quantize dropout depth (Python-exact for a seed) and decode from fewer layers") {
  auto q = make_rfsq({{"levels", {8, 5, 5, 5}}, {"num_quantizers", 8}, {"dim", 4}, {"quantize_dropout", true}});
  const Tensor x = test::randn({1, 16, 4}, 42);
  // random.Random(s).randrange(0, 8) = 6, 2, 1 for s = 0, 1, 42 (CPython); layers 0..t run
  for (auto [seed, t] : std::vector<std::pair<uint64_t, int64_t>>{{0, 6}, {1, 2}, {42, 1}}) {
    ResidualFSQCall call;
    call.rand_quantize_dropout_fixed_seed = seed;
    const QuantizerOutput o = q->forward(Variable(x, true), call);
    CHECK(depth(o.indices) == t + 1);
  }
  // statistics of the drawn depth: every depth in [cutoff, q) appears
  std::vector<int> seen(9, 0);
  for (int i = 0; i < 200; ++i) seen[depth(q->forward(Variable(x, true)).indices)]++;
  for (int d = 1; d <= 8; ++d) CHECK(seen[d] > 5);
  CHECK(seen[0] == 0);
  // no dropout without autograd or in eval
  {
    NoGradGuard ng;
    CHECK(depth(q->forward(Variable(x)).indices) == 8);
  }
  q->eval();
  const QuantizerOutput full = q->forward(Variable(x));
  CHECK(depth(full.indices) == 8);
  // decoding from the first 3 layers = the first 3 layers' sum
  const Tensor idx3 = full.indices.narrow(-1, 0, 3).contiguous();
  const Tensor codes = q->get_codes_from_indices(idx3);  // padded with -1 -> zero codes
  CHECK(codes.shape() == Shape{8, 1, 16, 4});
  CHECK(ops::count_nonzero(codes.narrow(0, 3, 5).contiguous()).item<int64_t>() == 0);
  // multiple_of rounds the depth up: t = 1 -> ceil(2 / 4) * 4 - 1 = 3
  auto m = make_rfsq({{"levels", {5, 5}}, {"num_quantizers", 8}, {"quantize_dropout", true},
                      {"quantize_dropout_multiple_of", 4}});
  ResidualFSQCall call;
  call.rand_quantize_dropout_fixed_seed = 42;
  CHECK(depth(m->forward(Variable(test::randn({1, 4, 2}, 43), true), call).indices) == 4);
}

TEST_CASE("residual fsq: channel-first input gives (b, q, ...) indices and decodes back") {
  auto q = make_rfsq({{"levels", {8, 5, 5, 5}}, {"num_quantizers", 3}, {"dim", 6}, {"is_channel_first", true}});
  q->eval();
  const Tensor x = test::randn({2, 6, 4, 5}, 44);
  const QuantizerOutput o = q->forward(Variable(x));
  CHECK(o.quantized.shape() == x.shape());
  CHECK(o.indices.shape() == Shape{2, 3, 4, 5});
  CHECK(test::max_abs_diff(o.quantized.value(), q->get_output_from_indices(o.indices)) < 1e-6);
}

TEST_CASE("residual fsq: soft clamp options, gradients and errors") {
  auto q = make_rfsq({{"levels", {8, 5, 5, 5}}, {"num_quantizers", 2}, {"dim", 8}, {"bound_hard_clamp", false},
                      {"soft_clamp_input_value", 2}});  // an int works (SPEC 23.38 fix)
  Variable x(test::randn({2, 3, 8}, 45), true);
  const QuantizerOutput o = q->forward(x);
  ag::sum(o.quantized).backward();
  CHECK(x.has_grad());
  CHECK(ops::sum(ops::abs(x.grad())).item<float>() > 0);
  for (auto& p : q->named_parameters()) CHECK(p.second.has_grad());
  auto list = make_rfsq({{"levels", {8, 5}}, {"num_quantizers", 2}, {"bound_hard_clamp", false},
                         {"soft_clamp_input_value", {1.5, 2.5}}});
  CHECK(list->forward(Variable(test::randn({1, 4, 2}, 46))).quantized.shape() == Shape{1, 4, 2});

  CHECK_THROWS_WITH_AS(make_rfsq({{"levels", {8, 5}}, {"num_quantizers", 2}, {"soft_clamp_input_value", 1.5}}),
                       doctest::Contains("must not be given with bound_hard_clamp=True"), ConfigError);
  CHECK_THROWS_WITH_AS(make_rfsq({{"levels", {8, 1}}, {"num_quantizers", 2}}),
                       doctest::Contains("every level must be > 1"), ConfigError);
  CHECK_THROWS_WITH_AS(make_rfsq({{"levels", {8, 5}}, {"num_quantizers", 2}, {"preserve_symmetry", false}}),
                       doctest::Contains("got multiple values for FSQ keyword argument 'preserve_symmetry'"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(make_rfsq({{"levels", {8, 5}}, {"num_quantizers", 2}, {"levls", 3}}),
                       doctest::Contains("unknown option 'levls'"), ConfigError);
  CHECK_THROWS_WITH_AS(make_rfsq({{"levels", {8, 5}}, {"num_quantizers", 2}, {"num_codebooks", 2}}),
                       doctest::Contains("must not need projections"), ConfigError);
  CHECK_THROWS_WITH_AS(make_rfsq({{"levels", {8, 5}}, {"num_quantizers", 2}})->get_codes_from_indices(
                           Tensor::zeros({1, 3, 1}, DType::i64)),
                       doctest::Contains("quantize dropout must be enabled"), ConfigError);
  CHECK_THROWS_WITH_AS(make_rfsq({{"levels", {8, 5}}, {"num_quantizers", 2}})->forward(Variable(Tensor::zeros({1, 3, 4}))),
                       doctest::Contains("ResidualFSQ: expected dimension of 2"), ShapeError);
}

TEST_CASE("grouped residual fsq: sequences and image feature maps") {
  auto g = std::make_shared<GroupedResidualFSQ>(
      GroupedResidualFSQOptions::from_json({{"dim", 8}, {"groups", 2}, {"levels", {8, 5, 5, 5}}, {"num_quantizers", 2}}));
  g->eval();
  const Tensor x = test::randn({2, 5, 8}, 47);
  QuantizerOutput o = g->forward(Variable(x), true);
  CHECK(o.quantized.shape() == x.shape());
  CHECK(o.indices.shape() == Shape{2, 2, 5, 2});
  CHECK(o.all_codes.shape() == Shape{2, 2, 2, 5, 4});
  CHECK(same_bits(o.quantized.value(), g->get_output_from_indices(o.indices)));
  // accept_image_fmap reaches the groups (the reference needs is_channel_first too)
  auto gi = std::make_shared<GroupedResidualFSQ>(GroupedResidualFSQOptions::from_json(
      {{"dim", 8}, {"groups", 2}, {"accept_image_fmap", true}, {"levels", {8, 5, 5, 5}}, {"num_quantizers", 2}}));
  gi->eval();
  const Tensor img = test::randn({1, 8, 3, 4}, 48);
  o = gi->forward(Variable(img));
  CHECK(o.quantized.shape() == img.shape());
  CHECK(o.indices.shape() == Shape{2, 1, 2, 3, 4});
  CHECK(test::max_abs_diff(o.quantized.value(), gi->get_output_from_indices(o.indices)) < 1e-6);
  CHECK_THROWS_WITH_AS(GroupedResidualFSQ(GroupedResidualFSQOptions::from_json({{"dim", 9}, {"groups", 2}, {"levels", {5}},
                                                                               {"num_quantizers", 1}})),
                       doctest::Contains("must be divisible by groups"), ConfigError);
}
