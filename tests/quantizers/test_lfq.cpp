// LFQ module (quantizers/lfq.h): the reference's test_lfq.py cases (masked round trips
// with frac_per_sample_entropy 1 and 0.5, the statistics of frac 0.1) and README cases
// (spherical x scale round trips, video / sequence shapes, several codebooks with
// projections), gradient checks of the entropy and commitment terms, the entropy
// modes, mask semantics (per-sample, per-token fixed, the reference quirk on request),
// the straight-through activation, options and error messages.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "autograd/functions.h"
#include "core/safetensors.h"
#include "kernels/ops.h"
#include "quantizers/lfq.h"
#include "quantizers/run_case.h"
#include "tests/parity/fixture_replay.h"
#include "tests/quantizers/vq_test_util.h"
#include "tests/support/gradcheck.h"

using namespace vq;

namespace {

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  const auto x = a.contiguous().to_vector<float>(), y = b.contiguous().to_vector<float>();
  return std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

std::shared_ptr<LFQ> make_lfq(const nlohmann::json& cfg, Generator& gen = default_generator()) {
  return std::make_shared<LFQ>(LFQOptions::from_json(cfg), nullptr, gen);
}

float item(const Variable& v) { return v.value().item<float>(); }

}  // namespace

TEST_CASE("lfq module: test_lfq.py masked round trips (frac 1 and 0.5)") {
  for (double frac : {1.0, 0.5}) {
    auto q = make_lfq({{"codebook_size", 65536}, {"dim", 16}, {"entropy_loss_weight", 0.1},
                       {"diversity_gamma", 1.0}, {"frac_per_sample_entropy", frac}});
    const Tensor x = test::randn({2, 16, 32, 32}, 21);
    for (std::vector<uint8_t> m : {std::vector<uint8_t>{0, 0}, {1, 0}, {1, 1}}) {
      LFQCall call;
      call.inv_temperature = 100.0;
      call.mask = Tensor::from_vector(m, {2}, DType::boolean);
      const QuantizerOutput o = q->forward(Variable(x), call);
      CHECK(o.quantized.shape() == x.shape());
      CHECK(o.indices.shape() == Shape{2, 32, 32});
      CHECK(same_bits(o.quantized.value(), q->indices_to_codes(o.indices)));
      // all-false mask: 0 instead of the reference's NaN (SPEC 23.43)
      CHECK(std::isfinite(item(o.loss)));
      CHECK(o.breakdown.count("per_sample_entropy"));
      CHECK(o.breakdown.count("batch_entropy"));
      CHECK(o.breakdown.count("commitment"));
    }
  }
}

TEST_CASE("lfq module: frac_per_sample_entropy 0.1 estimates the full per-sample entropy") {
  // test_lfq.py's statistical check, with fixed generators (deterministic here).
  const Tensor x = test::randn({2, 16, 32, 32}, 22);
  for (bool masked : {false, true}) {
    LFQCall call;
    if (masked) call.mask = Tensor::from_vector(std::vector<uint8_t>{1, 0}, {2}, DType::boolean);
    auto full = make_lfq({{"codebook_size", 65536}, {"dim", 16}});
    const double truth = item(full->forward(Variable(x), call).breakdown.at("per_sample_entropy"));
    Generator gen(5);
    auto part = make_lfq({{"codebook_size", 65536}, {"dim", 16}, {"frac_per_sample_entropy", 0.1}}, gen);
    std::vector<double> runs;
    for (int i = 0; i < 10; ++i) {
      const QuantizerOutput o = part->forward(Variable(x), call);
      runs.push_back(item(o.breakdown.at("per_sample_entropy")));
      CHECK(same_bits(o.quantized.value(), part->indices_to_codes(o.indices)));
    }
    double mean = 0, var = 0;
    for (double r : runs) mean += r / 10;
    for (double r : runs) var += (r - mean) * (r - mean) / 9;
    CHECK(var > 0);  // different subsets each call
    CHECK(std::fabs(mean - truth) <= 3 * std::sqrt(var / 10));
  }
}

TEST_CASE("lfq module: README round trips (spherical x scale), shapes of sequences and video") {
  for (bool spherical : {false, true})
    for (double scale : {1.0, 0.5}) {
      auto q = make_lfq({{"codebook_size", 65536}, {"dim", 16}, {"entropy_loss_weight", 0.1}, {"diversity_gamma", 1.0},
                         {"spherical", spherical}, {"codebook_scale", scale}});
      const Tensor x = test::randn({1, 16, 32, 32}, 23);
      const QuantizerOutput o = q->forward(Variable(x));
      CHECK(same_bits(o.quantized.value(), q->indices_to_codes(o.indices)));
      if (spherical) {  // BSQ codes lie on the sphere of radius scale
        const Tensor n = ops::norm(o.quantized.value().permute({0, 2, 3, 1}).contiguous(), {-1});
        CHECK(test::max_abs_diff(n, ops::mul(Tensor::ones(n.shape()), scale)) < 1e-5);
      }
    }
  auto q = make_lfq({{"codebook_size", 65536}, {"dim", 16}});
  const Tensor seq = test::randn({1, 32, 16}, 24);
  CHECK(q->forward(Variable(seq)).quantized.shape() == seq.shape());
  const Tensor vid = test::randn({1, 16, 10, 8, 8}, 25);
  const QuantizerOutput ov = q->forward(Variable(vid));
  CHECK(ov.quantized.shape() == vid.shape());
  CHECK(ov.indices.shape() == Shape{1, 10, 8, 8});
}

TEST_CASE("lfq module: README lfq2 (4 codebooks, projections 16 <-> 48)") {
  auto q = make_lfq({{"codebook_size", 4096}, {"dim", 16}, {"num_codebooks", 4}});
  CHECK(q->has_projections());
  const Tensor x = test::randn({1, 16, 32, 32}, 26);
  const QuantizerOutput o = q->forward(Variable(x));
  CHECK(o.quantized.shape() == x.shape());
  CHECK(o.indices.shape() == Shape{1, 32, 32, 4});
  CHECK(same_bits(o.quantized.value(), q->indices_to_codes(o.indices)));
}

TEST_CASE("lfq module: gradient check of the entropy and commitment terms") {
  // Entropy terms (smooth in x): through the projection, every mode, with and without the
  // spherical normalization and the soft clamp. Fixed generators: the projection is
  // the same whatever ran before.
  for (const char* mode : {"factorized", "exact", "unclamped"}) {
    for (bool spherical : {false, true}) {
      Generator gen(100);
      auto q = make_lfq({{"codebook_size", 16}, {"dim", 6}, {"spherical", spherical}, {"soft_clamp_input_value", 2.0},
                         {"entropy_mode", mode}, {"diversity_gamma", 1.7}},
                        gen);
      LFQCall call;
      call.inv_temperature = 1.5;
      auto fn = [&](const std::vector<Variable>& v) { return ag::mul(q->forward(v[0], call).loss, 10.0); };
      test::GradCheckOptions opt;
      opt.label = std::string("LFQ entropy loss, entropy_mode=") + mode + (spherical ? ", spherical" : "");
      test::check_gradients(fn, {ops::mul(test::randn({2, 3, 6}, 27), 0.7)}, opt);
    }
  }
  // Commitment (q jumps where a coordinate changes sign: inputs kept away from 0).
  for (bool spherical : {false, true}) {
    auto q = make_lfq({{"codebook_size", 16}, {"dim", 4}, {"spherical", spherical}, {"entropy_loss_weight", 0.0},
                       {"commitment_loss_weight", 0.6}, {"soft_clamp_input_value", 1.5}});
    auto fn = [&](const std::vector<Variable>& v) { return ag::mul(q->forward(v[0]).loss, 10.0); };
    Tensor x = test::randn({2, 3, 4}, 28);
    x = ops::add(x, ops::mul(ops::sign(x), 0.3));  // |x| >= 0.3
    test::GradCheckOptions opt;
    opt.label = std::string("LFQ commitment") + (spherical ? ", spherical" : "");
    test::check_gradients(fn, {x}, opt);
  }
}

TEST_CASE("lfq module: straight-through gradient reaches the input and the projections") {
  auto q = make_lfq({{"codebook_size", 256}, {"dim", 12}});
  const Tensor g = test::randn({2, 5, 12}, 28);
  Variable x(test::randn({2, 5, 12}, 29), true);
  const QuantizerOutput o = q->forward(x);
  ag::sum(ag::mul(o.quantized, Variable(g))).backward();
  // d out / d x = W_out W_in (the quantizer is identity for the gradient); loss adds nothing
  // here because backward started from the output only.
  const Tensor Win = q->find_parameter("project_in.weight")->value();
  const Tensor Wout = q->find_parameter("project_out.weight")->value();
  const Tensor expect = ops::matmul(ops::matmul(g.reshape({10, 12}), Wout), Win).reshape({2, 5, 12});
  CHECK(test::max_abs_diff(x.grad(), expect) < 1e-5);
}

TEST_CASE("lfq module: entropy modes agree on the reference's value; unclamped is the true entropy") {
  const Tensor x = test::randn({2, 64, 10}, 30);
  double ps[3], be[3];
  int i = 0;
  for (const char* mode : {"factorized", "exact", "unclamped"}) {
    auto q = make_lfq({{"codebook_size", 1024}, {"dim", 10}, {"entropy_mode", mode}});
    LFQCall call;
    call.inv_temperature = 3.0;
    const QuantizerOutput o = q->forward(Variable(x), call);
    ps[i] = item(o.breakdown.at("per_sample_entropy"));
    be[i] = item(o.breakdown.at("batch_entropy"));
    ++i;
  }
  CHECK(ps[0] == doctest::Approx(ps[1]).epsilon(1e-5));
  CHECK(be[0] == doctest::Approx(be[1]).epsilon(1e-5));
  CHECK(be[2] == doctest::Approx(be[1]).epsilon(1e-5));
  CHECK(ps[2] > ps[1]);  // the clamp lowers the entropy of the codes below 1e-5
  CHECK(ps[2] == doctest::Approx(ps[1]).epsilon(0.05));
}

TEST_CASE("lfq module: masks -- per sample, per token (fixed), and the reference quirk") {
  const Tensor x = test::randn({2, 6, 4}, 31);
  auto q = make_lfq({{"codebook_size", 16}, {"dim", 4}, {"commitment_loss_weight", 0.5}});
  LFQCall call;
  call.inv_temperature = 2.0;
  // per-sample mask (b,) = running on the selected sample alone
  call.mask = Tensor::from_vector(std::vector<uint8_t>{0, 1}, {2}, DType::boolean);
  const QuantizerOutput a = q->forward(Variable(x), call);
  const QuantizerOutput b = q->forward(Variable(x.narrow(0, 1, 1).contiguous()), LFQCall{2.0, Tensor()});
  for (const char* k : {"per_sample_entropy", "batch_entropy", "commitment"})
    CHECK(item(a.breakdown.at(k)) == doctest::Approx(item(b.breakdown.at(k))).epsilon(1e-5));
  // per-token mask (b, n): the selected tokens, averaged as tokens (SPEC 23.19 fix)
  std::vector<uint8_t> m(12, 0);
  std::vector<int64_t> sel = {0, 3, 4, 7, 11};
  for (int64_t s : sel) m[s] = 1;
  call.mask = Tensor::from_vector(m, {2, 6}, DType::boolean);
  const QuantizerOutput c = q->forward(Variable(x), call);
  const Tensor picked = ops::index_select(x.reshape({12, 4}), 0, Tensor::from_vector(sel, {5})).reshape({1, 5, 4});
  const QuantizerOutput d = q->forward(Variable(picked), LFQCall{2.0, Tensor()});
  for (const char* k : {"per_sample_entropy", "batch_entropy", "commitment"})
    CHECK(item(c.breakdown.at(k)) == doctest::Approx(item(d.breakdown.at(k))).epsilon(1e-5));
  // the quirk on request: batch entropy = per-sample entropy
  auto quirk = make_lfq({{"codebook_size", 16}, {"dim", 4}, {"reference_token_mask_quirk", true}});
  const QuantizerOutput e = quirk->forward(Variable(x), call);
  CHECK(item(e.breakdown.at("batch_entropy")) == item(e.breakdown.at("per_sample_entropy")));
}

TEST_CASE("lfq module: reference_token_mask_quirk reproduces the LFQ/mask_token_train fixture") {
  const std::string path = std::string(VQ_SOURCE_DIR) + "/tests/fixtures/LFQ/mask_token_train.safetensors";
  if (!std::filesystem::exists(path)) return;
  SafetensorsFile f = load_safetensors(path);
  QuantizerCase c;
  c.module = "LFQ";
  c.config = nlohmann::json::parse(f.metadata.at("config"));
  c.config["reference_token_mask_quirk"] = true;
  c.kwargs = nlohmann::json::parse(f.metadata.at("call"));
  c.train = true;
  c.x = f.tensors.at("x");
  c.tensors["mask"] = f.tensors.at("mask");
  c.state["mask"] = f.tensors.at("state_in.mask");
  c.grad_output = f.tensors.at("grad_output");
  c.grad_loss = f.tensors.at("grad_loss");
  auto got = run_quantizer_case(c);
  std::vector<std::string> failures;
  for (const char* k : {"quantized", "indices", "loss", "loss.per_sample_entropy", "loss.batch_entropy",
                        "loss.commitment", "grad.x"})
    test::compare_tensor(k, got[k], f.tensors.at(k), 1e-5, 1e-6, failures);
  std::string all;
  for (const auto& s : failures) all += "\n  " + s;
  INFO(all);
  CHECK(failures.empty());
}

TEST_CASE("lfq module: straight-through activation") {
  auto q = make_lfq({{"codebook_size", 16}, {"dim", 4}, {"straight_through_activation", "Tanh"}});
  Variable x(test::randn({1, 8, 4}, 32), true);
  const QuantizerOutput o = q->forward(x);
  ag::sum(o.quantized).backward();
  const auto xv = x.value().to_vector<float>();
  const auto gv = x.grad().to_vector<float>();
  for (size_t i = 0; i < xv.size(); ++i) {
    const double t = std::tanh(xv[i]);
    CHECK(gv[i] == doctest::Approx(1 - t * t).epsilon(1e-5));
  }
  CHECK(same_bits(o.quantized.value(), q->indices_to_codes(o.indices)) ==
        (test::max_abs_diff(o.quantized.value(), q->indices_to_codes(o.indices)) == 0));
  CHECK(test::max_abs_diff(o.quantized.value(), q->indices_to_codes(o.indices)) < 1e-6);
  CHECK_THROWS_WITH_AS(make_lfq({{"codebook_size", 16}, {"straight_through_activation", "Softsign"}}),
                       doctest::Contains("straight_through_activation must be one of"), ConfigError);
}

TEST_CASE("lfq module: eval has no loss terms; state dict holds the bit mask") {
  auto q = make_lfq({{"codebook_size", 256}, {"dim", 8}, {"commitment_loss_weight", 0.5}});
  const auto sd = q->state_dict();
  REQUIRE(sd.count("mask"));
  CHECK(sd.at("mask").to_vector<int64_t>() == std::vector<int64_t>{128, 64, 32, 16, 8, 4, 2, 1});
  q->eval();
  const QuantizerOutput o = q->forward(Variable(test::randn({1, 4, 8}, 33)));
  CHECK(item(o.loss) == 0.f);
  CHECK(item(o.breakdown.at("commitment")) == 0.f);
}

TEST_CASE("lfq module: options and error messages") {
  CHECK_THROWS_WITH_AS(make_lfq({{"codebook_size", 1000}}), doctest::Contains("must be a power of 2 for lookup free quantization (suggested 1024)"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(make_lfq(nlohmann::json::object()), doctest::Contains("either dim or codebook_size"), ConfigError);
  CHECK_THROWS_WITH_AS(make_lfq({{"codebook_size", 16}, {"frac_per_sample_entropy", 0.0}}),
                       doctest::Contains("frac_per_sample_entropy must be in (0, 1]"), ConfigError);
  CHECK_THROWS_WITH_AS(make_lfq({{"codebook_size", 16}, {"soft_clamp_input_value", 0.5}}),
                       doctest::Contains("must be >= codebook_scale"), ConfigError);
  CHECK_THROWS_WITH_AS(make_lfq({{"codebook_size", 16}, {"entropy_mode", "fast"}}),
                       doctest::Contains("entropy_mode must be 'factorized', 'exact' or 'unclamped'"), ConfigError);
  CHECK_THROWS_WITH_AS(make_lfq({{"codebook_size", 16}, {"codebooksize", 3}}),
                       doctest::Contains("LFQ: unknown option 'codebooksize'"), ConfigError);
  auto q = make_lfq({{"codebook_size", 16}, {"dim", 4}});
  CHECK(q->dim() == 4);
  CHECK(q->codebook_dim() == 4);
  CHECK_THROWS_WITH_AS(q->forward(Variable(Tensor::zeros({1, 2, 5}))),
                       doctest::Contains("LFQ: expected dimension of 4 but received 5"), ShapeError);
  LFQCall call;
  call.mask = Tensor::from_vector(std::vector<uint8_t>{1, 0, 1}, {3}, DType::boolean);
  CHECK_THROWS_WITH_AS(q->forward(Variable(Tensor::zeros({2, 2, 4})), call),
                       doctest::Contains("LFQ: mask must be (b,) = (2,) or (b, n) = (2, 2), got mask=[3]"), ShapeError);
  QuantizerCall c;
  c.x = Variable(Tensor::zeros({1, 2, 4}));
  c.kwargs = {{"inv_temperature", 10.0}, {"return_loss_breakdown", true}};
  CHECK_NOTHROW(q->call(c));
  c.tensors["lens"] = Tensor::zeros({1}, DType::i64);
  CHECK_THROWS_WITH_AS(q->call(c), doctest::Contains("LFQ: unknown input tensor 'lens'"), ConfigError);
}

TEST_CASE("lfq module: low-precision inputs are quantized in f32 and returned in their dtype") {
  auto q = make_lfq({{"codebook_size", 256}, {"dim", 8}});
  const Tensor x = test::randn({1, 32, 8}, 34).to(DType::bf16);
  const QuantizerOutput o = q->forward(Variable(x));
  CHECK(o.quantized.dtype() == DType::bf16);
  CHECK(o.indices.to_vector<int64_t>() == q->forward(Variable(x.to(DType::f32))).indices.to_vector<int64_t>());
  CHECK(std::isfinite(item(o.loss)));
}
