// FSQ kernels and ops (kernels/ops_scalar_quant.h, kernels/cpu/fsq.h): hand-computed
// values of every bound variant, integer indices beyond 2^24 codes, bit-exact decode
// round trips, identical bits on every SIMD path, the fast tanh's error bound, the
// straight-through gradient against central differences, noise dropout, soft clamp,
// and error messages.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/generator.h"
#include "kernels/cpu/fsq.h"
#include "kernels/cpu/fsq_simd.h"
#include "kernels/ops_scalar_quant.h"

using namespace vq;

namespace {

std::vector<float> vec(const Tensor& t) { return t.contiguous().to_vector<float>(); }
std::vector<int64_t> ivec(const Tensor& t) { return t.contiguous().to_vector<int64_t>(); }

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

Tensor randn(const Shape& s, uint64_t seed, float stddev = 1.5f) {
  Generator g(seed);
  return Tensor::randn(s, g, cpu_device(), 0.f, stddev);
}

}  // namespace

TEST_CASE("fsq kernels: hand-computed standard bound, levels [4, 5]") {
  // L=4: half_l = 3 * 1.001 / 2 = 1.5015, offset 0.5, shift = atanh(0.5 / 1.5015),
  //   z -> +inf: y = 1.0015 -> 1 -> code 1/2, level 3; z -> -inf: y = -2.0015 -> -2 ->
  //   code -1, level 0; z = 0: y = tanh(shift) * 1.5015 - 0.5 = 0 -> code 0, level 2.
  // L=5: half_l = 2.002, no offset; z = atanh(0.5): y = 1.001 -> 1 -> code 0.5, level 3.
  ops::FsqSpec spec;
  spec.levels = {4, 5};
  for (bool exact : {false, true}) {
    spec.exact = exact;
    const Tensor z = Tensor::from_vector({20.f, 0.5493061443f, -20.f, 0.f, 0.f, 20.f}, {3, 2});
    const ops::FsqOutput out = ops::fsq_forward(z, spec);
    const std::vector<float> c = vec(out.codes);
    CHECK(c[0] == doctest::Approx(0.5f));
    CHECK(c[1] == doctest::Approx(0.5f));
    CHECK(c[2] == doctest::Approx(-1.f));
    CHECK(c[3] == 0.f);
    CHECK(c[4] == 0.f);
    CHECK(c[5] == doctest::Approx(1.f));
    // index = level_0 + 4 * level_1 (first dimension least significant)
    CHECK(ivec(out.indices) == std::vector<int64_t>{3 + 4 * 3, 0 + 4 * 2, 2 + 4 * 4});
    CHECK(out.indices.shape() == Shape{3, 1});
  }
}

TEST_CASE("fsq kernels: symmetric and hard-clamp variants") {
  ops::FsqSpec spec;
  spec.levels = {3, 2};
  spec.preserve_symmetry = true;
  // L=3: b = tanh(z) + 1.5 -> floor: z=0 -> 1 (code 0), z=3 -> 2 (code 1), z=-3 -> 0 (code -1).
  // L=2: b = (tanh(z) + 1) / 2 + 0.5 -> z>0: 1 (code 1), z<0: 0 (code -1).
  Tensor z = Tensor::from_vector({0.f, 0.1f, 3.f, -0.1f, -3.f, 2.f}, {3, 2});
  ops::FsqOutput out = ops::fsq_forward(z, spec);
  std::vector<float> c = vec(out.codes);
  CHECK(c == std::vector<float>{0.f, 1.f, 1.f, -1.f, -1.f, 1.f});
  CHECK(ivec(out.indices) == std::vector<int64_t>{1 + 3 * 1, 2 + 0, 0 + 3 * 1});

  // Hard clamp, standard, L=5 (shift 0): z=0.5 -> y=1.001 -> code 0.5; z=2 -> clamp 1 ->
  // y=2.002 -> code 1; gradient ((g / 2) * 2.002) inside [-1, 1], 0 outside.
  ops::FsqSpec hard;
  hard.levels = {5};
  hard.bound_hard_clamp = true;
  z = Tensor::from_vector({0.5f, 2.f, -1.f, -1.5f}, {4, 1});
  out = ops::fsq_forward(z, hard);
  c = vec(out.codes);
  CHECK(c[0] == doctest::Approx(0.5f));
  CHECK(c[1] == doctest::Approx(1.f));
  CHECK(c[2] == doctest::Approx(-1.f));
  CHECK(c[3] == doctest::Approx(-1.f));
  const Tensor g = Tensor::from_vector({1.f, 1.f, 1.f, 1.f}, {4, 1});
  const std::vector<float> dz = vec(ops::fsq_backward(g, z, hard));
  CHECK(dz[0] == doctest::Approx(1.001f));
  CHECK(dz[1] == 0.f);
  CHECK(dz[2] == doctest::Approx(1.001f));  // torch.clamp passes the gradient at the bound
  CHECK(dz[3] == 0.f);
}

TEST_CASE("fsq kernels: decode round trip is bit-exact for every variant") {
  for (int variant = 0; variant < 4; ++variant) {
    ops::FsqSpec spec;
    spec.levels = variant < 2 ? std::vector<int64_t>{8, 5, 5, 5} : std::vector<int64_t>{7, 5, 2, 4};
    spec.preserve_symmetry = variant >= 2;
    spec.bound_hard_clamp = variant % 2 == 1;
    for (int64_t H : {1, 3}) {
      const Tensor z = randn({5, 7, H * 4}, 11 + variant);
      const ops::FsqOutput out = ops::fsq_forward(z, spec, H);
      CHECK(out.indices.shape() == Shape{5, 7, H});
      const Tensor codes = ops::fsq_indices_to_codes(out.indices, spec);  // [5, 7, H, 4]
      CHECK(same_bits(vec(codes), vec(out.codes)));
      const Tensor back = ops::fsq_codes_to_indices(out.codes.reshape({5, 7, H, 4}), spec);
      CHECK(ivec(back) == ivec(out.indices));
    }
  }
}

TEST_CASE("fsq kernels: levels above 1001 stay in range when the input saturates") {
  // half_l = (L - 1) * 1.001 / 2 exceeds L//2 + 0.5 for L > 1001: the reference then
  // rounds past the last level; the kernels clamp the rounded value (docs/deviations.md).
  ops::FsqSpec spec;
  spec.levels = {4096, 2001};
  const Tensor z = Tensor::from_vector({30.f, 30.f, -30.f, -30.f}, {2, 2});
  const ops::FsqOutput o = ops::fsq_forward(z, spec);
  CHECK(vec(o.codes) == std::vector<float>{2047.f / 2048.f, 1.f, -1.f, -1.f});
  CHECK(ivec(o.indices) == std::vector<int64_t>{4095 + 4096 * 2000, 0});
}

TEST_CASE("fsq kernels: int64 indices stay exact far beyond 2^24 codes") {
  ops::FsqSpec spec;
  spec.levels = {4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 65536, 9};  // 2^48 * 9 codes
  CHECK(ops::fsq_codebook_size(spec) == (int64_t{1} << 48) * 9);
  const Tensor z = randn({64, 18}, 5, 3.f);
  const ops::FsqOutput out = ops::fsq_forward(z, spec);
  const std::vector<int64_t> idx = ivec(out.indices);
  const std::vector<int64_t> lv = ivec(ops::fsq_indices_to_level_indices(out.indices, spec));
  const std::vector<float> c = vec(out.codes);
  for (int64_t r = 0; r < 64; ++r) {
    int64_t expect = 0, basis = 1;
    for (int j = 0; j < 18; ++j) {
      const int64_t L = spec.levels[j], hw = L / 2;
      // the level implied by the code (code * hw + hw), exactly an integer
      const int64_t level = static_cast<int64_t>(std::llround(c[r * 18 + j] * hw + hw));
      CHECK(lv[r * 18 + j] == level);
      expect += level * basis;
      basis *= L;
    }
    CHECK(idx[r] == expect);
  }
  CHECK(same_bits(vec(ops::fsq_indices_to_codes(out.indices, spec)), c));
}

TEST_CASE("fsq kernels: every SIMD path gives the same bits, forward and backward") {
  ops::FsqSpec spec;
  spec.levels = {8, 5, 5, 3};
  const Tensor z = randn({333, 8}, 21);  // odd row count: remainder chunks
  const Tensor g = randn({333, 8}, 22);
  for (int variant = 0; variant < 3; ++variant) {
    spec.preserve_symmetry = variant == 1;
    spec.bound_hard_clamp = variant == 2;
    spec.pre_div = variant == 2 ? std::vector<float>{0.5f, 0.25f, 3.f, 1.f} : std::vector<float>{};
    spec.post_mul = spec.pre_div;
    std::vector<std::vector<float>> codes, grads;
    std::vector<std::vector<int64_t>> idx;
    for (int level = 0; level <= 2; ++level) {
      cpu::sq_force_simd(level);
      const ops::FsqOutput o = ops::fsq_forward(z, spec, 2);
      codes.push_back(vec(o.codes));
      idx.push_back(ivec(o.indices));
      grads.push_back(vec(ops::fsq_backward(g, z, spec, 2)));
    }
    cpu::sq_force_simd(-1);
    for (int level = 1; level <= 2; ++level) {
      CHECK(same_bits(codes[level], codes[0]));
      CHECK(same_bits(grads[level], grads[0]));
      CHECK(idx[level] == idx[0]);
    }
  }
}

TEST_CASE("fsq kernels: fast tanh is within 1 ulp of the correctly rounded tanh") {
  // Exhaustive over every float is done offline (docs/quantizers/fsq.md); here a dense
  // sweep of 2^20 floats across [0, 12] plus special values.
  int64_t worst = 0;
  for (uint32_t i = 0; i < (1u << 20); ++i) {
    const float x = static_cast<float>(i) * (12.f / (1u << 20));
    for (float v : {x, -x, std::nextafter(x, 1e9f)}) {
      const float a = cpu::fast_tanh(v), b = cpu::exact_tanh(v);
      int32_t ia, ib;
      std::memcpy(&ia, &a, 4);
      std::memcpy(&ib, &b, 4);
      worst = std::max<int64_t>(worst, std::llabs(static_cast<int64_t>(ia) - ib));
    }
  }
  CHECK(worst <= 1);
  CHECK(cpu::fast_tanh(INFINITY) == 1.f);
  CHECK(cpu::fast_tanh(-INFINITY) == -1.f);
  CHECK(std::isnan(cpu::fast_tanh(NAN)));
  CHECK(std::signbit(cpu::fast_tanh(-0.f)));
  CHECK(cpu::fast_tanh(1e-30f) == 1e-30f);
}

TEST_CASE("fsq kernels: fast and exact modes agree away from rounding boundaries") {
  ops::FsqSpec spec;
  spec.levels = {8, 6, 5};
  const Tensor z = randn({500, 3}, 31);
  ops::FsqSpec ex = spec;
  ex.exact = true;
  const ops::FsqOutput a = ops::fsq_forward(z, spec), b = ops::fsq_forward(z, ex);
  CHECK(ivec(a.indices) == ivec(b.indices));
  CHECK(same_bits(vec(a.codes), vec(b.codes)));
  const Tensor g = randn({500, 3}, 32);
  const std::vector<float> ga = vec(ops::fsq_backward(g, z, spec)), gb = vec(ops::fsq_backward(g, z, ex));
  for (size_t i = 0; i < ga.size(); ++i) CHECK(ga[i] == doctest::Approx(gb[i]).epsilon(1e-6));
}

TEST_CASE("fsq kernels: backward is the derivative of the bound (central differences)") {
  // The straight-through gradient of code = round_ste(f(z)) / (L//2) is f'(z) / (L//2):
  // compare with central differences of the continuous f(z) / (L//2) * post evaluated in
  // double from the same constants.
  for (int variant = 0; variant < 2; ++variant) {
    ops::FsqSpec spec;
    spec.levels = {8, 5, 4};
    spec.preserve_symmetry = variant == 1;
    spec.pre_div = {0.5f, 1.f, 2.f};
    spec.post_mul = {0.25f, 1.f, 3.f};
    const cpu::FsqTables t = cpu::fsq_make_tables(spec.levels, spec.preserve_symmetry, false,
                                                  spec.pre_div, spec.post_mul);
    auto f = [&](double z, int j) {
      const double zz = z / t.pre_div[j];
      if (spec.preserve_symmetry)
        return (t.lm1[j] * (std::tanh(zz) + 1) / 2 + 0.5) * t.sym_scale[j] * t.post_mul[j];
      return (std::tanh(zz + t.shift[j]) * t.half_l[j] - t.offset[j]) / t.half_width[j] *
             t.post_mul[j];
    };
    const Tensor z = randn({6, 3}, 41, 1.f);
    const Tensor g = randn({6, 3}, 42, 1.f);
    const std::vector<float> dz = vec(ops::fsq_backward(g, z, spec));
    const std::vector<float> zv = vec(z), gv = vec(g);
    for (int i = 0; i < 18; ++i) {
      const int j = i % 3;
      const double e = 1e-4;
      const double num = gv[i] * (f(zv[i] + e, j) - f(zv[i] - e, j)) / (2 * e);
      CHECK(dz[i] == doctest::Approx(num).epsilon(1e-4));
    }
  }
}

TEST_CASE("fsq kernels: noise dropout is seeded, leaves indices alone, and masks clamped gradients") {
  ops::FsqSpec spec;
  spec.levels = {5, 5};
  spec.preserve_symmetry = true;
  ops::FsqNoiseSpec nz{0.5, 1234, 77};
  {
    // Small inputs: every code is 0, so a selected element always changes and is never
    // clamped: the changed fraction estimates the probability (4000 draws).
    const Tensor z = randn({2000, 2}, 50, 0.1f);
    const std::vector<float> ca = vec(ops::fsq_forward(z, spec, 1, true, nz).codes);
    int changed = 0;
    for (float v : ca) changed += v != 0.f;
    CHECK(changed > 1850);
    CHECK(changed < 2150);
  }
  const Tensor z = randn({2000, 2}, 51);
  const ops::FsqOutput clean = ops::fsq_forward(z, spec);
  const ops::FsqOutput a = ops::fsq_forward(z, spec, 1, true, nz);
  const ops::FsqOutput b = ops::fsq_forward(z, spec, 1, true, nz);
  CHECK(same_bits(vec(a.codes), vec(b.codes)));
  CHECK(ivec(a.indices) == ivec(clean.indices));
  const std::vector<float> ca = vec(a.codes);
  for (size_t i = 0; i < ca.size(); ++i) {
    CHECK(ca[i] >= -1.f);
    CHECK(ca[i] <= 1.f);
  }
  const Tensor g = Tensor::ones({2000, 2});
  const std::vector<float> dn = vec(ops::fsq_backward(g, z, spec, 1, nz));
  const std::vector<float> d0 = vec(ops::fsq_backward(g, z, spec));
  int zeroed = 0;
  for (size_t i = 0; i < dn.size(); ++i) {
    // zero exactly where the noised value left [-1, 1]: then the output sits on a bound
    if (dn[i] == 0.f && d0[i] != 0.f) {
      ++zeroed;
      CHECK(std::fabs(ca[i]) == 1.f);
    } else {
      CHECK(dn[i] == d0[i]);
    }
  }
  CHECK(zeroed > 100);
}

TEST_CASE("fsq kernels: soft clamp and its backward") {
  const Tensor x = Tensor::from_vector({0.f, 1.f, -2.f, 30.f, 0.5f, -0.25f}, {3, 2});
  const std::vector<float> v = {2.f, 0.5f};
  const std::vector<float> y = vec(ops::soft_clamp(x, v));
  const std::vector<float> xv = vec(x);
  for (int i = 0; i < 6; ++i) CHECK(y[i] == doctest::Approx(std::tanh(xv[i] / v[i % 2]) * v[i % 2]));
  const Tensor g = Tensor::from_vector({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {3, 2});
  const std::vector<float> dx = vec(ops::soft_clamp_backward(g, x, v));
  for (int i = 0; i < 6; ++i) {
    const double t = std::tanh(xv[i] / v[i % 2]);
    CHECK(dx[i] == doctest::Approx((i + 1) * (1 - t * t)).epsilon(1e-5));
  }
  const std::vector<float> one = vec(ops::soft_clamp(x, {1.5f}, true));
  for (int i = 0; i < 6; ++i) CHECK(one[i] == doctest::Approx(std::tanh(xv[i] / 1.5) * 1.5));
}

TEST_CASE("fsq kernels: error messages name the op and the shapes") {
  ops::FsqSpec spec;
  spec.levels = {8, 5, 5, 5};
  CHECK_THROWS_WITH_AS(ops::fsq_forward(Tensor::zeros({2, 3}), spec),
                       doctest::Contains("fsq_forward: z last dim must be num_codebooks * len(levels) = 4, got z=f32[2, 3]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ops::fsq_forward(Tensor::zeros({2, 4}, DType::i64), spec),
                       doctest::Contains("fsq_forward: z must be f32"), DTypeError);
  CHECK_THROWS_WITH_AS(ops::fsq_backward(Tensor::zeros({2, 4}), Tensor::zeros({3, 4}), spec),
                       doctest::Contains("grad_codes=f32[2, 4] cpu, z=f32[3, 4] cpu"), ShapeError);
  ops::FsqSpec two;
  two.levels = {2, 5};
  CHECK_THROWS_WITH_AS(ops::fsq_forward(Tensor::zeros({1, 2}), two),
                       doctest::Contains("needs preserve_symmetry"), ConfigError);
  CHECK_THROWS_WITH_AS(ops::fsq_forward(Tensor::zeros({1, 4}), spec, 1, true, {0.1, 0, 0}),
                       doctest::Contains("noise_dropout > 0 needs preserve_symmetry"), ConfigError);
  CHECK_THROWS_WITH_AS(ops::fsq_indices_to_codes(Tensor::zeros({3}), spec),
                       doctest::Contains("fsq_indices_to_codes: indices must be i64"), DTypeError);
  CHECK_THROWS_WITH_AS(ops::fsq_codes_to_indices(Tensor::zeros({3, 5}), spec),
                       doctest::Contains("codes last dim must be len(levels) = 4, got codes=f32[3, 5]"),
                       ShapeError);
  ops::FsqSpec huge;
  huge.levels = std::vector<int64_t>(40, 4);  // 2^80 codes
  CHECK_THROWS_WITH_AS(ops::fsq_codebook_size(huge), doctest::Contains("does not fit in int64"),
                       ConfigError);
  CHECK_NOTHROW(ops::fsq_forward(Tensor::zeros({1, 40}), huge, 1, /*with_indices=*/false));
  CHECK_THROWS_WITH_AS(ops::soft_clamp(Tensor::zeros({2, 3}), {1.f, 2.f}),
                       doctest::Contains("soft_clamp: need 1 value or one per last-dim entry"),
                       ConfigError);
}

TEST_CASE("fsq kernels: negative indices decode to zero codes") {
  ops::FsqSpec spec;
  spec.levels = {8, 5};
  const Tensor idx = Tensor::from_vector(std::vector<int64_t>{-1, 0, 39}, {3});
  const std::vector<float> c = vec(ops::fsq_indices_to_codes(idx, spec));
  CHECK(c == std::vector<float>{0.f, 0.f, -1.f, -1.f, 0.75f, 1.f});
}
