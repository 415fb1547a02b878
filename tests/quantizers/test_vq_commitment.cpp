// VectorQuantize's commitment loss (the fused mean((sg(q) - x)^2) node of a training
// step): its value and its gradient to the input against hand-computed formulas, with
// and without the rotation trick, and the generic path for learnable codebooks.
#include <doctest/doctest.h>

#include "autograd/engine.h"
#include "quantizers/vector_quantize.h"
#include "tests/quantizers/vq_test_util.h"

using namespace vq;

namespace {

// mean((q - x)^2) in double and its gradient -2 (q - x) / numel.
void expected_commitment(const Tensor& q, const Tensor& x, double& loss, std::vector<double>& grad) {
  auto qv = q.contiguous().to_vector<float>();
  auto xv = x.contiguous().to_vector<float>();
  const double n = static_cast<double>(qv.size());
  loss = 0;
  grad.assign(qv.size(), 0.0);
  for (size_t i = 0; i < qv.size(); ++i) {
    const double d = double(qv[i]) - double(xv[i]);
    loss += d * d / n;
    grad[i] = -2.0 * d / n;
  }
}

void check_commitment(VectorQuantizeOptions o) {
  o.dim = 4;
  o.codebook_size = 8;
  Generator gen(3);
  VectorQuantize vq(o, nullptr, gen);
  vq.train();
  Tensor x0 = test::randn({2, 3, 4}, 11);
  Variable x(x0.clone(), true);
  QuantizerOutput out = vq.forward(x);
  // The quantized value is the chosen codes (rotation / straight-through keep it).
  double loss = 0;
  std::vector<double> grad;
  expected_commitment(out.quantized.value(), x0, loss, grad);
  CHECK(out.loss.value().item<float>() == doctest::Approx(loss).epsilon(1e-5));
  CHECK(out.breakdown.at("commitment").value().item<float>() == doctest::Approx(loss).epsilon(1e-5));
  backward(out.loss);
  auto got = x.grad().contiguous().to_vector<float>();
  REQUIRE(got.size() == grad.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(grad[i]).epsilon(1e-5));
}

}  // namespace

TEST_CASE("vq commitment: loss and input gradient with the rotation trick (default)") {
  check_commitment(VectorQuantizeOptions{});
}

TEST_CASE("vq commitment: loss and input gradient with straight-through") {
  VectorQuantizeOptions o;
  o.rotation_trick = false;
  check_commitment(o);
}

TEST_CASE("vq commitment: weight scales the loss, and a learnable codebook gets the codes' gradient") {
  VectorQuantizeOptions o;
  o.dim = 4;
  o.codebook_size = 8;
  o.commitment_weight = 0.5;
  o.learnable_codebook = true;
  o.ema_update = false;
  Generator gen(5);
  VectorQuantize vq(o, nullptr, gen);
  vq.train();
  Tensor x0 = test::randn({2, 3, 4}, 12);
  Variable x(x0.clone(), true);
  QuantizerOutput out = vq.forward(x);
  double loss = 0;
  std::vector<double> grad;
  expected_commitment(out.quantized.value(), x0, loss, grad);
  CHECK(out.breakdown.at("commitment").value().item<float>() == doctest::Approx(loss).epsilon(1e-5));
  CHECK(out.loss.value().item<float>() == doctest::Approx(0.5 * loss).epsilon(1e-5));
  backward(out.loss);
  // d/dx of 0.5 * mean((q - x)^2); the codes (learnable) get a gradient as well.
  auto got = x.grad().contiguous().to_vector<float>();
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(0.5 * grad[i]).epsilon(1e-5));
  Variable E = vq.codebook_module().embed_variable();
  REQUIRE(E.has_grad());
  CHECK(test::all_finite(E.grad()));
}
