// RandomProjectionQuantizer: the reference's "rq" README case (SPEC.md 20.5), the
// indices computed by hand from the state, the cross-entropy mode, the reference's
// inner-VQ width quirk (SPEC 23.8), statistics of the random projections, errors.
#include <doctest/doctest.h>

#include <cmath>

#include "kernels/ops.h"
#include "quantizers/functional.h"
#include "quantizers/quantizer.h"
#include "quantizers/random_projection.h"
#include "tests/quantizers/vq_test_util.h"

using namespace vq;
using test::max_abs_diff;

namespace {
RandomProjectionQuantizerOptions rpq_opts(int64_t dim, int64_t h, int64_t cd, int64_t K) {
  RandomProjectionQuantizerOptions o;
  o.dim = dim;
  o.num_codebooks = h;
  o.codebook_dim = cd;
  o.codebook_size = K;
  return o;
}
}  // namespace

TEST_CASE("rpq readme: 16 codebooks of 1024 codes on (1, 1024, 512)") {
  // The reference's inner VQ would be 4096 -> 65536 wide here (SPEC 23.8); the README
  // case runs with the intended widths (forward_codebook_dim).
  auto o = rpq_opts(512, 16, 256, 1024);
  o.forward_codebook_dim = true;
  RandomProjectionQuantizer rpq(o);
  auto out = rpq.forward(Variable(test::randn({1, 1024, 512}, 70)));
  CHECK(out.indices.shape() == Shape{1, 1024, 16});
  CHECK_FALSE(out.quantized.defined());
  auto v = out.indices.to_vector<int64_t>();
  for (int64_t i : v) CHECK((i >= 0 && i < 1024));
  CHECK(rpq.state_dict().at("vq._codebook.embed").shape() == Shape{16, 1024, 256});
  CHECK(rpq.state_dict().count("vq.project_in.weight") == 0);
}

TEST_CASE("rpq: indices are the cosine argmax of the normalized, projected input") {
  auto o = rpq_opts(6, 1, 4, 10);
  RandomProjectionQuantizer rpq(o);
  Tensor x = test::randn({2, 5, 6}, 71);
  auto out = rpq.forward(Variable(x));
  CHECK(out.indices.shape() == Shape{2, 5});
  // by hand: layer norm (no affine, eps 1e-5), projection, l2norm, argmax of dot products
  Tensor mean = ops::mean(x, {-1}, true);
  Tensor var = ops::var(x, {-1}, false, true);
  Tensor xn = ops::div(ops::sub(x, mean), ops::sqrt(ops::add(var, 1e-5)));
  Tensor proj = ops::matmul(xn.reshape({10, 6}), rpq.rand_projs().select(0, 0));  // (10, 4)
  Tensor u = qf::l2norm(proj, 1e-6);
  Tensor E = rpq.vq().codebook();  // (1, K, 4): separate codebook per head
  Tensor sims = ops::matmul(u, E.select(0, 0).transpose(0, 1).contiguous());
  CHECK(out.indices.reshape({10}).to_vector<int64_t>() == ops::argmax(sims, -1).to_vector<int64_t>());
  // the codebook stays at its init (eval, no update), the vq is kept in eval mode
  rpq.train();
  Tensor before = rpq.vq().codebook().clone();
  rpq.forward(Variable(x));
  CHECK(max_abs_diff(before, rpq.vq().codebook()) == 0.0);
  CHECK_FALSE(rpq.vq().is_training());
  // indices given: cross-entropy of the similarities
  auto ce = rpq.forward(Variable(x), out.indices);
  Tensor want = qf::cross_entropy(Variable(sims), out.indices.reshape({10})).value();
  CHECK(ce.loss.value().item<float>() == doctest::Approx(want.item<float>()).epsilon(1e-5));
}

TEST_CASE("rpq: reference layout with several codebooks (inner VQ width h*cd, project_in)") {
  auto o = rpq_opts(8, 2, 3, 5);
  RandomProjectionQuantizer rpq(o);
  auto sd = rpq.state_dict();
  CHECK(sd.at("rand_projs").shape() == Shape{2, 8, 3});
  CHECK(sd.at("vq.project_in.weight").shape() == Shape{12, 6});
  CHECK(sd.at("vq._codebook.embed").shape() == Shape{2, 5, 6});
  auto out = rpq.forward(Variable(test::randn({3, 4, 8}, 72)));
  CHECK(out.indices.shape() == Shape{3, 4, 2});
  CHECK(rpq.get_output_from_indices(out.indices).shape() == Shape{3, 4, 6});
  // through the registry, with a pass-through VectorQuantize option
  auto q = make_quantizer("RandomProjectionQuantizer",
                          nlohmann::json::parse(R"({"dim": 8, "codebook_size": 5, "codebook_dim": 3,
                                                    "num_codebooks": 2, "norm": false, "decay": 0.9})"));
  QuantizerCall c;
  c.x = Variable(test::randn({1, 4, 8}, 73));
  CHECK(q->call(c).indices.shape() == Shape{1, 4, 2});
}

TEST_CASE("rpq: Xavier-normal projections (std sqrt(2 / (dim*cd + h*cd)))") {
  auto o = rpq_opts(64, 4, 32, 8);
  RandomProjectionQuantizer rpq(o);
  Tensor p = rpq.rand_projs();
  const double want = std::sqrt(2.0 / (64 * 32 + 4 * 32));
  const double sd = std::sqrt(ops::var(p).item<float>());
  CHECK(sd == doctest::Approx(want).epsilon(0.03));
  CHECK(std::fabs(ops::mean(p).item<float>()) < 0.05 * want);
}

TEST_CASE("rpq: errors") {
  auto make = [](const char* js) { return make_quantizer("RandomProjectionQuantizer", nlohmann::json::parse(js)); };
  CHECK_THROWS_WITH_AS(make(R"({"dim": 8, "codebook_size": 5})"), doctest::Contains("'codebook_dim' are required"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(make(R"({"dim": 8, "codebook_size": 5, "codebook_dim": 3, "heads": 2})"),
                       doctest::Contains("'heads' is fixed"), ConfigError);
  CHECK_THROWS_WITH_AS(make(R"({"dim": 8, "codebook_size": 5, "codebook_dim": 3, "bogus": 1})"),
                       doctest::Contains("unknown option 'bogus'"), ConfigError);
  RandomProjectionQuantizer rpq(rpq_opts(8, 1, 3, 5));
  CHECK_THROWS_WITH_AS(rpq.forward(Variable(Tensor::zeros({2, 8}))),
                       doctest::Contains("x must be (b, n, dim=8), got x=[2, 8]"), ShapeError);
}
