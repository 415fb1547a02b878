// VectorQuantize's callable options: vq_bridge (FVQ) and the in-place codebook
// optimizer (SPEC.md 3.1, 3.6, 3.7, 18.2, 22, 23.17): construction rules with the
// reference's messages, JSON specs, state_dict keys, hand-computed in-place steps
// (automatic, manual, masked, averaged through the Comm), the bridge gradient against
// finite differences, the decode-helper quirk, and ResidualVQ's shared codebook.
#include <doctest/doctest.h>

#include "kernels/ops.h"
#include "nn/linear.h"
#include "optim/sgd.h"
#include "quantizers/quantizer.h"
#include "quantizers/residual_vq.h"
#include "quantizers/vector_quantize.h"
#include "tests/quantizers/vq_test_util.h"
#include "tests/support/gradcheck.h"

using namespace vq;
using nlohmann::json;

namespace {

json base(int64_t dim = 8, int64_t K = 4) { return json{{"dim", dim}, {"codebook_size", K}}; }
json with(json a, const json& b) {
  a.update(b);
  return a;
}

// dim 2, K 2, codes [[0, 0], [10, 10]], STE, learnable, in-place SGD(lr).
VectorQuantizeOptions tiny(double lr, bool manual = false) {
  VectorQuantizeOptions o;
  o.dim = 2;
  o.codebook_size = 2;
  o.learnable_codebook = true;
  o.ema_update = false;
  o.rotation_trick = false;
  o.manual_in_place_optimizer_update = manual;
  o.in_place_codebook_optimizer = [lr](std::vector<Variable> p) -> std::unique_ptr<optim::Optimizer> {
    optim::SGDOptions so;
    so.lr = lr;
    return std::make_unique<optim::SGD>(std::move(p), so);
  };
  return o;
}

void set_tiny_codes(VectorQuantize& vq) { vq.set_codebook(Tensor::from_vector({0, 0, 10, 10}, {2, 2})); }

// Tokens [1, 0] and [0, 1], both nearest to code 0.
Variable tiny_x() { return Variable(Tensor::from_vector({1, 0, 0, 1}, {1, 2, 2}), true); }

std::vector<float> vec(const Tensor& t) { return t.to(cpu_device()).contiguous().to_vector<float>(); }

// A Comm of `size` ranks whose all_reduce_sum multiplies by `factor` (the other ranks'
// contributions, simulated) and counts the calls.
struct ScalingComm : dist::Comm {
  int n;
  double factor;
  int reduces = 0;
  ScalingComm(int size, double f) : n(size), factor(f) {}
  int rank() const override { return 0; }
  int size() const override { return n; }
  void all_reduce_sum(Tensor& t) override {
    ++reduces;
    t.copy_(ops::mul(t, factor));
  }
  void broadcast(Tensor&, int) override {}
  Tensor all_gather_v(const Tensor& local) override { return local; }
  void barrier() override {}
};

// A bridge x -> x W (W a Variable given from outside, for the gradient check).
struct ExternalLinear : nn::Layer {
  Variable w;
  Variable forward(const Variable& x) override { return ag::matmul(x, w); }
  std::string repr() const override { return "ExternalLinear()"; }
};

}  // namespace

TEST_CASE("vq callables: construction rules name the reference's assertion") {
  auto bad = [](json j, const char* needle) {
    CAPTURE(j.dump());
    CHECK_THROWS_WITH_AS(make_quantizer("VectorQuantize", j), doctest::Contains(needle), ConfigError);
  };
  json mlp = {{"type", "mlp"}, {"hidden", {16}}};
  // learnable defaults to true with a bridge, so ema_update=true trips the EMA rule first (as in the reference)
  bad(with(base(), {{"vq_bridge", mlp}, {"ema_update", true}}), "learnable codebook not compatible with EMA update");
  bad(with(base(), {{"vq_bridge", mlp}, {"learnable_codebook", false}}),
      "learnable_codebook must be set to True if vq_bridge is passed in");
  bad(with(base(), {{"in_place_codebook_optimizer", {{"type", "SGD"}}}}), "needs codebook parameters");
  bad(with(base(), {{"vq_bridge", {{"type", "transformer"}}}}), "needs x-transformers");
  bad(with(base(), {{"vq_bridge", {{"type", "mlp"}, {"hidden", {0}}}}}), "hidden widths must be >= 1");
  bad(with(base(), {{"vq_bridge", {{"type", "mlp"}, {"activation", "swish"}}}}), "activation 'swish'");
  bad(with(base(), {{"vq_bridge", "Sequential"}}), "'vq_bridge' must be an object");
  bad(with(base(), {{"in_place_codebook_optimizer", {{"type", "RMSprop"}}}}), "\"SGD\", \"Adam\" or \"AdamW\"");
  bad(with(base(), {{"in_place_codebook_optimizer", {{"type", "SGD"}, {"lrr", 1}}}}), "unknown option 'lrr'");
  bad(with(base(), {{"in_place_codebook_optimizer", {{"type", "Adam"}, {"betas", {0.9}}}}}),
      "betas must have 2 entries");
  bad(with(base(), {{"learnable_codebook", true}, {"ema_update", false},
                           {"in_place_codebook_optimizer", {{"type", "SGD"}, {"lr", -1}}}}),
      "lr");

  // Defaults follow the bridge: learnable on, EMA off.
  auto q = std::dynamic_pointer_cast<VectorQuantize>(make_quantizer("VectorQuantize", with(base(), {{"vq_bridge", mlp}})));
  REQUIRE(q);
  CHECK(*q->options().learnable_codebook);
  CHECK_FALSE(*q->options().ema_update);
  CHECK(q->in_place_optimizer() == nullptr);
  CHECK_NOTHROW(q->update_in_place_optimizer());  // no-op without an optimizer

  // An in-place optimizer forbids topk in training.
  auto ip = std::dynamic_pointer_cast<VectorQuantize>(make_quantizer(
      "VectorQuantize", with(base(), {{"learnable_codebook", true}, {"ema_update", false},
                                             {"in_place_codebook_optimizer", {{"type", "Adam"}, {"lr", 0.1}}}})));
  REQUIRE(ip);
  REQUIRE(ip->in_place_optimizer() != nullptr);
  CHECK(ip->in_place_optimizer()->name() == "Adam");
  VectorQuantizeCall c;
  c.topk = 2;
  CHECK_THROWS_WITH_AS(ip->forward(Variable(test::randn({1, 3, 8}, 1)), c),
                       doctest::Contains("in-place codebook optimizer"), ConfigError);
  ip->eval();
  CHECK_NOTHROW(ip->forward(Variable(test::randn({1, 3, 8}, 1)), c));  // eval: allowed
}

TEST_CASE("vq callables: a bridge that changes the codebook shape is rejected when used") {
  VectorQuantizeOptions o;
  o.dim = 4;
  o.codebook_size = 3;
  o.vq_bridge = [](int64_t d, Generator& g) -> std::shared_ptr<nn::Layer> {
    return std::make_shared<nn::Linear>(d, d + 1, true, g);
  };
  VectorQuantize vq(o);
  CHECK_THROWS_WITH_AS(vq.forward(Variable(test::randn({1, 2, 4}, 2))),
                       doctest::Contains("vq_bridge must preserve the codebook shape [1, 3, 4], returned [1, 3, 5]"),
                       ShapeError);
}

TEST_CASE("vq callables: state_dict keys of the bridge and a checkpoint round trip") {
  json cfg = with(base(8, 4), {{"vq_bridge", {{"type", "mlp"}, {"hidden", {6}}, {"activation", "gelu"}}},
                                       {"in_place_codebook_optimizer", {{"type", "SGD"}, {"lr", 0.5}}}});
  auto a = make_quantizer("VectorQuantize", cfg);
  auto sd = a->state_dict();
  for (const char* k : {"_codebook.embed", "_codebook.vq_bridge.0.weight", "_codebook.vq_bridge.0.bias",
                        "_codebook.vq_bridge.2.weight", "_codebook.vq_bridge.2.bias"})
    CHECK_MESSAGE(sd.count(k) == 1, k);
  CHECK(sd.at("_codebook.vq_bridge.0.weight").shape() == Shape{6, 8});
  CHECK(sd.at("_codebook.vq_bridge.2.weight").shape() == Shape{8, 6});
  auto* vqa = dynamic_cast<VectorQuantize*>(a.get());
  REQUIRE(vqa);
  CHECK(vqa->in_place_optimizer()->params().size() == 5);  // embed + 2 x (weight, bias)

  auto lin = make_quantizer("VectorQuantize", with(base(8, 4), {{"vq_bridge", {{"type", "linear"}, {"bias", false}}}}));
  auto lsd = lin->state_dict();
  CHECK(lsd.count("_codebook.vq_bridge.weight") == 1);
  CHECK(lsd.count("_codebook.vq_bridge.bias") == 0);

  // a trained state moves into a fresh module (different init) and gives the same outputs
  Variable x(test::randn({2, 5, 8}, 3));
  a->call({x});
  auto b = make_quantizer("VectorQuantize", cfg);
  b->load_state_dict(a->state_dict(), true);
  a->eval();
  b->eval();
  CHECK(test::max_abs_diff(a->call({x}).quantized.value(), b->call({x}).quantized.value()) == 0.0);
}

TEST_CASE("vq callables: in-place SGD step by hand (SPEC 3.6)") {
  VectorQuantize vq(tiny(1.0));
  set_tiny_codes(vq);
  Variable x = tiny_x();
  QuantizerOutput out = vq.forward(x);
  // L_ip = ((1)^2 + (1)^2) / 4 = 0.5; d/dE0 = 2/4 ([-1, 0] + [0, -1]) = [-0.5, -0.5]; E0 <- E0 + 0.5
  CHECK(out.breakdown.at("inplace_optimize").value().item<float>() == doctest::Approx(0.5));
  CHECK_FALSE(out.breakdown.at("inplace_optimize").requires_grad());
  CHECK(vec(vq.codebook()) == std::vector<float>{0.5f, 0.5f, 10.f, 10.f});
  // second codebook pass: the output uses the stepped code
  CHECK(vec(out.quantized.value()) == std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f});
  CHECK(out.indices.to(DType::f32).to_vector<float>() == std::vector<float>{0, 0});
  // commitment on the new codes: (0.25 + 0.25) * 2 / 4
  CHECK(out.breakdown.at("commitment").value().item<float>() == doctest::Approx(0.25));
  // gradients were cleared by the optimizer
  CHECK_FALSE(vq.codebook_module().embed_variable().has_grad());

  // eval and frozen: no step
  VectorQuantizeCall frozen;
  frozen.freeze_codebook = true;
  QuantizerOutput f = vq.forward(tiny_x(), frozen);
  CHECK(f.breakdown.at("inplace_optimize").value().item<float>() == 0.0f);
  vq.eval();
  vq.forward(tiny_x());
  CHECK(vec(vq.codebook()) == std::vector<float>{0.5f, 0.5f, 10.f, 10.f});
}

TEST_CASE("vq callables: manual in-place update accumulates until update_in_place_optimizer") {
  VectorQuantize vq(tiny(1.0, /*manual=*/true));
  set_tiny_codes(vq);
  QuantizerOutput out = vq.forward(tiny_x());
  CHECK(vec(vq.codebook()) == std::vector<float>{0, 0, 10, 10});
  CHECK(vec(out.quantized.value()) == std::vector<float>{0, 0, 0, 0});
  Variable e = vq.codebook_module().embed_variable();
  REQUIRE(e.has_grad());
  CHECK(vec(e.grad()) == std::vector<float>{-0.5f, -0.5f, 0, 0});
  vq.forward(tiny_x());  // a second L_ip backward adds the same gradient
  CHECK(vec(e.grad()) == std::vector<float>{-1.f, -1.f, 0, 0});
  vq.update_in_place_optimizer();
  CHECK(vec(vq.codebook()) == std::vector<float>{1.f, 1.f, 10.f, 10.f});
  CHECK_FALSE(e.has_grad());
}

TEST_CASE("vq callables: masked in-place loss averages over valid tokens") {
  VectorQuantize vq(tiny(1.0));
  set_tiny_codes(vq);
  VectorQuantizeCall c;
  c.mask = Tensor::from_vector(std::vector<uint8_t>{1, 0}, {1, 2}, DType::boolean);
  QuantizerOutput out = vq.forward(tiny_x(), c);
  // only token [1, 0]: L = 1 / 2; d/dE0 = 2/2 [-1, 0]; E0 <- [1, 0]
  CHECK(out.breakdown.at("inplace_optimize").value().item<float>() == doctest::Approx(0.5));
  CHECK(vec(vq.codebook()) == std::vector<float>{1.f, 0.f, 10.f, 10.f});
}

TEST_CASE("vq callables: in-place gradients are averaged through the Comm under sync_codebook (SPEC 18.2)") {
  auto comm = std::make_shared<ScalingComm>(4, 3.0);  // "the other ranks" triple the sum; world size 4
  VectorQuantizeOptions o = tiny(1.0);
  o.sync_codebook = true;
  VectorQuantize vq(o, comm);
  set_tiny_codes(vq);
  const int before = comm->reduces;
  vq.forward(tiny_x());
  // grad [-0.5, -0.5] -> sum 3 x -> / 4: E0 = 0.375
  CHECK(vec(vq.codebook()) == std::vector<float>{0.375f, 0.375f, 10.f, 10.f});
  CHECK(comm->reduces > before);
  // without sync_codebook the Comm is not used for the step
  auto comm2 = std::make_shared<ScalingComm>(4, 3.0);
  VectorQuantizeOptions o2 = tiny(1.0);
  o2.sync_codebook = false;
  VectorQuantize vq2(o2, comm2);
  set_tiny_codes(vq2);
  vq2.forward(tiny_x());
  CHECK(vec(vq2.codebook()) == std::vector<float>{0.5f, 0.5f, 10.f, 10.f});
  CHECK(comm2->reduces == 0);
}

TEST_CASE("vq callables: the bridge is in the search and the output; decode helpers skip it (SPEC 3.7 quirk)") {
  json cfg = with(base(4, 3), {{"vq_bridge", {{"type", "linear"}}}});
  auto q = std::dynamic_pointer_cast<VectorQuantize>(make_quantizer("VectorQuantize", cfg));
  REQUIRE(q);
  q->eval();
  Variable x(test::randn({2, 5, 4}, 7));
  QuantizerOutput out = q->forward(x);
  NoGradGuard ng;
  Tensor E = q->codebook();                                                    // (K, d) stored
  Variable W = *q->find_parameter("_codebook.vq_bridge.weight");
  Variable bias = *q->find_parameter("_codebook.vq_bridge.bias");
  Tensor BE = ops::add(ops::matmul(E, W.value().transpose(0, 1)), bias.value());  // bridge(E)
  Tensor idx = out.indices.reshape({-1});
  Tensor want_q = ops::index_select(BE, 0, idx).reshape({2, 5, 4});
  CHECK(test::max_abs_diff(out.quantized.value(), want_q) < 1e-5);
  // nearest bridged code
  Tensor d = ops::sum(ops::pow(ops::sub(x.value().reshape({10, 1, 4}), BE.unsqueeze(0)), 2.0), {-1});
  CHECK(test::max_abs_diff(ops::argmin(d, -1).to(DType::f32), idx.to(DType::f32)) == 0.0);
  // the decode helper gathers the stored (unbridged) codes, as the reference does
  Tensor dec = q->get_output_from_indices(out.indices);
  CHECK(test::max_abs_diff(dec, ops::index_select(E, 0, idx).reshape({2, 5, 4})) == 0.0);
  CHECK(test::max_abs_diff(dec, out.quantized.value()) > 1e-3);
}

TEST_CASE("vq callables: gradient through the bridge matches finite differences") {
  auto ext = std::make_shared<ExternalLinear>();
  VectorQuantizeOptions o;
  o.dim = 3;
  o.codebook_size = 4;
  o.rotation_trick = false;
  o.vq_bridge = [ext](int64_t, Generator&) -> std::shared_ptr<nn::Layer> { return ext; };
  VectorQuantize vq(o);
  vq.set_codebook(Tensor::from_vector({3, 0, 0, 0, 3, 0, 0, 0, 3, -3, -3, -3}, {4, 3}));
  // inputs near distinct codes, well inside their cells
  Tensor x = Tensor::from_vector({2.8f, 0.3f, -0.2f, 0.1f, 3.2f, 0.2f, -0.3f, 0.2f, 2.7f, -2.9f, -3.1f, -2.6f},
                                        {1, 4, 3});
  Tensor w = ops::add(Tensor::from_vector({1, 0, 0, 0, 1, 0, 0, 0, 1}, {3, 3}), ops::mul(test::randn({3, 3}, 11), 0.05));

  // eval: quantized = bridge(E)[idx], differentiable in W
  vq.eval();
  test::GradCheckOptions go;
  go.label = "vq_bridge eval quantized";
  go.check_input = {true, false};
  test::check_gradients(
      [&](const std::vector<Variable>& v) {
        ext->w = v[0];
        return vq.forward(v[1]).quantized;
      },
      {w, x}, go);
  // training (learnable, no EMA): commitment mean((bridge(E)[idx] - x)^2) in W and x
  vq.train();
  go.label = "vq_bridge train commitment";
  go.check_input = {true, true};
  test::check_gradients(
      [&](const std::vector<Variable>& v) {
        ext->w = v[0];
        return vq.forward(v[1]).loss;
      },
      {w, x}, go);
}

TEST_CASE("vq callables: ResidualVQ shared codebook steps the in-place optimizer once per forward (SPEC 23.17 fix)") {
  json cfg = {{"dim", 4},
              {"num_quantizers", 2},
              {"codebook_size", 8},
              {"shared_codebook", true},
              {"learnable_codebook", true},
              {"ema_update", false},
              {"in_place_codebook_optimizer", {{"type", "SGD"}, {"lr", 0.5}}}};
  ResidualVQ rvq(ResidualVQOptions::from_json(cfg));
  CHECK(rvq.layer(1).options().manual_in_place_optimizer_update);
  Tensor before = rvq.layer(0).codebook().clone();
  Variable x(test::randn({2, 6, 4}, 5), true);
  QuantizerOutput out = rvq.forward(x);
  Tensor after = rvq.layer(0).codebook();
  CHECK(test::max_abs_diff(before, after) > 1e-4);              // the reference never steps here
  CHECK(test::max_abs_diff(after, rvq.layer(1).codebook()) == 0.0);  // still one shared codebook
  CHECK_FALSE(rvq.layer(0).codebook_module().embed_variable().has_grad());
  // frozen: nothing moves
  ResidualVQCall fc;
  fc.freeze_codebook = true;
  Tensor snap = after.clone();
  rvq.forward(x, fc);
  CHECK(test::max_abs_diff(snap, rvq.layer(0).codebook()) == 0.0);
}

TEST_CASE("vq callables: README fvq with an MLP bridge in place of the transformer (test_readme.py::fvq)") {
  // The reference's example bridges the codebook with an x-transformers encoder; vqcpp
  // offers MLP / Linear bridges (docs/quantizers/vector_quantize.md). Same VQ otherwise.
  json cfg = {{"dim", 256},
              {"codebook_size", 512},
              {"vq_bridge", {{"type", "mlp"}, {"hidden", {256}}, {"activation", "gelu"}}},
              {"in_place_codebook_optimizer", {{"type", "SGD"}, {"lr", 1e-3}}}};
  auto q = std::dynamic_pointer_cast<VectorQuantize>(make_quantizer("VectorQuantize", cfg));
  REQUIRE(q);
  CHECK(*q->options().learnable_codebook);
  CHECK_FALSE(*q->options().ema_update);
  Tensor before = q->state_dict().at("_codebook.vq_bridge.2.weight").clone();
  Variable x(test::randn({1, 1024, 256}, 17), true);
  QuantizerOutput out = q->forward(x);
  CHECK(out.quantized.shape() == Shape{1, 1024, 256});
  CHECK(out.indices.shape() == Shape{1, 1024});
  CHECK(out.loss.shape() == Shape{});
  CHECK(test::max_abs_diff(before, q->state_dict().at("_codebook.vq_bridge.2.weight")) > 0.0);  // stepped
  ag::add(ag::sum(out.quantized), out.loss).backward();
  CHECK(x.has_grad());
  CHECK(q->find_parameter("_codebook.vq_bridge.0.weight")->has_grad());  // the outer optimizer's share (quirk 37)
}

TEST_CASE("vq callables: one JSON bridge spec is one module, shared by ResidualVQ layers (as one Python object)") {
  json cfg = {{"dim", 4},
              {"num_quantizers", 2},
              {"codebook_size", 8},
              {"vq_bridge", {{"type", "linear"}}},
              {"in_place_codebook_optimizer", {{"type", "SGD"}, {"lr", 0.1}}}};
  ResidualVQ rvq(ResidualVQOptions::from_json(cfg));
  Variable* w0 = rvq.find_parameter("layers.0._codebook.vq_bridge.weight");
  Variable* w1 = rvq.find_parameter("layers.1._codebook.vq_bridge.weight");
  REQUIRE(w0);
  REQUIRE(w1);
  CHECK(w0->same(*w1));
  auto sd = rvq.state_dict();
  CHECK(sd.count("layers.1._codebook.vq_bridge.bias") == 1);
  // each layer has its own codebook and optimizer; both optimizers cover the shared bridge
  CHECK(rvq.layer(0).in_place_optimizer() != rvq.layer(1).in_place_optimizer());
  CHECK(rvq.layer(1).in_place_optimizer()->params().size() == 3);
  Tensor before = w0->value().clone();
  QuantizerOutput out = rvq.forward(Variable(test::randn({2, 5, 4}, 9), true));
  CHECK(test::max_abs_diff(before, w0->value()) > 0.0);
  // As in the reference, layer 1's in-place step changed the shared bridge that layer
  // 0's graph saved, so the outer backward fails (torch: "modified by an inplace
  // operation"); without the in-place optimizer a shared bridge trains normally
  // (fixture ResidualVQ/vq_bridge_shared_train).
  CHECK_THROWS_AS(ag::add(ag::sum(out.quantized), ag::sum(out.loss)).backward(), AutogradError);
}
