// Gradients of the indexing functions: gather, index_select, scatter_add,
// index_add, masked_fill, cumsum, topk and sort values.
#include <doctest/doctest.h>

#include "autograd/functions.h"
#include "kernels/ops.h"
#include "tests/support/gradcheck.h"

using namespace vq;
using test::check_gradients;
using test::GradCheckOptions;

namespace {
using Vars = std::vector<Variable>;
GradCheckOptions named(const std::string& label) {
  GradCheckOptions o;
  o.label = label;
  return o;
}
std::vector<float> host(const Tensor& t) { return t.contiguous().to_vector<float>(); }
Tensor idx(std::vector<int64_t> v, const Shape& s) { return Tensor::from_vector(v, s); }
}  // namespace

TEST_CASE("autograd: indexing gradients, hand-computed") {
  // index_select with a repeated index accumulates: rows 0, 2, 0 of x [3, 2]
  Variable x(Tensor::from_vector({1, 2, 3, 4, 5, 6}, {3, 2}), true);
  ag::index_select(x, 0, idx({0, 2, 0}, {3})).backward(Tensor::from_vector({1, 1, 2, 2, 3, 3}, {3, 2}));
  CHECK(host(x.grad()) == std::vector<float>{4, 4, 0, 0, 2, 2});
  x.zero_grad();
  // gather along dim 1: out[i][j] = x[i][index[i][j]]
  ag::gather(x, 1, idx({1, 1, 0, 1, 0, 0}, {3, 2})).backward(Tensor::ones({3, 2}));
  CHECK(host(x.grad()) == std::vector<float>{0, 2, 1, 1, 2, 0});
  x.zero_grad();
  // cumsum: d/dx_j = number of outputs i >= j (weighted by g_i)
  Variable c(Tensor::from_vector({1, 2, 3}, {3}), true);
  ag::cumsum(c, 0).backward(Tensor::from_vector({1, 10, 100}, {3}));
  CHECK(host(c.grad()) == std::vector<float>{111, 110, 100});
  // masked_fill: zero gradient where filled
  Variable mf(Tensor::from_vector({1, 2, 3}, {3}), true);
  Tensor mask = Tensor::from_vector(std::vector<uint8_t>{0, 1, 0}, {3}, DType::boolean);
  ag::masked_fill(mf, mask, -5.0).backward(Tensor::ones({3}));
  CHECK(host(mf.grad()) == std::vector<float>{1, 0, 1});
  // topk: gradient lands on the chosen elements
  Variable t(Tensor::from_vector({0.5f, 3, 1, 2}, {4}), true);
  auto [vals, ids] = ag::topk(t, 2);
  CHECK(ids.to_vector<int64_t>() == std::vector<int64_t>{1, 3});
  vals.backward(Tensor::from_vector({7, 9}, {2}));
  CHECK(host(t.grad()) == std::vector<float>{0, 7, 0, 9});
  // scatter_add: src gradient gathers g at the index, base gets g unchanged
  Variable base(Tensor::zeros({3}), true), src(Tensor::ones({4}), true);
  ag::scatter_add(base, 0, idx({2, 0, 2, 1}, {4}), src).backward(Tensor::from_vector({1, 2, 3}, {3}));
  CHECK(host(base.grad()) == std::vector<float>{1, 2, 3});
  CHECK(host(src.grad()) == std::vector<float>{3, 1, 3, 2});
}

TEST_CASE("autograd: gather/index_select/scatter_add/index_add gradient checks") {
  Generator gen(31);
  Tensor x = Tensor::randn({3, 4}, gen);
  Tensor gi0 = idx({2, 0, 1, 0, 1, 1, 2, 2}, {2, 4});
  Tensor gi1 = idx({3, 3, 0, 1, 2, 0}, {3, 2});
  check_gradients([&](const Vars& v) { return ag::gather(v[0], 0, gi0); }, {x}, named("gather dim 0"));
  check_gradients([&](const Vars& v) { return ag::gather(v[0], 1, gi1); }, {x}, named("gather dim 1"));
  Tensor sel = idx({2, 0, 2}, {3});
  check_gradients([&](const Vars& v) { return ag::index_select(v[0], 0, sel); }, {x},
                  named("index_select dim 0"));
  check_gradients([&](const Vars& v) { return ag::index_select(v[0], -1, sel); }, {x},
                  named("index_select dim -1"));
  Tensor src = Tensor::randn({2, 4}, gen);
  check_gradients([&](const Vars& v) { return ag::scatter_add(v[0], 0, gi0, v[1]); }, {x, src},
                  named("scatter_add"));
  // an index smaller than src: the unused part of src gets zero gradient
  Tensor small = idx({1, 0, 2, 1}, {2, 2});
  check_gradients([&](const Vars& v) { return ag::scatter_add(v[0], 1, small, v[1]); }, {x, src},
                  named("scatter_add small index"));
  Tensor rows = Tensor::randn({3, 4}, gen);
  check_gradients([&](const Vars& v) { return ag::index_add(v[0], 0, sel, v[1], 2.0); }, {x, rows},
                  named("index_add alpha=2"));
}

TEST_CASE("autograd: masked_fill/cumsum/topk/sort gradient checks") {
  Generator gen(32);
  Tensor x = test::rand_distinct({3, 4}, gen);
  Tensor mask = Tensor::from_vector(std::vector<uint8_t>{1, 0, 0, 1}, {4}, DType::boolean);
  check_gradients([&](const Vars& v) { return ag::masked_fill(v[0], mask, 0.5); }, {x},
                  named("masked_fill broadcast mask"));
  for (int64_t d : {0, 1, -1}) {
    std::string tag = " dim=" + std::to_string(d);
    check_gradients([=](const Vars& v) { return ag::cumsum(v[0], d); }, {x}, named("cumsum" + tag));
    check_gradients([=](const Vars& v) { return ag::sort(v[0], d).first; }, {x}, named("sort" + tag));
    check_gradients([=](const Vars& v) { return ag::sort(v[0], d, true).first; }, {x},
                    named("sort descending" + tag));
    check_gradients([=](const Vars& v) { return ag::topk(v[0], 2, d).first; }, {x}, named("topk" + tag));
    check_gradients([=](const Vars& v) { return ag::topk(v[0], 2, d, false).first; }, {x},
                    named("topk smallest" + tag));
  }
}

TEST_CASE("autograd: indexing errors name the op and shapes") {
  Variable x(Tensor::ones({3, 4}), true);
  CHECK_THROWS_AS(ag::gather(x, 1, Tensor::ones({3, 2})), DTypeError);  // f32 index
  CHECK_THROWS_WITH_AS(ag::index_select(x, 2, idx({0}, {1})), doctest::Contains("index_select"), ShapeError);
  CHECK_THROWS_WITH_AS(ag::topk(x, 5, 1), doctest::Contains("topk"), ShapeError);
}
