// HierarchicalVQ (quantizers/hierarchical_vq.h): the reference's test case (hq: image,
// scales (1,2,4,7) on 7x7: shapes, 4 index tensors, finite loss), pooling and
// interpolation weights by hand, the straight-through gradient by hand, gradchecks of the
// resampling and of the 1-D / 2-D / 3-D refinement convolutions, decode round trips (the
// full-shape fix), phi selection (half-to-even), nested dropout by its statistics,
// masks, state names, option and shape errors.
#include <doctest/doctest.h>

#include <map>

#include "autograd/functions.h"
#include "kernels/ops.h"
#include "quantizers/hierarchical_vq.h"
#include "tests/quantizers/vq_test_util.h"
#include "tests/support/gradcheck.h"

using namespace vq;

namespace {

std::shared_ptr<HierarchicalVQ> make_hvq(const nlohmann::json& cfg) {
  return std::make_shared<HierarchicalVQ>(HierarchicalVQOptions::from_json(cfg));
}

}  // namespace

TEST_CASE("hierarchical vq: the reference's hq case (image, scales (1,2,4,7) on 7x7, k-means init)") {
  auto h = make_hvq({{"dim", 32}, {"codebook_size", 128}, {"accept_image_fmap", true}, {"scales", {1, 2, 4, 7}},
                     {"quant_resi", 0.5}, {"share_quant_resi", 1}});
  Variable x(test::randn({1, 32, 7, 7}, 1), true);
  const HierarchicalVQOutput o = h->forward(x);
  CHECK(o.reconstruction.shape() == Shape{1, 32, 7, 7});
  REQUIRE(o.indices.size() == 4);
  CHECK(o.indices[0].shape() == Shape{1, 1, 1});
  CHECK(o.indices[3].shape() == Shape{1, 7, 7});
  CHECK(std::isfinite(o.commit_loss.value().item<float>()));
  CHECK_FALSE(o.cutoff.has_value());
  ag::add(ag::sum(o.reconstruction), o.commit_loss).backward();
  CHECK(test::all_finite(x.grad()));
  CHECK(h->find_parameter("phi_shared.conv.weight")->has_grad());
}

TEST_CASE("hierarchical vq: pooling and linear interpolation weights are torch's") {
  // adaptive_avg_pool 5 -> 2: windows [0, 3) and [2, 5)
  const Tensor x = Tensor::from_vector({1.f, 2.f, 3.f, 4.f, 10.f}, {1, 1, 5});
  const auto p = hvq::resample(Variable(x), {2}, true).value().to_vector<float>();
  CHECK(p[0] == doctest::Approx(2.0));
  CHECK(p[1] == doctest::Approx(17.0 / 3));
  // linear 2 -> 4, align_corners=False: src = max((d + 0.5) / 2 - 0.5, 0) -> 0, 0.25, 0.75, 1 (clamped)
  const auto u = hvq::resample(Variable(Tensor::from_vector({0.f, 4.f}, {1, 1, 2})), {4}, false).value().to_vector<float>();
  const std::vector<float> uw{0.f, 1.f, 3.f, 4.f};
  for (size_t i = 0; i < 4; ++i) CHECK(u[i] == doctest::Approx(uw[i]));
  // bilinear (1, 2) -> (2, 3): both rows copy the single source row; columns:
  // src = (d + 0.5) * 2/3 - 0.5 = -1/6 (-> 0), 0.5, 7/6 (-> the last column)
  const auto b = hvq::resample(Variable(Tensor::from_vector({2.f, 6.f}, {1, 1, 1, 2})), {2, 3}, false)
                     .value().to_vector<float>();
  const std::vector<float> bw{2.f, 4.f, 6.f, 2.f, 4.f, 6.f};
  for (size_t i = 0; i < 6; ++i) CHECK(b[i] == doctest::Approx(bw[i]));
}

TEST_CASE("hierarchical vq: gradchecks of the resampling and of the 1-D / 2-D / 3-D phi convolutions") {
  test::GradCheckOptions opt;
  opt.eps = 1e-3;
  const Tensor x2 = test::randn({1, 2, 3, 5}, 2);
  opt.label = "hvq pool (3,5)->(2,2)";
  test::check_gradients([](const std::vector<Variable>& v) { return hvq::resample(v[0], {2, 2}, true); }, {x2}, opt);
  opt.label = "hvq bilinear (3,5)->(4,7)";
  test::check_gradients([](const std::vector<Variable>& v) { return hvq::resample(v[0], {4, 7}, false); }, {x2}, opt);
  const Tensor x3 = test::randn({1, 1, 2, 2, 3}, 3);
  opt.label = "hvq trilinear (2,2,3)->(3,4,4)";
  test::check_gradients([](const std::vector<Variable>& v) { return hvq::resample(v[0], {3, 4, 4}, false); }, {x3}, opt);

  auto conv = [](const std::vector<Variable>& v) { return hvq::conv3_same(v[0], v[1], v[2]); };
  const Tensor b = test::randn({2}, 4);
  opt.label = "hvq conv1d";
  test::check_gradients(conv, {test::randn({1, 2, 5}, 5), test::randn({2, 2, 3}, 6), b}, opt);
  opt.label = "hvq conv2d";
  test::check_gradients(conv, {test::randn({1, 2, 3, 4}, 7), test::randn({2, 2, 3, 3}, 8), b}, opt);
  opt.label = "hvq conv3d";
  test::check_gradients(conv, {test::randn({1, 2, 2, 3, 3}, 9), test::randn({2, 2, 3, 3, 3}, 10), b}, opt);
  // conv1d by hand: weight taps (1, 2, 3) on one channel, zero padding
  const Tensor y = hvq::conv3_same(Variable(Tensor::from_vector({1.f, 0.f, 2.f}, {1, 1, 3})),
                                   Variable(Tensor::from_vector({1.f, 2.f, 3.f}, {1, 1, 3})),
                                   Variable(Tensor::from_vector({0.5f}, {1}))).value();
  // y0 = 2*1 + 3*0 + .5, y1 = 1*1 + 2*0 + 3*2 + .5, y2 = 1*0 + 2*2 + .5
  CHECK(y.to_vector<float>() == std::vector<float>{2.5f, 7.5f, 4.5f});
  CHECK_THROWS_WITH_AS(hvq::conv3_same(Variable(test::randn({2, 3}, 1)), Variable(test::randn({3, 3}, 2)),
                                       Variable(test::randn({3}, 3))),
                       doctest::Contains("conv3_same"), ShapeError);
}

TEST_CASE("hierarchical vq: straight-through gradient through pooling and upsampling, by hand") {
  // one level of 2 on length 4, phi the identity, training (the VQ's straight-through
  // estimator runs in training only, as in the reference): d recon / dx = pool^T up^T
  auto h = make_hvq({{"dim", 1}, {"codebook_size", 2}, {"scales", {2}}, {"quant_resi", 0.0}, {"kmeans_init", false},
                     {"threshold_ema_dead_code", 0}});
  Variable x(Tensor::from_vector({0.1f, 0.2f, -0.3f, 0.4f}, {1, 1, 4}), true);
  const HierarchicalVQOutput o = h->forward(x);
  ag::sum(ag::mul(o.reconstruction, Variable(Tensor::from_vector({1.f, 2.f, 3.f, 4.f}, {1, 1, 4})))).backward();
  // up^T g = (1 + 0.75*2 + 0.25*3, 0.25*2 + 0.75*3 + 4) = (3.25, 6.75); pool^T halves each
  CHECK(x.grad().to_vector<float>() == std::vector<float>{1.625f, 1.625f, 3.375f, 3.375f});
}

TEST_CASE("hierarchical vq: decode round trips and the full-shape fix") {
  auto h = make_hvq({{"dim", 4}, {"codebook_size", 8}, {"accept_image_fmap", true}, {"scales", {1, 2, 4}},
                     {"threshold_ema_dead_code", 0}});
  h->forward(Variable(test::randn({2, 4, 4, 4}, 11)));  // k-means init in training
  h->eval();
  const Tensor x = test::randn({2, 4, 4, 4}, 12);
  const HierarchicalVQOutput o = h->forward(Variable(x));
  CHECK(test::max_abs_diff(o.reconstruction.value(), h->get_output_from_indices(o.indices)) < 1e-5);
  QuantizerCall c;
  c.x = Variable(x);
  const QuantizerOutput g = h->call(c);
  CHECK(g.indices.shape() == Shape{2, 1 + 4 + 16});
  CHECK(test::max_abs_diff(g.quantized.value(), h->get_output_from_indices(g.indices)) < 1e-5);

  // scales (1, 2) on a 4x4 map: the reference decodes at the last scale (2x2); the
  // generic decode uses the last forward's full shape (4x4) and matches the forward
  auto s = make_hvq({{"dim", 4}, {"codebook_size", 8}, {"accept_image_fmap", true}, {"scales", {1, 2}},
                     {"threshold_ema_dead_code", 0}});
  s->forward(Variable(test::randn({2, 4, 4, 4}, 13)));
  s->eval();
  const HierarchicalVQOutput so = s->forward(Variable(x));
  CHECK(s->get_output_from_indices(so.indices).shape() == Shape{2, 4, 2, 2});
  CHECK(s->get_output_from_indices(so.indices, Shape{4, 4}).shape() == Shape{2, 4, 4, 4});
  c.x = Variable(x);
  const QuantizerOutput sg = s->call(c);
  CHECK(test::max_abs_diff(sg.quantized.value(), s->get_output_from_indices(sg.indices)) < 1e-5);

  // channel-last 1-D with lens: masked positions are zero, decode of -1 indices is zero
  auto q = make_hvq({{"dim", 3}, {"codebook_size", 8}, {"scales", {1, 2, 4}}, {"channel_first", false},
                     {"threshold_ema_dead_code", 0}});
  q->forward(Variable(test::randn({2, 4, 3}, 14)));
  q->eval();
  const HierarchicalVQOutput m = q->forward(Variable(test::randn({2, 4, 3}, 15)), Tensor(),
                                            Tensor::from_vector(std::vector<int64_t>{4, 2}, {2}));
  CHECK(m.reconstruction.shape() == Shape{2, 4, 3});
  const auto r = m.reconstruction.value().to_vector<float>();
  for (int i = 12 + 2 * 3; i < 24; ++i) CHECK(r[i] == 0.f);  // sample 1, positions 2, 3
  CHECK(m.indices[2].to_vector<int64_t>()[4 + 3] == -1);
  CHECK(m.indices[2].to_vector<int64_t>()[4 + 1] >= 0);
}

TEST_CASE("hierarchical vq: phi selection rounds half to even; state names") {
  auto h = make_hvq({{"dim", 2}, {"codebook_size", 4}, {"scales", {1, 2, 3, 4}}, {"share_quant_resi", 3}});
  CHECK(h->phi_index(0) == 0);
  CHECK(h->phi_index(1) == 1);  // round(2/3)
  CHECK(h->phi_index(2) == 1);  // round(4/3)
  CHECK(h->phi_index(3) == 2);
  auto e = make_hvq({{"dim", 2}, {"codebook_size", 4}, {"scales", {1, 2, 3}}, {"share_quant_resi", 2}});
  CHECK(e->phi_index(1) == 0);  // round(0.5) = 0 (half to even)
  CHECK(e->phi_index(2) == 1);
  auto sd = e->state_dict();
  CHECK(sd.count("vq._codebook.embed") == 1);
  CHECK(sd.count("phi_levels.1.conv.weight") == 1);
  CHECK(sd.at("phi_levels.0.conv.weight").shape() == Shape{2, 2, 3});
  auto sep = make_hvq({{"dim", 2}, {"codebook_size", {4, 8}}, {"scales", {1, 2}}, {"shared_codebook", false},
                       {"accept_3d_fmap", true}, {"share_quant_resi", 0}});
  auto sd2 = sep->state_dict();
  CHECK(sd2.at("vqs.1._codebook.embed").shape() == Shape{1, 8, 2});
  CHECK(sd2.at("phi_levels.1.conv.weight").shape() == Shape{2, 2, 3, 3, 3});
  CHECK(sd2.count("phi_shared.conv.weight") == 0);
}

TEST_CASE("hierarchical vq: nested dropout keeps levels 0..cutoff, cutoff uniform (statistics)") {
  auto h = make_hvq({{"dim", 2}, {"codebook_size", 4}, {"scales", {1, 2, 3, 4}}, {"nested_dropout", 0.5},
                     {"nested_dropout_min_levels", 2}, {"threshold_ema_dead_code", 0}});
  const Tensor x = test::randn({1, 2, 4}, 16);
  std::map<int64_t, int> count;
  const int n = 400;
  for (int i = 0; i < n; ++i) {
    const HierarchicalVQOutput o = h->forward(Variable(x));
    count[o.cutoff ? *o.cutoff : -1]++;
  }
  // P(no cutoff) = 0.5; cutoff in {1, 2} (min_levels - 1 .. L - 2), 0.25 each
  CHECK(count.size() == 3);
  CHECK(count[-1] == doctest::Approx(n * 0.5).epsilon(0.2));
  CHECK(count[1] == doctest::Approx(n * 0.25).epsilon(0.3));
  CHECK(count[2] == doctest::Approx(n * 0.25).epsilon(0.3));
  h->eval();
  CHECK_FALSE(h->forward(Variable(x)).cutoff.has_value());
}

TEST_CASE("hierarchical vq: option and shape errors") {
  const nlohmann::json ok = {{"dim", 4}, {"codebook_size", 8}, {"scales", {1, 2}}};
  auto with = [&](const char* k, const nlohmann::json& v) {
    nlohmann::json j = ok;
    j[k] = v;
    return j;
  };
  nlohmann::json both = with("accept_3d_fmap", true);
  both["accept_image_fmap"] = true;
  CHECK_THROWS_WITH_AS(make_hvq(both), doctest::Contains("accept_image_fmap"), ConfigError);
  CHECK_THROWS_WITH_AS(make_hvq(with("scales", {2, 1})), doctest::Contains("non-decreasing"), ConfigError);
  CHECK_THROWS_WITH_AS(make_hvq(with("scales", nlohmann::json::array())), doctest::Contains("scales"), ConfigError);
  CHECK_THROWS_WITH_AS(make_hvq(with("codebook_size", {8, 16})), doctest::Contains("codebook_size"), ConfigError);
  CHECK_THROWS_WITH_AS(make_hvq(with("codebook_size", {8, 16, 16})), doctest::Contains("codebook_size"), ConfigError);
  CHECK_THROWS_WITH_AS(make_hvq(with("nested_dropout", 2.0)), doctest::Contains("nested_dropout"), ConfigError);
  CHECK_THROWS_WITH_AS(make_hvq(with("scalez", 1)), doctest::Contains("'scalez'"), ConfigError);
  auto h = make_hvq(ok);
  CHECK_THROWS_WITH_AS(h->forward(Variable(test::randn({1, 3, 4}, 1))), doctest::Contains("dim=4"), ShapeError);
  CHECK_THROWS_WITH_AS(h->forward(Variable(test::randn({1, 4, 4}, 1)), Tensor::full({1, 4}, 1.0, DType::boolean),
                                  Tensor::from_vector(std::vector<int64_t>{2}, {1})),
                       doctest::Contains("either mask or lens"), ConfigError);
  auto img = make_hvq(with("accept_image_fmap", true));
  CHECK_THROWS_WITH_AS(img->forward(Variable(test::randn({1, 4, 2, 2}, 1)), Tensor(),
                                    Tensor::from_vector(std::vector<int64_t>{2}, {1})),
                       doctest::Contains("lens is only supported"), ConfigError);
  QuantizerCall c;
  c.x = Variable(test::randn({1, 4, 4}, 2));
  c.kwargs = {{"indices", 1}};
  CHECK_THROWS_WITH_AS(h->call(c), doctest::Contains("not implemented"), ConfigError);
}
