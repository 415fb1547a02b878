// ResidualVQ and GroupedResidualVQ: the reference's README cases (SPEC.md 20.5),
// decode round trips, layouts, masks, state names, gradient fractions, the
// cross-entropy mode and the configuration errors.
#include <doctest/doctest.h>

#include "kernels/ops.h"
#include "quantizers/functional.h"
#include "quantizers/grouped_residual_vq.h"
#include "quantizers/quantizer.h"
#include "quantizers/residual_vq.h"
#include "tests/quantizers/vq_test_util.h"

using namespace vq;
using test::max_abs_diff;

namespace {
ResidualVQOptions rvq_opts(int64_t dim, int64_t q, int64_t K) {
  ResidualVQOptions o;
  o.dim = dim;
  o.num_quantizers = q;
  o.codebook_size = {K};
  return o;
}
std::vector<int64_t> ints(const Tensor& t) { return t.to(DType::i64).contiguous().to_vector<int64_t>(); }
}  // namespace

TEST_CASE("residual_vq readme: round trip in train/eval x shared codebook x quant_grad_frac x {QINCo, cosine}") {
  // (implicit_neural_codebook, use_cosine_sim) in {(true, false), (false, true), (false, false)}
  for (int variant = 0; variant < 3; ++variant) {
    const bool qinco = variant == 0, cosine = variant == 1;
    for (bool train : {true, false}) {
      for (bool shared : {false, true}) {
        for (double frac : {0.0, 0.1}) {
          auto o = rvq_opts(32, 8, 128);
          o.vq.use_cosine_sim = cosine;
          o.implicit_neural_codebook = qinco;
          o.shared_codebook = shared;
          o.quant_grad_frac = frac;
          ResidualVQ rvq(o);
          rvq.train(train);
          ResidualVQCall c;
          c.freeze_codebook = train && !qinco;  // as the reference test
          auto out = rvq.forward(Variable(test::randn({1, 256, 32}, 11)), c);
          CAPTURE(qinco);
          CAPTURE(cosine);
          CAPTURE(train);
          CAPTURE(shared);
          CHECK(out.quantized.shape() == Shape{1, 256, 32});
          CHECK(out.indices.shape() == Shape{1, 256, 8});
          CHECK(out.loss.shape() == Shape{8});
          CHECK(max_abs_diff(out.quantized.value(), rvq.get_output_from_indices(out.indices)) < 1e-5);
        }
      }
    }
  }
}

TEST_CASE("residual_vq readme: stochastic codes with a shared codebook, grouped, k-means init, tiger") {
  {  // residual_vq2: stochastic sampling, temperature 0.1, shared codebook
    auto o = rvq_opts(256, 8, 1024);
    o.shared_codebook = true;
    o.vq.stochastic_sample_codes = true;
    o.vq.sample_codebook_temp = 0.1;
    ResidualVQ rvq(o);
    auto out = rvq.forward(Variable(test::randn({1, 1024, 256}, 12)));
    CHECK(out.quantized.shape() == Shape{1, 1024, 256});
    CHECK(out.indices.shape() == Shape{1, 1024, 8});
    CHECK(test::all_finite(out.loss.value()));
  }
  {  // grouped_residual_vq
    GroupedResidualVQOptions g;
    g.groups = 2;
    g.rvq = rvq_opts(256, 8, 1024);
    GroupedResidualVQ grvq(g);
    auto out = grvq.forward(Variable(test::randn({1, 1024, 256}, 13)));
    CHECK(out.quantized.shape() == Shape{1, 1024, 256});
    CHECK(out.indices.shape() == Shape{2, 1, 1024, 8});
    CHECK(out.loss.shape() == Shape{2, 8});
  }
  {  // residual_vq3: k-means init on the first batch of every layer
    auto o = rvq_opts(256, 4, 256);
    o.vq.kmeans_init = true;
    o.vq.kmeans_iters = 10;
    ResidualVQ rvq(o);
    auto out = rvq.forward(Variable(test::randn({1, 1024, 256}, 14)));
    CHECK(out.indices.shape() == Shape{1, 1024, 4});
    for (int64_t l = 0; l < 4; ++l) CHECK(rvq.layer(l).codebook_module().find_buffer("initted")->item<uint8_t>() == 1);
    CHECK(test::all_finite(out.quantized.value()));
  }
  {  // tiger: per-layer sizes (5, 128, 256), training with a frozen codebook, exact round trip
    ResidualVQOptions o;
    o.dim = 2;
    o.codebook_size = {5, 128, 256};
    ResidualVQ rvq(o);
    CHECK(rvq.num_quantizers() == 3);
    CHECK(rvq.codebook_sizes() == std::vector<int64_t>{5, 128, 256});
    ResidualVQCall c;
    c.freeze_codebook = true;
    auto out = rvq.forward(Variable(test::randn({2, 2, 2}, 15)), c);
    CHECK(out.indices.shape() == Shape{2, 2, 3});
    CHECK(max_abs_diff(out.quantized.value(), rvq.get_output_from_indices(out.indices)) < 1e-5);
    CHECK_THROWS_WITH_AS(rvq.codebooks(), doctest::Contains("same codebook_size"), ConfigError);
  }
}

TEST_CASE("residual_vq readme: DiVeQ per layer and on the sum") {
  {  // directional_reparam in every layer (threshold 2), input requires grad
    auto o = rvq_opts(256, 8, 128);
    o.vq.directional_reparam = true;
    o.vq.threshold_ema_dead_code = 2;
    ResidualVQ rvq(o);
    Variable x(test::randn({1, 1024, 256}, 16), true);
    auto out = rvq.forward(x);
    ag::sum(out.quantized).backward();
    REQUIRE(x.has_grad());
    CHECK(test::all_finite(x.grad()));
  }
  {  // diveq: train then eval; eval is the plain sum of codes (decode round trip holds)
    auto o = rvq_opts(256, 4, 256);
    o.diveq = true;
    ResidualVQ rvq(o);
    CHECK_FALSE(rvq.layer(0).options().ema_update.value());
    CHECK(rvq.layer(0).options().learnable_codebook.value());
    CHECK(rvq.options().quant_grad_frac == 1.0);
    Variable x(test::randn({1, 64, 256}, 17), true);
    auto out = rvq.forward(x);
    CHECK(out.quantized.shape() == Shape{1, 64, 256});
    ag::sum(out.quantized).backward();
    CHECK(rvq.layer(0).codebook_module().embed_variable().has_grad());
    rvq.eval();
    auto ev = rvq.forward(Variable(x.value()));
    CHECK(ev.quantized.shape() == Shape{1, 64, 256});
    CHECK(max_abs_diff(ev.quantized.value(), rvq.get_output_from_indices(ev.indices)) < 1e-5);
  }
}

TEST_CASE("residual_vq: the residual chain by hand (q=2, eval)") {
  auto o = rvq_opts(2, 2, 2);
  ResidualVQ rvq(o);
  rvq.eval();
  // layer 0 codes (1, 0), (0, 1); layer 1 codes (0.5, 0), (0, -0.25)
  rvq.layer(0).set_codebook(Tensor::from_vector({1, 0, 0, 1}, {2, 2}));
  rvq.layer(1).set_codebook(Tensor::from_vector({0.5f, 0, 0, -0.25f}, {2, 2}));
  // x = (1.4, 0.1): layer 0 picks (1, 0), residual (0.4, 0.1) -> (0.5, 0); out (1.5, 0)
  // x = (0.1, 0.7): layer 0 picks (0, 1), residual (0.1, -0.3) -> (0, -0.25); out (0, 0.75)
  auto out = rvq.forward(Variable(Tensor::from_vector({1.4f, 0.1f, 0.1f, 0.7f}, {1, 2, 2})));
  CHECK(ints(out.indices) == std::vector<int64_t>{0, 0, 1, 1});
  CHECK(max_abs_diff(out.quantized.value(), Tensor::from_vector({1.5f, 0, 0, 0.75f}, {1, 2, 2})) < 1e-7);
  CHECK(max_abs_diff(out.loss.value(), Tensor::zeros({2})) == 0.0);
  Tensor codes = rvq.get_codes_from_indices(out.indices);  // (q, b, n, d)
  CHECK(max_abs_diff(codes, Tensor::from_vector({1, 0, 0, 1, 0.5f, 0, 0, -0.25f}, {2, 1, 2, 2})) == 0.0);
  // -1 (dropped) decodes to a zero code
  Tensor dropped = Tensor::from_vector(std::vector<int64_t>{1, -1}, {1, 1, 2});
  CHECK(max_abs_diff(rvq.get_output_from_indices(dropped), Tensor::from_vector({0, 1}, {1, 1, 2})) == 0.0);
}

TEST_CASE("residual_vq: gradient fraction into the next residual (straight-through)") {
  // q_l = x_l + sg(c - x_l) has d q_l / d x_l = I and r_{l+1} = r_l - f q_l - (1 - f) sg(q_l),
  // so d sum(out) / dx = 1 + (1 - f) + (1 - f)^2 for three layers.
  for (double f : {0.0, 0.5}) {
    auto o = rvq_opts(4, 3, 8);
    o.quant_grad_frac = f;
    o.vq.rotation_trick = false;
    o.vq.straight_through = false;
    ResidualVQ rvq(o);
    Variable x(test::randn({2, 3, 4}, 18), true);
    ResidualVQCall c;
    c.freeze_codebook = true;
    ag::sum(rvq.forward(x, c).quantized).backward();
    const double want = 1 + (1 - f) + (1 - f) * (1 - f);
    CHECK(max_abs_diff(x.grad(), Tensor::full({2, 3, 4}, want)) < 1e-6);
  }
}

TEST_CASE("residual_vq: layouts (image, 3-D, channel-first, single token) round trip and keep shapes") {
  {
    auto o = rvq_opts(8, 3, 16);
    o.accept_image_fmap = true;
    ResidualVQ rvq(o);
    rvq.eval();
    Tensor x = test::randn({2, 8, 3, 5}, 19);
    ResidualVQCall c;
    c.return_all_codes = true;
    auto out = rvq.forward(Variable(x), c);
    CHECK(out.quantized.shape() == Shape{2, 8, 3, 5});
    CHECK(out.indices.shape() == Shape{2, 3, 5, 3});
    CHECK(out.all_codes.shape() == Shape{3, 2, 3, 5, 8});
    CHECK(max_abs_diff(out.quantized.value(), rvq.get_output_from_indices(out.indices)) < 1e-6);
    // the image path equals the sequence path on the transposed tokens
    auto so = rvq_opts(8, 3, 16);
    ResidualVQ seq(so);
    seq.load_state_dict(rvq.state_dict());
    seq.eval();
    Tensor xs = x.reshape({2, 8, 15}).transpose(1, 2).contiguous();
    auto sout = seq.forward(Variable(xs));
    CHECK(ints(sout.indices) == ints(out.indices));
  }
  {
    auto o = rvq_opts(8, 2, 16);
    o.accept_3d_fmap = true;
    o.codebook_dim = 4;
    ResidualVQ rvq(o);
    rvq.eval();
    auto out = rvq.forward(Variable(test::randn({1, 8, 2, 3, 2}, 20)));
    CHECK(out.quantized.shape() == Shape{1, 8, 2, 3, 2});
    CHECK(out.indices.shape() == Shape{1, 2, 3, 2, 2});
    CHECK(max_abs_diff(out.quantized.value(), rvq.get_output_from_indices(out.indices)) < 1e-5);
  }
  {
    auto o = rvq_opts(8, 2, 16);
    o.channel_last = false;
    ResidualVQ rvq(o);
    rvq.eval();
    auto out = rvq.forward(Variable(test::randn({2, 8, 5}, 21)));
    CHECK(out.quantized.shape() == Shape{2, 8, 5});
    CHECK(out.indices.shape() == Shape{2, 5, 2});
    CHECK(max_abs_diff(out.quantized.value(), rvq.get_output_from_indices(out.indices)) < 1e-6);
  }
  {
    auto o = rvq_opts(8, 3, 16);
    ResidualVQ rvq(o);
    ResidualVQCall c;
    c.return_all_codes = true;
    auto out = rvq.forward(Variable(test::randn({4, 8}, 22)), c);
    CHECK(out.quantized.shape() == Shape{4, 8});
    CHECK(out.indices.shape() == Shape{4, 3});
    CHECK(out.all_codes.shape() == Shape{3, 4, 8});
  }
}

TEST_CASE("residual_vq: mask gives zeros / the input and -1 at padding") {
  for (bool zeros : {true, false}) {
    auto o = rvq_opts(8, 2, 16);
    o.return_zeros_for_masked_padding = zeros;
    ResidualVQ rvq(o);
    Tensor x = test::randn({2, 4, 8}, 23);
    ResidualVQCall c;
    c.mask = Tensor::from_vector(std::vector<uint8_t>{1, 1, 1, 0, 1, 0, 0, 0}, {2, 4}, DType::boolean);
    auto out = rvq.forward(Variable(x), c);
    auto idx = ints(out.indices);
    const std::vector<int> valid{1, 1, 1, 0, 1, 0, 0, 0};
    for (int t = 0; t < 8; ++t) {
      for (int l = 0; l < 2; ++l) CHECK((idx[t * 2 + l] == -1) == (valid[t] == 0));
      Tensor row = out.quantized.value().reshape({8, 8}).select(0, t);
      if (!valid[t]) CHECK(max_abs_diff(row, zeros ? Tensor::zeros({8}) : x.reshape({8, 8}).select(0, t)) == 0.0);
    }
  }
}

TEST_CASE("residual_vq: state names, shared codebook, projections, codebooks()") {
  auto o = rvq_opts(16, 3, 32);
  o.shared_codebook = true;
  o.codebook_dim = 8;
  ResidualVQ rvq(o);
  auto sd = rvq.state_dict();
  for (const char* k : {"project_in.weight", "project_in.bias", "project_out.weight", "project_out.bias",
                        "layers.0._codebook.embed", "layers.2._codebook.embed", "layers.1._codebook.cluster_size",
                        "layers.2._codebook.initted", "layers.2._codebook.embed_avg"})
    CHECK_MESSAGE(sd.count(k) == 1, k);
  CHECK(sd.at("layers.0._codebook.embed").shape() == Shape{1, 32, 8});
  CHECK(&rvq.layer(0).codebook_module() == &rvq.layer(2).codebook_module());
  CHECK(rvq.codebooks().shape() == Shape{3, 32, 8});
  CHECK(rvq.layer(1).options().manual_ema_update);
  // a shared codebook is updated once per step (q lerps of the statistics, one recompute)
  Tensor before = rvq.layer(0).codebook_module().embed().clone();
  rvq.forward(Variable(test::randn({2, 8, 16}, 24)));
  CHECK(max_abs_diff(before, rvq.layer(1).codebook_module().embed()) > 0);
}

TEST_CASE("residual_vq: coarse indices need quantize dropout; cross-entropy mode by hand") {
  {
    auto o = rvq_opts(4, 4, 8);
    ResidualVQ rvq(o);
    Tensor coarse = Tensor::from_vector(std::vector<int64_t>{1, 2}, {1, 1, 2});
    CHECK_THROWS_WITH_AS(rvq.get_codes_from_indices(coarse), doctest::Contains("quantize dropout must be enabled"),
                         ConfigError);
    o.quantize_dropout.enabled = true;
    ResidualVQ drop(o);
    Tensor codes = drop.get_codes_from_indices(coarse);  // layers 2, 3 count as dropped
    CHECK(codes.shape() == Shape{4, 1, 1, 4});
    CHECK(max_abs_diff(codes.narrow(0, 2, 2), Tensor::zeros({2, 1, 1, 4})) == 0.0);
    CHECK(max_abs_diff(codes.select(0, 0).reshape({4}), drop.layer(0).codebook().select(0, 1)) == 0.0);
  }
  {
    // loss = sum over layers of CE(similarities(r_l, E_l), i_l), r_{l+1} = r_l - E_l[i_l]
    auto o = rvq_opts(4, 2, 8);
    ResidualVQ rvq(o);
    rvq.eval();
    Tensor x = test::randn({1, 3, 4}, 25);
    Tensor idx = Tensor::from_vector(std::vector<int64_t>{1, 2, 3, 4, 5, 6}, {1, 3, 2});
    ResidualVQCall c;
    c.indices = idx;
    auto out = rvq.forward(Variable(x), c);
    Tensor r = x.reshape({1, 3, 4});
    double want = 0;
    for (int64_t l = 0; l < 2; ++l) {
      Tensor E = rvq.layer(l).codebook().unsqueeze(0);
      Tensor il = idx.select(-1, l).contiguous().reshape({3});
      Variable logits = qf::similarity(Variable(r), Variable(E), false);
      want += qf::cross_entropy(ag::reshape(logits, {3, 8}), il).value().item<float>();
      r = ops::sub(r, ops::index_select(E.select(0, 0), 0, il).unsqueeze(0));
    }
    CHECK(out.loss.value().item<float>() == doctest::Approx(want).epsilon(1e-5));
    CHECK(max_abs_diff(out.quantized.value(), rvq.get_output_from_indices(idx)) < 1e-6);
    Tensor bad = Tensor::from_vector(std::vector<int64_t>{1, -1, 3, 4, 5, 6}, {1, 3, 2});
    c.indices = bad;
    CHECK_THROWS_WITH_AS(rvq.forward(Variable(x), c), doctest::Contains("dropped out"), ConfigError);
  }
}

TEST_CASE("grouped_residual_vq: groups are independent ResidualVQs on feature chunks") {
  GroupedResidualVQOptions g;
  g.groups = 2;
  g.rvq = rvq_opts(8, 3, 16);
  GroupedResidualVQ grvq(g);
  auto sd = grvq.state_dict();
  CHECK(sd.count("rvqs.0.layers.0._codebook.embed") == 1);
  CHECK(sd.count("rvqs.1.layers.2._codebook.cluster_size") == 1);
  CHECK(grvq.codebooks().shape() == Shape{2, 3, 16, 4});
  grvq.eval();
  Tensor x = test::randn({2, 5, 8}, 26);
  ResidualVQCall c;
  c.return_all_codes = true;
  auto out = grvq.forward(Variable(x), c);
  CHECK(out.indices.shape() == Shape{2, 2, 5, 3});
  CHECK(out.all_codes.shape() == Shape{2, 3, 2, 5, 4});
  CHECK(max_abs_diff(out.quantized.value(), grvq.get_output_from_indices(out.indices)) < 1e-6);
  CHECK(grvq.get_codes_from_indices(out.indices).shape() == Shape{2, 3, 2, 5, 4});
  // group 1 sees exactly features 4..7
  auto g1 = grvq.group(1).forward(Variable(x.narrow(2, 4, 4).contiguous()));
  CHECK(ints(g1.indices) == ints(out.indices.select(0, 1)));
  CHECK(max_abs_diff(g1.quantized.value(), out.quantized.value().narrow(2, 4, 4)) == 0.0);
  // image layout splits channels (axis 1)
  GroupedResidualVQOptions gi = g;
  gi.rvq.accept_image_fmap = true;
  GroupedResidualVQ img(gi);
  img.eval();
  auto io = img.forward(Variable(test::randn({1, 8, 2, 3}, 27)));
  CHECK(io.quantized.shape() == Shape{1, 8, 2, 3});
  CHECK(io.indices.shape() == Shape{2, 1, 2, 3, 3});
  CHECK(max_abs_diff(io.quantized.value(), img.get_output_from_indices(io.indices)) < 1e-6);
}

TEST_CASE("residual_vq: configuration and shape errors name the option") {
  auto make = [](const char* js) { return make_quantizer("ResidualVQ", nlohmann::json::parse(js)); };
  CHECK_THROWS_WITH_AS(make(R"({"dim": 8, "codebook_size": 16, "num_quantizers": 2, "heads": 2})"),
                       doctest::Contains("multi-headed"), ConfigError);
  CHECK_THROWS_WITH_AS(make(R"({"dim": 8, "codebook_size": 16})"), doctest::Contains("num_quantizers is required"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(make(R"({"dim": 8, "codebook_size": [16, 8], "num_quantizers": 3})"),
                       doctest::Contains("has 2 entries but num_quantizers=3"), ConfigError);
  CHECK_THROWS_WITH_AS(make(R"({"dim": 8, "codebook_size": [16, 8], "shared_codebook": true})"),
                       doctest::Contains("shared_codebook requires"), ConfigError);
  CHECK_THROWS_WITH_AS(make(R"({"dim": 8, "codebook_size": 16, "num_quantizers": 2, "eval_beam_size": 2})"),
                       doctest::Contains("eval_beam_size requires beam_size"), ConfigError);
  CHECK_THROWS_WITH_AS(make(R"({"dim": 8, "codebook_size": 16, "num_quantizers": 2, "beam_size": 2,
                                "commitment_weight": 0})"),
                       doctest::Contains("commitment_weight > 0"), ConfigError);
  CHECK_THROWS_WITH_AS(make(R"({"dim": 8, "codebook_size": 16, "num_quantizers": 2, "quantize_dropout": true,
                                "quantize_dropout_cutoff_index": 2})"),
                       doctest::Contains("quantize_dropout_cutoff_index (2) must be below num_quantizers (2)"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(make(R"({"dim": 8, "codebook_size": 16, "num_quantizers": 2, "decay_typo": 0.5})"),
                       doctest::Contains("unknown option 'decay_typo'"), ConfigError);
  CHECK_THROWS_WITH_AS(make(R"({"dim": 8, "codebook_size": 16, "num_quantizers": 2, "mlp_kwargs": {"width": 3}})"),
                       doctest::Contains("unknown option 'width'"), ConfigError);
  CHECK_THROWS_WITH_AS(make_quantizer("GroupedResidualVQ", nlohmann::json::parse(
                                                               R"({"dim": 9, "groups": 2, "codebook_size": 16,
                                                                   "num_quantizers": 2})")),
                       doctest::Contains("dim (9) must be divisible by groups (2)"), ConfigError);
  auto rvq = make(R"({"dim": 8, "codebook_size": 16, "num_quantizers": 2})");
  QuantizerCall c;
  c.x = Variable(Tensor::zeros({2, 3, 6}));
  CHECK_THROWS_WITH_AS(rvq->call(c), doctest::Contains("input feature dim must equal dim=8, got x=[2, 3, 6]"),
                       ShapeError);
  c.x = Variable(Tensor::zeros({2, 3, 8}));
  c.tensors["mask"] = Tensor::ones({2, 4}, DType::boolean);
  CHECK_THROWS_WITH_AS(rvq->call(c), doctest::Contains("mask must be (b, n) = [2, 3], got mask=[2, 4]"), ShapeError);
  c.tensors.clear();
  c.kwargs = {{"topk", 2}};
  CHECK_THROWS_WITH_AS(rvq->call(c), doctest::Contains("unknown option 'topk'"), ConfigError);
}

TEST_CASE("residual_vq QINCo: per-token codebooks from MLPs, state names, gradients") {
  auto o = rvq_opts(6, 3, 16);
  o.implicit_neural_codebook = true;
  o.mlp_dim_hidden = 10;
  o.mlp_depth = 2;
  ResidualVQ rvq(o);
  auto sd = rvq.state_dict();
  CHECK(sd.at("mlps.0.proj_in.weight").shape() == Shape{6, 12});
  CHECK(sd.at("mlps.1.layers.1.0.weight").shape() == Shape{10, 6});
  CHECK(sd.at("mlps.1.layers.1.2.bias").shape() == Shape{6});
  CHECK(sd.count("mlps.2.proj_in.weight") == 0);  // q - 1 MLPs
  CHECK(rvq.layer(0).options().learnable_codebook.value());
  CHECK_FALSE(rvq.layer(0).options().ema_update.value());
  Variable x(test::randn({2, 5, 6}, 28), true);
  auto out = rvq.forward(x);
  // the layer-1 code of a token is the MLP's transform of the stored code, not the stored row
  Tensor codes = rvq.get_codes_from_indices(out.indices);  // (3, 2, 5, 6)
  Tensor stored = rvq.layer(1).codebook();
  const int64_t i1 = out.indices.select(-1, 1).reshape({10}).to_vector<int64_t>()[0];
  CHECK(max_abs_diff(codes.select(0, 1).reshape({10, 6}).select(0, 0), stored.select(0, i1)) > 1e-3);
  // layer 1's code for token 0 = MLP_0(stored code i1 | condition = token 0's layer-0 code)
  Tensor cond = codes.select(0, 0).reshape({10, 6}).select(0, 0).reshape({1, 1, 6});
  Tensor te = rvq.implicit_codebook_mlp(1)->forward(Variable(stored), Variable(cond)).value();  // (1, 1, K, d)
  CHECK(max_abs_diff(te.reshape({16, 6}).select(0, i1), codes.select(0, 1).reshape({10, 6}).select(0, 0)) < 1e-6);
  CHECK(rvq.implicit_codebook_mlp(0) == nullptr);
  CHECK(max_abs_diff(out.quantized.value(), rvq.get_output_from_indices(out.indices)) < 1e-5);
  // the commitment loss trains the MLPs and the codebooks
  ag::sum(out.loss).backward();
  for (auto& p : rvq.named_parameters())
    if (p.first.rfind("mlps.", 0) == 0 || p.first.find("_codebook.embed") != std::string::npos)
      CHECK_MESSAGE(p.second.has_grad(), p.first);
  CHECK_THROWS_WITH_AS(
      [&] {
        ResidualVQCall c;
        c.indices = Tensor::zeros({2, 5, 3}, DType::i64);
        rvq.forward(x, c);
      }(),
      doctest::Contains("not supported with implicit_neural_codebook"), ConfigError);
}

TEST_CASE("residual_vq QINCo MLP by hand: concat, proj_in, SiLU residual blocks, l2norm") {
  for (bool l2 : {false, true}) {
    QincoMLP mlp(3, 5, 1, l2);
    auto sd = mlp.state_dict();
    Tensor codes = test::randn({2, 4, 3}, 29), cond = test::randn({2, 3}, 30);  // h=2, K=4; b=2 (n=1)
    Tensor y = mlp.forward(Variable(codes), Variable(cond)).value();
    CHECK(y.shape() == Shape{2, 2, 1, 4, 3});
    auto lin = [&](const Tensor& v, const std::string& name) {
      return ops::add(ops::matmul(v, sd.at(name + ".weight").transpose(0, 1).contiguous()), sd.at(name + ".bias"));
    };
    for (int64_t hh = 0; hh < 2; ++hh)
      for (int64_t bb = 0; bb < 2; ++bb) {
        Tensor in = ops::cat({cond.select(0, bb).unsqueeze(0).expand({4, 3}).contiguous(), codes.select(0, hh)}, 1);
        Tensor y0 = lin(in, "proj_in");
        Tensor want = ops::add(y0, lin(ops::silu(lin(y0, "layers.0.0")), "layers.0.2"));
        if (l2) want = ops::div(want, ops::sqrt(ops::sum(ops::mul(want, want), {-1}, true)));
        CHECK(max_abs_diff(y.select(0, hh).select(0, bb).select(0, 0), want) < 1e-5);
      }
  }
  CHECK_THROWS_WITH_AS(
      QincoMLP(3, std::nullopt, 1, false).forward(Variable(Tensor::zeros({4, 2})), Variable(Tensor::zeros({1, 3}))),
      doctest::Contains("expected codes (h, K, 3)"), ShapeError);
}

TEST_CASE("residual_vq: option combinations run through the registry (train + backward, then eval round trip)") {
  const char* configs[] = {
      R"({"dim": 16, "codebook_size": 32, "num_quantizers": 4, "quantize_dropout": true,
          "quantize_dropout_multiple_of": 2, "threshold_ema_dead_code": 2.5})",
      R"({"dim": 16, "codebook_size": [8, 16, 32], "codebook_dim": 8, "beam_size": 3,
          "beam_update_all_layers": true})",
      R"({"dim": 8, "codebook_size": 16, "num_quantizers": 3, "implicit_neural_codebook": true,
          "mlp_kwargs": {"depth": 2}})",
      R"({"dim": 8, "codebook_size": 16, "num_quantizers": 3, "shared_codebook": true, "kmeans_init": true,
          "stochastic_sample_codes": true, "sample_codebook_temp": 0.5, "threshold_ema_dead_code": 1})",
      R"({"dim": 8, "codebook_size": 16, "num_quantizers": 2, "accept_image_fmap": true, "use_cosine_sim": true})",
      R"({"dim": 8, "codebook_size": 16, "num_quantizers": 2, "diveq": true, "quant_grad_frac": 0.5})"};
  for (const char* cfg : configs) {
    CAPTURE(cfg);
    auto j = nlohmann::json::parse(cfg);
    auto q = make_quantizer("ResidualVQ", j);
    const bool image = j.value("accept_image_fmap", false);
    const int64_t D = j.at("dim").get<int64_t>();
    Tensor xt = image ? test::randn({2, D, 3, 4}, 90) : test::randn({2, 6, D}, 90);
    QuantizerCall c;
    c.x = Variable(xt, true);
    c.kwargs = {{"rand_quantize_dropout_fixed_seed", 1234}};
    auto out = q->call(c);
    CHECK(out.quantized.shape() == xt.shape());
    ag::add(ag::sum(out.quantized), ag::sum(out.loss)).backward();
    REQUIRE(c.x.has_grad());
    CHECK(test::all_finite(c.x.grad()));
    CHECK(test::all_finite(out.loss.value()));
    q->eval();
    auto ev = q->call(QuantizerCall{Variable(xt), {}, nlohmann::json::object()});
    CHECK(max_abs_diff(ev.quantized.value(), q->get_output_from_indices(ev.indices)) < 1e-5);
  }
}
