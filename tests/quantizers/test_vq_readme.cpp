// The reference's own VectorQuantize test cases (SPEC.md 20.1 and 20.5), ported.
#include <doctest/doctest.h>

#include "kernels/ops.h"
#include "kernels/ops_vq.h"
#include "quantizers/vector_quantize.h"
#include "tests/quantizers/vq_test_util.h"

using namespace vq;
using test::max_abs_diff;

namespace {
VectorQuantizeOptions base(int64_t dim, int64_t K) {
  VectorQuantizeOptions o;
  o.dim = dim;
  o.codebook_size = K;
  return o;
}
}  // namespace

TEST_CASE("vq readme: train forward with cosine / rotation trick, input requires grad") {
  for (bool cosine : {false, true}) {
    for (bool rotation : {false, true}) {
      auto o = base(256, 512);
      o.decay = 0.8;
      o.use_cosine_sim = cosine;
      o.rotation_trick = rotation;
      VectorQuantize vq(o);
      Variable x(test::randn({1, 1024, 256}, 1), true);
      auto out = vq.forward(x);
      CHECK(out.quantized.shape() == Shape{1, 1024, 256});
      CHECK(out.indices.shape() == Shape{1, 1024});
      CHECK(out.loss.numel() == 1);
      ag::add(ag::sum(out.quantized), out.loss).backward();
      REQUIRE(x.has_grad());
      CHECK(test::all_finite(x.grad()));
    }
  }
}

TEST_CASE("vq readme: eval output equals decode of its indices") {
  for (bool cosine : {false, true}) {
    auto o = base(256, 512);
    o.use_cosine_sim = cosine;
    VectorQuantize vq(o);
    vq.eval();
    auto out = vq.forward(Variable(test::randn({1, 1024, 256}, 2)));
    CHECK(max_abs_diff(out.quantized.value(), vq.get_output_from_indices(out.indices)) < 1e-6);
  }
}

TEST_CASE("vq readme: lens masking matches the unpadded prefix") {
  auto o = base(256, 512);
  o.decay = 1.0;  // the codebook does not move, so both calls see the same codes
  VectorQuantize vq(o);
  Tensor x = test::randn({1, 1024, 256}, 3);
  VectorQuantizeCall plain;
  auto a = vq.forward(Variable(x.narrow(1, 0, 512).contiguous()), plain);
  VectorQuantizeCall withlens;
  withlens.lens = Tensor::from_vector(std::vector<int64_t>{512}, {1});
  auto b = vq.forward(Variable(x), withlens);
  CHECK(std::fabs(a.breakdown.at("commitment").value().item<float>() -
                  b.breakdown.at("commitment").value().item<float>()) < 1e-5);
  CHECK(max_abs_diff(a.quantized.value(), b.quantized.value().narrow(1, 0, 512)) < 1e-6);
  CHECK(a.indices.to_vector<int64_t>() == b.indices.narrow(1, 0, 512).contiguous().to_vector<int64_t>());
  CHECK(max_abs_diff(b.quantized.value().narrow(1, 512, 512), Tensor::zeros({1, 512, 256})) == 0.0);
  for (int64_t v : b.indices.narrow(1, 512, 512).contiguous().to_vector<int64_t>()) CHECK(v == -1);
}

TEST_CASE("vq readme: lower codebook dim, cosine, expiry, 3-D maps, multi-head images run") {
  {
    auto o = base(256, 512);
    o.codebook_dim = 16;
    VectorQuantize vq(o);
    auto out = vq.forward(Variable(test::randn({1, 1024, 256}, 4)));
    CHECK(out.quantized.shape() == Shape{1, 1024, 256});
    vq.eval();
    auto ev = vq.forward(Variable(test::randn({1, 64, 256}, 5)));
    CHECK(max_abs_diff(ev.quantized.value(), vq.get_output_from_indices(ev.indices)) < 1e-5);
  }
  {
    auto o = base(256, 512);
    o.threshold_ema_dead_code = 2;
    VectorQuantize vq(o);
    Tensor x = test::randn({1, 1024, 256}, 6);
    vq.forward(Variable(x));
    // Codes start with cluster size 1 < 2; those still below 2 after the EMA step are
    // refilled with input vectors and get cluster size 2 (reset_cluster_size).
    Tensor codes = vq.codebook();
    auto near = ops::nearest_code(codes, x.reshape({1024, 256})).scores.to_vector<float>();
    auto cs = vq.state_dict().at("_codebook.cluster_size").to_vector<float>();
    int refilled = 0;
    for (size_t k = 0; k < cs.size(); ++k) {
      CHECK(cs[k] >= 2.0f);                      // no code is left below the threshold
      refilled += near[k] < 1e-3f;               // expanded-form distance, |x|^2 ~ 256
    }
    CHECK(refilled > 400);
  }
  {
    auto o = base(64, 512);
    o.accept_3d_fmap = true;
    VectorQuantize vq(o);
    vq.eval();
    auto out = vq.forward(Variable(test::randn({1, 64, 4, 8, 8}, 7)));
    CHECK(out.quantized.shape() == Shape{1, 64, 4, 8, 8});
    CHECK(out.indices.shape() == Shape{1, 4, 8, 8});
    CHECK(max_abs_diff(out.quantized.value(), vq.get_output_from_indices(out.indices)) < 1e-6);
  }
  {
    auto o = base(256, 1024);
    o.codebook_dim = 32;
    o.heads = 8;
    o.separate_codebook_per_head = true;
    o.accept_image_fmap = true;
    VectorQuantize vq(o);
    auto out = vq.forward(Variable(test::randn({1, 256, 16, 16}, 8)));
    CHECK(out.quantized.shape() == Shape{1, 256, 16, 16});
    CHECK(out.indices.shape() == Shape{1, 16, 16, 8});
    vq.eval();
    auto ev = vq.forward(Variable(test::randn({1, 256, 8, 8}, 9)));
    CHECK(max_abs_diff(ev.quantized.value(), vq.get_output_from_indices(ev.indices)) < 1e-5);
  }
}

TEST_CASE("vq readme: directional reparam runs with gradients") {
  auto o = base(256, 512);
  o.directional_reparam = true;
  o.threshold_ema_dead_code = 2;
  VectorQuantize vq(o);
  Variable x(test::randn({1, 256, 256}, 10), true);
  auto out = vq.forward(x);
  ag::add(ag::sum(out.quantized), out.loss).backward();
  CHECK(test::all_finite(x.grad()));
  auto params = vq.named_parameters();
  bool embed_grad = false;
  for (auto& p : params)
    if (p.first == "_codebook.embed") embed_grad = p.second.has_grad();
  CHECK(embed_grad);  // DiVeQ trains the codes through |q - x|
}

TEST_CASE("vq readme: custom EMA weights freeze weight-0 codes and move weight-1 codes") {
  for (bool cosine : {false, true}) {
    auto o = base(256, 8);
    o.codebook_dim = 128;
    o.decay = 0.8;
    o.use_cosine_sim = cosine;
    VectorQuantize vq(o);
    std::vector<float> w{1, 0, 1, 0, 0, 1, 1, 0};
    Tensor before = vq.codebook().clone();
    VectorQuantizeCall c;
    c.ema_update_weight_tensor = Tensor::from_vector(w, {8});
    vq.forward(Variable(test::randn({16, 256, 256}, 11)), c);
    Tensor after = vq.codebook();
    for (int64_t k = 0; k < 8; ++k) {
      double diff = max_abs_diff(before.select(0, k), after.select(0, k));
      if (w[k] == 0) {
        CHECK(diff < 1e-6);
      } else {
        auto b = before.select(0, k).contiguous().to_vector<float>();
        auto a = after.select(0, k).contiguous().to_vector<float>();
        int changed = 0;
        for (size_t i = 0; i < a.size(); ++i) changed += a[i] != b[i];
        CHECK(changed == static_cast<int>(a.size()));
      }
    }
  }
}

TEST_CASE("vq readme: accumulated EMA applies on the third call") {
  auto o = base(256, 8);
  o.codebook_dim = 128;
  o.use_cosine_sim = true;
  VectorQuantize vq(o);
  Tensor before = vq.codebook().clone();
  VectorQuantizeCall acc;
  acc.accum_ema_update = true;
  vq.forward(Variable(test::randn({4, 128, 256}, 12)), acc);
  vq.forward(Variable(test::randn({4, 128, 256}, 13)), acc);
  CHECK(max_abs_diff(before, vq.codebook()) < 1e-6);
  vq.forward(Variable(test::randn({4, 128, 256}, 14)));
  CHECK(max_abs_diff(before, vq.codebook()) > 1e-4);
}

TEST_CASE("vq beam: top-1 equals the normal forward, then update_indices gives the same EMA") {
  auto o = base(256, 512);
  Generator ga(21), gb(21);
  VectorQuantize a(o, nullptr, ga);
  VectorQuantize b(o, nullptr, gb);
  b.load_state_dict(a.state_dict());
  Tensor x = test::randn({1, 1024, 256}, 15);
  Generator mg(16);
  Tensor mask = ops::lt(Tensor::rand({1, 1024}, mg), 0.7);
  VectorQuantizeCall ca;
  ca.mask = mask;
  auto ra = a.forward(Variable(x), ca);
  VectorQuantizeCall cb;
  cb.mask = mask;
  cb.topk = 1;
  cb.ema_update = false;
  auto rb = b.forward(Variable(x), cb);
  CHECK(rb.quantized.shape() == Shape{1, 1024, 1, 256});
  CHECK(rb.indices.shape() == Shape{1, 1024, 1});
  CHECK(rb.loss.shape() == Shape{1, 1024, 1});
  double n_valid = ops::sum(mask.to(DType::f32)).item<float>();
  CHECK(std::fabs(ra.loss.value().item<float>() - ops::sum(rb.loss.value()).item<float>() / n_valid) < 1e-5);
  Tensor ib = rb.indices.select(-1, 0).contiguous();
  auto iav = ra.indices.to_vector<int64_t>();
  auto ibv = ib.to_vector<int64_t>();
  auto mv = mask.to_vector<uint8_t>();
  for (size_t i = 0; i < iav.size(); ++i)
    if (mv[i]) CHECK(iav[i] == ibv[i]);
  auto sa = a.state_dict(), sb = b.state_dict();
  CHECK(max_abs_diff(sa.at("_codebook.embed_avg"), sb.at("_codebook.embed_avg")) > 1e-6);
  b.update_indices(Variable(x), ib, mask);
  sb = b.state_dict();
  for (const char* k : {"_codebook.cluster_size", "_codebook.embed_avg", "_codebook.embed"})
    CHECK(max_abs_diff(sa.at(k), sb.at(k)) < 1e-5);
}
