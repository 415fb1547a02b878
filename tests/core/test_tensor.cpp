// Tensor basics: factories, views, copies, casts, RNG determinism, errors.
#include <doctest/doctest.h>

#include "core/tensor.h"

using namespace vq;

TEST_CASE("tensor: factories and read-back") {
  Tensor z = Tensor::zeros({2, 3});
  CHECK(z.numel() == 6);
  CHECK(z.to_vector<float>() == std::vector<float>(6, 0.f));
  Tensor f = Tensor::full({2}, 2.5);
  CHECK(f.to_vector<float>() == std::vector<float>{2.5f, 2.5f});
  Tensor a = Tensor::arange(5);
  CHECK(a.dtype() == DType::i64);
  CHECK(a.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 4});
  Tensor af = Tensor::arange(1.0, 2.0, 0.25, DType::f32);
  CHECK(af.to_vector<float>() == std::vector<float>{1.f, 1.25f, 1.5f, 1.75f});
}

TEST_CASE("tensor: views share storage and copy") {
  Tensor x = Tensor::from_vector({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor t = x.t();
  CHECK(t.shape() == Shape{3, 2});
  CHECK(!t.is_contiguous());
  CHECK(t.contiguous().to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(x.narrow(1, 1, 2).contiguous().to_vector<float>() == std::vector<float>{1, 2, 4, 5});
  CHECK(x.select(0, 1).to_vector<float>() == std::vector<float>{3, 4, 5});
  CHECK(x.slice(1, 0, 3, 2).contiguous().to_vector<float>() == std::vector<float>{0, 2, 3, 5});
  CHECK(x.unsqueeze(0).shape() == Shape{1, 2, 3});
  CHECK(x.unsqueeze(0).squeeze().shape() == Shape{2, 3});
  CHECK(x.view({3, -1}).shape() == Shape{3, 2});
  Tensor e = Tensor::from_vector({1, 2}, {2, 1}).expand({2, 3});
  CHECK(e.contiguous().to_vector<float>() == std::vector<float>{1, 1, 1, 2, 2, 2});
  Tensor p = Tensor::arange(24, DType::f32).view({2, 3, 4}).permute({2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.contiguous().to_vector<float>()[1] == 4.f);
  CHECK(x.flatten().shape() == Shape{6});
  // Writes through a view are visible in the base.
  Tensor row = x.select(0, 0);
  row.fill_(9);
  CHECK(x.to_vector<float>()[2] == 9.f);
}

TEST_CASE("tensor: clone is independent, version counter bumps on writes") {
  Tensor x = Tensor::ones({3});
  Tensor c = x.clone();
  uint64_t v0 = x.version();
  x.fill_(2);
  CHECK(x.version() > v0);
  CHECK(c.to_vector<float>() == std::vector<float>{1, 1, 1});
}

TEST_CASE("tensor: dtype casts") {
  Tensor x = Tensor::from_vector({1.5f, -2.7f, 0.f, 3.f}, {4});
  CHECK(x.to(DType::i64).to_vector<int64_t>() == std::vector<int64_t>{1, -2, 0, 3});
  CHECK(x.to(DType::boolean).to_vector<uint8_t>() == std::vector<uint8_t>{1, 1, 0, 1});
  Tensor bf = x.to(DType::bf16).to(DType::f32);
  CHECK(bf.to_vector<float>()[0] == 1.5f);
  CHECK(bf.to_vector<float>()[1] == doctest::Approx(-2.7f).epsilon(0.01));
  Tensor h = x.to(DType::f16).to(DType::f32);
  CHECK(h.to_vector<float>()[1] == doctest::Approx(-2.7f).epsilon(0.001));
  CHECK(f16_to_f32(f32_to_f16(65504.f)) == 65504.f);
  CHECK(f16_to_f32(f32_to_f16(1e-7f)) == doctest::Approx(1.19209e-7f).epsilon(0.01));
}

TEST_CASE("tensor: generator is deterministic and well distributed") {
  Generator g1(42), g2(42);
  Tensor a = Tensor::rand({1000}, g1);
  Tensor b = Tensor::rand({1000}, g2);
  CHECK(a.to_vector<float>() == b.to_vector<float>());
  Tensor c = Tensor::rand({1000}, g1);  // advances
  CHECK(a.to_vector<float>() != c.to_vector<float>());
  Generator g3(7);
  auto n = Tensor::randn({20000}, g3).to_vector<float>();
  double s = 0, s2 = 0;
  for (float v : n) { s += v; s2 += double(v) * v; }
  double mean = s / n.size(), var = s2 / n.size() - mean * mean;
  CHECK(std::abs(mean) < 0.03);
  CHECK(std::abs(var - 1.0) < 0.04);
  auto u = a.to_vector<float>();
  for (float v : u) CHECK((v >= 0.f && v < 1.f));
}

TEST_CASE("tensor: errors name the shapes") {
  Tensor x = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH_AS(x.view({4, 2}), doctest::Contains("[2, 3]"), ShapeError);
  CHECK_THROWS_WITH_AS(x.t().view({6}), doctest::Contains("not contiguous"), ShapeError);
  CHECK_THROWS_WITH_AS(x.expand({4, 3}), doctest::Contains("cannot expand [2, 3] to [4, 3]"), ShapeError);
  CHECK_THROWS_WITH_AS(x.select(0, 5), doctest::Contains("out of range"), ShapeError);
  CHECK_THROWS_WITH_AS(x.data<int64_t>(), doctest::Contains("f32"), DTypeError);
  CHECK_THROWS_AS(x.item<float>(), ShapeError);
  CHECK_THROWS_WITH_AS(parse_device("gpu"), doctest::Contains("cpu, cuda or cuda:N"), ConfigError);
}

TEST_CASE("tensor: CUDA tensors need a GPU") {
  if (cuda_available()) return;
  CHECK_THROWS_AS(Tensor::zeros({2}, DType::f32, cuda_device()), DeviceError);
}

TEST_CASE("tensor: empty extents") {
  Tensor z = Tensor::zeros({2, 0, 3});
  CHECK(z.numel() == 0);
  CHECK(z.is_contiguous());
  CHECK(z.to_vector<float>().empty());
  CHECK(z.clone().shape() == Shape{2, 0, 3});
}
