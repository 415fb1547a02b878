// FSQ module (quantizers/fsq.h): the reference's README cases (bit-exact decode round
// trip for every bound variant, return_indices=False), layouts (sequence, channel-first,
// image, video), several codebooks with projections, a 2^32-code codebook without a
// stored codebook, the straight-through gradient against the reference formula written
// with autograd ops, noise dropout statistics, options from JSON and error messages.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "autograd/functions.h"
#include "kernels/ops.h"
#include "quantizers/fsq.h"
#include "tests/quantizers/vq_test_util.h"

using namespace vq;

namespace {

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  const auto x = a.contiguous().to_vector<float>(), y = b.contiguous().to_vector<float>();
  return std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

std::shared_ptr<FSQ> make_fsq(const nlohmann::json& cfg) {
  return std::make_shared<FSQ>(FSQOptions::from_json(cfg));
}

}  // namespace

TEST_CASE("fsq module: README round trip is bit-exact for every bound variant") {
  for (int variant = 0; variant < 4; ++variant) {
    nlohmann::json cfg = {{"levels", {8, 5, 5, 5}}};
    if (variant & 1) cfg["preserve_symmetry"] = true;
    if (variant & 2) cfg["bound_hard_clamp"] = true;
    auto q = make_fsq(cfg);
    const Tensor x = test::randn({1, 1024, 4}, 10 + variant);
    const QuantizerOutput o = q->forward(Variable(x));
    CHECK(o.quantized.shape() == x.shape());
    CHECK(o.indices.shape() == Shape{1, 1024});
    CHECK(o.indices.dtype() == DType::i64);
    CHECK(same_bits(o.quantized.value(), q->indices_to_codes(o.indices)));
    const auto idx = o.indices.to_vector<int64_t>();
    CHECK(*std::min_element(idx.begin(), idx.end()) >= 0);
    CHECK(*std::max_element(idx.begin(), idx.end()) < 1000);
  }
  auto q = make_fsq({{"levels", {8, 5, 5, 5}}, {"return_indices", false}});
  const QuantizerOutput o = q->forward(Variable(test::randn({1, 1024, 4}, 3)));
  CHECK_FALSE(o.indices.defined());
  CHECK_FALSE(o.loss.defined());
}

TEST_CASE("fsq module: image, video and channel-first layouts") {
  auto q = make_fsq({{"levels", {8, 5, 5, 5}}});
  const Tensor img = test::randn({2, 4, 8, 6}, 1);
  QuantizerOutput o = q->forward(Variable(img));
  CHECK(o.quantized.shape() == img.shape());
  CHECK(o.indices.shape() == Shape{2, 8, 6});
  CHECK(same_bits(o.quantized.value(), q->indices_to_codes(o.indices)));
  const Tensor vid = test::randn({1, 4, 3, 5, 5}, 2);
  o = q->forward(Variable(vid));
  CHECK(o.quantized.shape() == vid.shape());
  CHECK(o.indices.shape() == Shape{1, 3, 5, 5});
  CHECK(same_bits(o.quantized.value(), q->indices_to_codes(o.indices)));
  // image quantized = per-pixel quantization of the channel vectors
  const Tensor seq = img.permute({0, 2, 3, 1}).contiguous().reshape({2, 48, 4});
  const QuantizerOutput os = q->forward(Variable(seq));
  CHECK(os.indices.reshape({2, 8, 6}).to_vector<int64_t>() == q->forward(Variable(img)).indices.to_vector<int64_t>());

  auto cf = make_fsq({{"levels", {8, 5, 5, 5}}, {"channel_first", true}});
  const Tensor x = test::randn({2, 4, 10}, 3);
  o = cf->forward(Variable(x));
  CHECK(o.quantized.shape() == x.shape());
  CHECK(o.indices.shape() == Shape{2, 10});
  CHECK(same_bits(o.quantized.value(), cf->indices_to_codes(o.indices)));
}

TEST_CASE("fsq module: several codebooks with projections keep the codebook axis") {
  auto q = make_fsq({{"levels", {8, 6, 5}}, {"num_codebooks", 2}, {"dim", 16}});
  CHECK(q->has_projections());
  CHECK(q->codebook_size() == 240);
  const Tensor x = test::randn({2, 7, 16}, 4);
  const QuantizerOutput o = q->forward(Variable(x));
  CHECK(o.quantized.shape() == x.shape());
  CHECK(o.indices.shape() == Shape{2, 7, 2});
  CHECK(test::max_abs_diff(o.quantized.value(), q->indices_to_codes(o.indices)) < 1e-6);
  const auto sd = q->state_dict();
  CHECK(sd.count("project_in.weight"));
  CHECK(sd.count("project_out.bias"));
  CHECK(sd.size() == 4);
}

TEST_CASE("fsq module: levels [4]*16 needs no stored codebook and keeps exact int64 indices") {
  auto q = make_fsq({{"levels", std::vector<int64_t>(16, 4)}});
  CHECK(q->codebook_size() == (int64_t{1} << 32));
  CHECK(q->state_dict().empty());
  const Tensor x = test::randn({2, 64, 16}, 5);
  const QuantizerOutput o = q->forward(Variable(x));
  const auto idx = o.indices.to_vector<int64_t>();
  const auto lv = q->indices_to_level_indices(o.indices).to_vector<int64_t>();
  const auto codes = o.quantized.value().to_vector<float>();
  bool big = false;
  for (size_t t = 0; t < idx.size(); ++t) {
    int64_t expect = 0;
    for (int j = 15; j >= 0; --j) {
      const int64_t level = std::llround(codes[t * 16 + j] * 2 + 2);
      CHECK(lv[t * 16 + j] == level);
      expect = expect * 4 + level;
    }
    CHECK(idx[t] == expect);
    big = big || idx[t] > (int64_t{1} << 24);
  }
  CHECK(big);  // beyond float32's exact integers
  CHECK(same_bits(o.quantized.value(), q->indices_to_codes(o.indices)));
  CHECK_THROWS_WITH_AS(q->implicit_codebook(), doctest::Contains("too many to materialize"), ConfigError);
  auto small = make_fsq({{"levels", {3, 4}}});
  CHECK(small->implicit_codebook().shape() == Shape{12, 2});
  CHECK(small->codes_to_indices(small->implicit_codebook()).to_vector<int64_t>() ==
        Tensor::arange(12).to_vector<int64_t>());
}

TEST_CASE("fsq module: the straight-through gradient equals the reference formula's") {
  // The reference with autograd ops: y = tanh(z + shift) * half_l - offset,
  // q = y + sg(round(y) - y), codes = q / (L // 2), between the projections.
  auto q = make_fsq({{"levels", {8, 5, 5}}, {"dim", 6}});
  const Tensor x0 = test::randn({2, 5, 6}, 6);
  const Tensor g = test::randn({2, 5, 6}, 7);
  Variable x(x0.clone(), true);
  ag::sum(ag::mul(q->forward(x).quantized, Variable(g))).backward();
  const Tensor dx = x.grad().clone();
  std::map<std::string, Tensor> dp;
  for (auto& p : q->named_parameters()) {
    dp[p.first] = p.second.grad().clone();
    p.second.zero_grad();
  }

  const std::vector<float> L = {8, 5, 5};
  std::vector<float> half, off, shift, hw;
  for (float l : L) {
    half.push_back((l - 1) * static_cast<float>(1.001) / 2);
    off.push_back(static_cast<int>(l) % 2 == 0 ? 0.5f : 0.f);
    shift.push_back(static_cast<float>(std::atanh(off.back() / half.back())));
    hw.push_back(std::floor(l / 2));
  }
  auto vec3 = [](const std::vector<float>& v) { return Variable(Tensor::from_vector(v, {3})); };
  Variable x2(x0.clone(), true);
  auto& lin_in = *q->named_parameters().begin();
  (void)lin_in;
  Variable z = ag::add(ag::matmul(ag::reshape(x2, {-1, 6}), ag::transpose(*q->find_parameter("project_in.weight"), 0, 1)),
                       *q->find_parameter("project_in.bias"));
  Variable y = ag::sub(ag::mul(ag::tanh(ag::add(z, vec3(shift))), vec3(half)), vec3(off));
  Variable qv = ag::add(y, ag::detach(ag::sub(ag::round(y), y)));
  Variable codes = ag::div(qv, vec3(hw));
  Variable out = ag::add(ag::matmul(codes, ag::transpose(*q->find_parameter("project_out.weight"), 0, 1)),
                         *q->find_parameter("project_out.bias"));
  ag::sum(ag::mul(ag::reshape(out, {2, 5, 6}), Variable(g))).backward();
  CHECK(test::max_abs_diff(dx, x2.grad()) < 1e-5);
  for (auto& p : q->named_parameters()) CHECK(test::max_abs_diff(dp[p.first], p.second.grad()) < 1e-5);
  CHECK(test::max_abs_diff(q->forward(Variable(x0)).quantized.value(), ag::reshape(out, {2, 5, 6}).value()) < 1e-6);
}

TEST_CASE("fsq module: noise dropout only in training, seeded by the generator") {
  Generator gen(77);
  FSQ q(FSQOptions::from_json({{"levels", {5, 5, 5}}, {"preserve_symmetry", true}, {"noise_dropout", 0.5}}), gen);
  const Tensor x = ops::mul(test::randn({1, 400, 3}, 8), 0.05);  // codes 0: every noised entry moves
  const QuantizerOutput a = q.forward(Variable(x));
  int changed = 0;
  for (float v : a.quantized.value().to_vector<float>()) changed += v != 0.f;
  CHECK(changed > 520);  // 1200 entries, p = 0.5
  CHECK(changed < 680);
  const QuantizerOutput b = q.forward(Variable(x));  // the generator advanced: other noise
  CHECK_FALSE(same_bits(a.quantized.value(), b.quantized.value()));
  CHECK(a.indices.to_vector<int64_t>() == b.indices.to_vector<int64_t>());  // indices never noised
  q.eval();
  for (float v : q.forward(Variable(x)).quantized.value().to_vector<float>()) CHECK(v == 0.f);
}

TEST_CASE("fsq module: orthogonal rotation round trip and state") {
  auto q = make_fsq({{"levels", {5, 5, 5}}, {"orthogonal_rotation", true}});
  const auto sd = q->state_dict();
  REQUIRE(sd.count("orthogonal_rot"));
  const Tensor R = sd.at("orthogonal_rot");
  CHECK(test::max_abs_diff(ops::matmul(R, R.t()), Tensor::from_vector({1, 0, 0, 0, 1, 0, 0, 0, 1}, {3, 3})) < 1e-5);
  const Tensor x = test::randn({2, 9, 3}, 9);
  const QuantizerOutput o = q->forward(Variable(x));
  CHECK(test::max_abs_diff(o.quantized.value(), q->indices_to_codes(o.indices)) < 1e-6);
}

TEST_CASE("fsq module: options from JSON and error messages") {
  CHECK_THROWS_WITH_AS(make_fsq({{"levels", {8, 5}}, {"levles", 3}}), doctest::Contains("FSQ: unknown option 'levles'"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(make_fsq({{"levels", {2, 5}}}), doctest::Contains("turn on `preserve_symmetry`"), ConfigError);
  CHECK_THROWS_WITH_AS(make_fsq({{"levels", {5, 5}}, {"noise_dropout", 0.1}}),
                       doctest::Contains("noise_dropout > 0 needs preserve_symmetry"), ConfigError);
  CHECK_THROWS_WITH_AS(make_fsq({{"levels", {5, 5}}, {"num_codebooks", 2}, {"keep_num_codebooks_dim", false}}),
                       doctest::Contains("keep_num_codebooks_dim must be True"), ConfigError);
  CHECK_THROWS_WITH_AS(make_fsq({{"levels", "8,5"}}), doctest::Contains("option 'levels' has the wrong type"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(make_fsq({{"levels", std::vector<int64_t>(40, 4)}}), doctest::Contains("does not fit in int64"),
                       ConfigError);
  auto q = make_fsq({{"levels", {8, 5, 5, 5}}});
  CHECK_THROWS_WITH_AS(q->forward(Variable(Tensor::zeros({2, 3, 5}))),
                       doctest::Contains("FSQ: expected dimension of 4 but found dimension of 5"), ShapeError);
  CHECK_THROWS_WITH_AS(q->forward(Variable(Tensor::zeros({3, 4}))), doctest::Contains("expected z of shape (b, n, dim)"),
                       ShapeError);
  QuantizerCall c;
  c.x = Variable(Tensor::zeros({1, 2, 4}));
  c.kwargs = {{"inv_temperature", 1.0}};
  CHECK_THROWS_WITH_AS(q->call(c), doctest::Contains("FSQ.forward: unknown option 'inv_temperature'"), ConfigError);
  auto reg = make_quantizer("FSQ", {{"levels", {8, 5, 5, 5}}});
  CHECK(reg->module_name() == "FSQ");
}

TEST_CASE("fsq module: low-precision inputs are quantized in f32 and returned in their dtype") {
  auto q = make_fsq({{"levels", {8, 5, 5, 5}}});
  const Tensor x = test::randn({1, 64, 4}, 12);
  for (DType dt : {DType::bf16, DType::f16}) {
    const Tensor xl = x.to(dt);
    const QuantizerOutput o = q->forward(Variable(xl));
    CHECK(o.quantized.dtype() == dt);
    const QuantizerOutput r = q->forward(Variable(xl.to(DType::f32)));
    CHECK(o.indices.to_vector<int64_t>() == r.indices.to_vector<int64_t>());
    CHECK(test::max_abs_diff(o.quantized.value().to(DType::f32), r.quantized.value().to(dt).to(DType::f32)) == 0);
  }
}
