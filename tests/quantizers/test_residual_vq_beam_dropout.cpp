// ResidualVQ quantize dropout (Python-exact depth from a seed, statistics of the drawn
// depth, dropped layers), beam search (exhaustive small case checked by brute force,
// the reference's beam test shapes, codebook updates) and determinism under a seed.
#include <doctest/doctest.h>

#include <map>

#include "kernels/ops.h"
#include "quantizers/grouped_residual_vq.h"
#include "quantizers/quantize_dropout.h"
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
// Number of leading layers that ran (indices != -1) for token 0; checks it is the same
// for every token (a whole suffix is dropped).
int64_t depth_of(const Tensor& indices, int64_t q) {
  auto v = ints(indices);
  const int64_t tokens = static_cast<int64_t>(v.size()) / q;
  int64_t depth = 0;
  while (depth < q && v[static_cast<size_t>(depth)] != -1) ++depth;
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t l = 0; l < q; ++l) REQUIRE((v[static_cast<size_t>(t * q + l)] == -1) == (l >= depth));
  return depth;
}
}  // namespace

TEST_CASE("quantize dropout: PyRandom is Python's random.Random") {
  // Values printed by CPython 3.11: random.Random(s).getrandbits(32) x3 and randrange.
  const std::map<uint64_t, std::vector<uint32_t>> bits{
      {0, {3626764237u, 1654615998u, 3255389356u}},
      {1, {577090037u, 2444712010u, 3639700191u}},
      {42, {2746317213u, 478163327u, 107420369u}},
      {1234, {4150886329u, 3342196574u, 1892932127u}},
      {9999, {3585257280u, 533280010u, 677013082u}},
      {(uint64_t(1) << 40) + 5, {2166296868u, 2220160828u, 1153647273u}}};
  for (const auto& kv : bits) {
    PyRandom r(kv.first);
    for (uint32_t want : kv.second) CHECK(r.getrandbits(32) == want);
  }
  // randrange(0, 8), randrange(2, 8), randrange(0, 3), randrange(0, 1)
  const std::map<uint64_t, std::vector<int64_t>> ranges{
      {0, {6, 5, 1, 0}}, {1, {2, 3, 0, 0}}, {42, {1, 7, 2, 0}}, {1234, {7, 5, 1, 0}}, {9999, {1, 2, 0, 0}}};
  for (const auto& kv : ranges) {
    CHECK(PyRandom(kv.first).randrange(0, 8) == kv.second[0]);
    CHECK(PyRandom(kv.first).randrange(2, 8) == kv.second[1]);
    CHECK(PyRandom(kv.first).randrange(0, 3) == kv.second[2]);
    CHECK(PyRandom(kv.first).randrange(0, 1) == kv.second[3]);
  }
  CHECK_THROWS_WITH_AS(PyRandom(1).randrange(3, 3), doctest::Contains("randrange(3, 3)"), ConfigError);
}

TEST_CASE("quantize dropout: depth rule, multiple_of rounding, validation") {
  QuantizeDropout d;
  d.enabled = true;
  CHECK(d.last_layer(42, 8) == 1);  // random.Random(42).randrange(0, 8) == 1
  d.cutoff_index = 2;
  d.multiple_of = 4;
  // randrange(2, 8) for seed 42 is 7 -> ceil(8 / 4) * 4 - 1 = 7; seed 9999 -> 2 -> 3
  CHECK(d.last_layer(42, 8) == 7);
  CHECK(d.last_layer(9999, 8) == 3);
  d.multiple_of = 3;  // 7 -> ceil(8/3)*3 - 1 = 8: past the last layer, nothing dropped
  CHECK(d.last_layer(42, 8) == 8);
  // statistics of the drawn depth: cutoff 2, multiple_of 4 -> P(3) = 2/6, P(7) = 4/6
  d.multiple_of = 4;
  std::map<int64_t, int> count;
  Generator gen(5);
  const int trials = 3000;
  for (int i = 0; i < trials; ++i) count[d.last_layer(gen.next_u32(), 8)]++;
  CHECK(count.size() == 2);
  CHECK(count[3] / double(trials) == doctest::Approx(1.0 / 3).epsilon(0.12));
  CHECK(count[7] / double(trials) == doctest::Approx(2.0 / 3).epsilon(0.06));
  QuantizeDropout bad;
  bad.cutoff_index = -1;
  CHECK_THROWS_WITH_AS(bad.validate("ResidualFSQ", 4),
                       doctest::Contains("ResidualFSQ: quantize_dropout_cutoff_index must be >= 0"), ConfigError);
  bad.cutoff_index = 0;
  bad.multiple_of = 0;
  CHECK_THROWS_WITH_AS(bad.validate("ResidualVQ", 4), doctest::Contains("quantize_dropout_multiple_of must be >= 1"),
                       ConfigError);
  CHECK_FALSE(bad.active(4));
  QuantizeDropout one;
  one.enabled = true;
  CHECK_FALSE(one.active(1));  // kept only when q > 1
}

TEST_CASE("residual_vq: quantize dropout drops a suffix, uniformly over depths, only in training") {
  auto o = rvq_opts(4, 4, 8);
  o.quantize_dropout.enabled = true;
  ResidualVQ rvq(o);
  Tensor x = test::randn({2, 3, 4}, 30);
  std::map<int64_t, int> seen;
  const int trials = 800;
  for (int i = 0; i < trials; ++i) {
    ResidualVQCall c;
    c.freeze_codebook = true;
    auto out = rvq.forward(Variable(x), c);
    const int64_t depth = depth_of(out.indices, 4);
    seen[depth]++;
    auto loss = out.loss.value().to_vector<float>();
    for (int64_t l = depth; l < 4; ++l) CHECK(loss[static_cast<size_t>(l)] == 0.0f);
    // the output is the decode of the kept layers
    CHECK(max_abs_diff(out.quantized.value(), rvq.get_output_from_indices(out.indices)) < 1e-5);
  }
  CHECK(seen.size() == 4);
  for (const auto& kv : seen) CHECK(kv.second / double(trials) == doctest::Approx(0.25).epsilon(0.2));
  // a fixed seed gives the reference's depth: random.Random(42).randrange(0, 4) + 1 layers
  ResidualVQCall fixed;
  fixed.rand_quantize_dropout_fixed_seed = 42;
  const int64_t want = PyRandom(42).randrange(0, 4) + 1;
  CHECK(depth_of(rvq.forward(Variable(x), fixed).indices, 4) == want);
  rvq.eval();
  CHECK(depth_of(rvq.forward(Variable(x)).indices, 4) == 4);
}

TEST_CASE("grouped_residual_vq: all groups drop at the same depth") {
  GroupedResidualVQOptions g;
  g.groups = 3;
  g.rvq = rvq_opts(6, 5, 8);
  g.rvq.quantize_dropout.enabled = true;
  GroupedResidualVQ grvq(g);
  for (int i = 0; i < 20; ++i) {
    auto out = grvq.forward(Variable(test::randn({1, 4, 6}, 31 + i)));
    const int64_t d0 = depth_of(out.indices.select(0, 0), 5);
    for (int64_t k = 1; k < 3; ++k) CHECK(depth_of(out.indices.select(0, k), 5) == d0);
  }
}

TEST_CASE("residual_vq: same generator seed, same result (training with dropout and sampling)") {
  auto o = rvq_opts(8, 4, 16);
  o.quantize_dropout.enabled = true;
  o.vq.stochastic_sample_codes = true;
  o.vq.threshold_ema_dead_code = 1.5;
  auto run = [&](uint64_t seed) {
    Generator gen(seed);
    ResidualVQ rvq(o, nullptr, gen);
    std::vector<Tensor> res;
    for (int step = 0; step < 3; ++step) {
      auto out = rvq.forward(Variable(test::randn({2, 6, 8}, 40 + step)));
      res.push_back(out.quantized.value());
      res.push_back(out.indices.to(DType::f32));
    }
    res.push_back(rvq.layer(0).codebook_module().embed().clone());
    return res;
  };
  auto a = run(7), b = run(7), c = run(8);
  bool differs = false;
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(max_abs_diff(a[i], b[i]) == 0.0);
    differs = differs || max_abs_diff(a[i], c[i]) > 0;
  }
  CHECK(differs);
}

TEST_CASE("residual_vq beam search: exhaustive case equals brute force over every code path") {
  // q = 2, K = 4, beam 4: layer 0 keeps all 4 codes, layer 1 scores all 16 paths and
  // keeps the best, i.e. argmin over (a, b) of w0 mse(x - c0_a) + w1 mse(x - c0_a - c1_b).
  for (auto w : std::vector<std::vector<double>>{{1.0, 1.0}, {0.0, 1.0}, {1.0, 3.0}}) {
    CAPTURE(w[0]);
    CAPTURE(w[1]);
    auto o = rvq_opts(3, 2, 4);
    o.beam_size = 4;
    o.beam_score_quantizer_weights = w;
    ResidualVQ rvq(o);
    Tensor E0 = test::randn({4, 3}, 50), E1 = ops::mul(test::randn({4, 3}, 51), 0.5);
    rvq.layer(0).set_codebook(E0);
    rvq.layer(1).set_codebook(E1);
    Tensor x = test::randn({2, 5, 3}, 52);
    ResidualVQCall c;
    c.freeze_codebook = true;
    auto out = rvq.forward(Variable(x), c);
    auto e0 = E0.to_vector<float>(), e1 = E1.to_vector<float>(), xv = x.to_vector<float>();
    auto idx = ints(out.indices);
    for (int t = 0; t < 10; ++t) {
      double best = 1e30;
      int ba = -1, bb = -1;
      for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b) {
          double s0 = 0, s1 = 0;
          for (int k = 0; k < 3; ++k) {
            double r0 = xv[t * 3 + k] - e0[a * 3 + k];
            s0 += r0 * r0;
            double r1 = r0 - e1[b * 3 + k];
            s1 += r1 * r1;
          }
          const double score = w[0] * s0 / 3 + w[1] * s1 / 3;
          if (score < best) best = score, ba = a, bb = b;
        }
      CHECK(idx[t * 2] == ba);
      CHECK(idx[t * 2 + 1] == bb);
    }
    CHECK(max_abs_diff(out.quantized.value(), rvq.get_output_from_indices(out.indices)) < 1e-5);
    CHECK(out.loss.shape() == Shape{2});
    // a per-call beam_size of 1 is the greedy residual pass
    ResidualVQCall greedy;
    greedy.freeze_codebook = true;
    greedy.beam_size = 1;
    auto g = rvq.forward(Variable(x), greedy);
    auto plain_opts = rvq_opts(3, 2, 4);
    ResidualVQ plain(plain_opts);
    plain.load_state_dict(rvq.state_dict());
    ResidualVQCall pc;
    pc.freeze_codebook = true;
    CHECK(ints(g.indices) == ints(plain.forward(Variable(x), pc).indices));
  }
}

TEST_CASE("residual_vq beam search: the reference's beam test shapes; codebook updates") {
  for (int64_t cd : {256, 128}) {
    auto o = rvq_opts(256, 8, 1024);
    o.codebook_dim = cd;
    o.quantize_dropout.enabled = true;
    o.beam_size = 2;
    o.eval_beam_size = 3;
    ResidualVQ rvq(o);
    Variable x(test::randn({1, 1024, 256}, 60), true);
    for (int step = 0; step < 3; ++step) {  // the reference runs five
      auto out = rvq.forward(x);
      CHECK(out.quantized.shape() == Shape{1, 1024, 256});
      CHECK(out.indices.shape() == Shape{1, 1024, 8});
      CHECK(out.loss.shape() == Shape{8});
    }
    rvq.eval();
    auto ev = rvq.forward(Variable(x.value()));  // eval_beam_size 3
    CHECK(ev.indices.shape() == Shape{1, 1024, 8});
    CHECK(max_abs_diff(ev.quantized.value(), rvq.get_output_from_indices(ev.indices)) < 1e-4);
  }
  // After the search the reference updates only layer 0 (SPEC 4.8); with
  // beam_update_all_layers every layer's statistics move.
  for (bool all : {false, true}) {
    auto o = rvq_opts(4, 3, 8);
    o.beam_size = 2;
    o.beam_update_all_layers = all;
    ResidualVQ rvq(o);
    std::vector<Tensor> before;
    for (int64_t l = 0; l < 3; ++l)
      before.push_back(rvq.layer(l).codebook_module().find_buffer("cluster_size")->clone());
    rvq.forward(Variable(test::randn({2, 6, 4}, 61)));
    for (int64_t l = 0; l < 3; ++l) {
      const bool moved =
          max_abs_diff(before[static_cast<size_t>(l)], *rvq.layer(l).codebook_module().find_buffer("cluster_size")) > 0;
      CHECK(moved == (l == 0 || all));
    }
    // freeze_codebook: no update at all
    Tensor frozen = rvq.layer(0).codebook_module().find_buffer("cluster_size")->clone();
    ResidualVQCall c;
    c.freeze_codebook = true;
    rvq.forward(Variable(test::randn({2, 6, 4}, 62)), c);
    CHECK(max_abs_diff(frozen, *rvq.layer(0).codebook_module().find_buffer("cluster_size")) == 0.0);
  }
}

TEST_CASE("residual_vq beam search with a mask: -1 and zeros at padding, losses over valid tokens") {
  auto o = rvq_opts(4, 2, 8);
  o.beam_size = 3;
  ResidualVQ rvq(o);
  ResidualVQCall c;
  c.mask = Tensor::from_vector(std::vector<uint8_t>{1, 1, 0, 1, 0, 0}, {2, 3}, DType::boolean);
  c.freeze_codebook = true;
  auto out = rvq.forward(Variable(test::randn({2, 3, 4}, 63)), c);
  auto idx = ints(out.indices);
  const std::vector<int> valid{1, 1, 0, 1, 0, 0};
  for (int t = 0; t < 6; ++t)
    for (int l = 0; l < 2; ++l) CHECK((idx[t * 2 + l] == -1) == (valid[t] == 0));
  CHECK(max_abs_diff(out.quantized.value().select(0, 1).narrow(0, 1, 2), Tensor::zeros({2, 4})) == 0.0);
  CHECK(test::all_finite(out.loss.value()));
}
