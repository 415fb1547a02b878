// Direct and Winograd CPU convolutions (kernels/cpu/conv_direct.h, conv_wino.h):
// forward, dx, dW and dbias against a naive double-precision convolution on random
// shapes (odd sizes, C = 1, batch 1 and batches not a multiple of 16, non-square images
// and kernels, channel counts not a multiple of 4 or 8, the training shapes), for every
// instruction set this CPU has (each forced in turn), through the public conv2d_forward /
// conv2d_backward dispatch and through each path's entry points; bitwise determinism
// across runs and thread counts; which shapes take which path.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/conv.h"
#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/conv_wino.h"
#include "nn/functional.h"

namespace {

using vq::cpu::Conv2dGeometry;
using vq::cpu::ConvIsa;

Conv2dGeometry geom(int64_t B, int64_t C, int64_t H, int64_t W, int64_t O, int64_t KH, int64_t KW,
                    int64_t PH, int64_t PW) {
  Conv2dGeometry g;
  g.B = B;
  g.C = C;
  g.H = H;
  g.W = W;
  g.O = O;
  g.KH = KH;
  g.KW = KW;
  g.PH = PH;
  g.PW = PW;
  g.infer_output();
  return g;
}

std::string name(const Conv2dGeometry& g) {
  return "B" + std::to_string(g.B) + " C" + std::to_string(g.C) + " " + std::to_string(g.H) + "x" +
         std::to_string(g.W) + " O" + std::to_string(g.O) + " k" + std::to_string(g.KH) + "x" +
         std::to_string(g.KW) + " p" + std::to_string(g.PH) + "," + std::to_string(g.PW);
}

std::vector<float> randv(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (auto& e : v) e = d(rng);
  return v;
}

// Naive double-precision conv2d (stride 1) and its gradients, each with the sum of
// absolute terms (the scale of the float rounding error).
struct Ref {
  std::vector<double> y, ya, dx, dxa, dw, dwa, db, dba;
};

Ref reference(const Conv2dGeometry& g, const std::vector<float>& x, const std::vector<float>& w,
              const std::vector<float>& b, const std::vector<float>& dy) {
  Ref r;
  const int64_t ny = g.B * g.O * g.Ho * g.Wo;
  r.y.assign(ny, 0);
  r.ya.assign(ny, 0);
  r.dx.assign(x.size(), 0);
  r.dxa.assign(x.size(), 0);
  r.dw.assign(w.size(), 0);
  r.dwa.assign(w.size(), 0);
  r.db.assign(g.O, 0);
  r.dba.assign(g.O, 0);
  for (int64_t n = 0; n < g.B; ++n)
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t i = 0; i < g.Ho; ++i)
        for (int64_t j = 0; j < g.Wo; ++j) {
          const int64_t yi = ((n * g.O + o) * g.Ho + i) * g.Wo + j;
          double s = b[o], sa = std::fabs(b[o]);
          const double gy = dy[yi];
          r.db[o] += gy;
          r.dba[o] += std::fabs(gy);
          for (int64_t c = 0; c < g.C; ++c)
            for (int64_t u = 0; u < g.KH; ++u)
              for (int64_t v = 0; v < g.KW; ++v) {
                const int64_t h = i - g.PH + u, ww = j - g.PW + v;
                if (h < 0 || h >= g.H || ww < 0 || ww >= g.W) continue;
                const int64_t xi = ((n * g.C + c) * g.H + h) * g.W + ww;
                const int64_t wi = ((o * g.C + c) * g.KH + u) * g.KW + v;
                const double p = double(w[wi]) * x[xi];
                s += p;
                sa += std::fabs(p);
                r.dx[xi] += double(w[wi]) * gy;
                r.dxa[xi] += std::fabs(double(w[wi]) * gy);
                r.dw[wi] += gy * x[xi];
                r.dwa[wi] += std::fabs(gy * x[xi]);
              }
          r.y[yi] = s;
          r.ya[yi] = sa;
        }
  return r;
}

// |got - want| <= 2e-6 (scale + 1) for every element (float rounding of sums of up to
// ~60k terms stays far below this; a wrong tap or channel is off by O(1)).
int64_t count_bad(const std::vector<float>& got, const std::vector<double>& want,
                  const std::vector<double>& scale) {
  int64_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(got[i] - want[i]) <= 2e-6 * (scale[i] + 1.0))) ++bad;
  return bad;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::vector<Conv2dGeometry> shapes() {
  return {
      geom(256, 16, 14, 14, 32, 3, 3, 1, 1),  // encoder conv 2
      geom(256, 1, 28, 28, 16, 3, 3, 1, 1),   // encoder conv 1
      geom(256, 32, 7, 7, 64, 2, 2, 1, 1),    // fused upsample + conv, 32 -> 16
      geom(256, 16, 14, 14, 4, 2, 2, 1, 1),   // fused upsample + conv, 16 -> 1
      geom(1, 1, 1, 1, 1, 3, 3, 1, 1),        // one pixel, batch 1
      geom(3, 5, 9, 7, 6, 3, 3, 1, 1),        // odd, non-square, O not a multiple of 4
      geom(2, 3, 5, 4, 5, 3, 3, 0, 0),        // no padding
      geom(1, 2, 6, 11, 3, 5, 5, 2, 2),       // 5x5
      geom(2, 7, 4, 13, 9, 3, 1, 1, 0),       // rectangular kernel
      geom(5, 1, 8, 3, 1, 2, 3, 1, 2),        // PW = KW - 1, 1 -> 1 channel
      geom(1, 64, 3, 5, 64, 3, 3, 1, 1),      // the channel limit
      geom(7, 9, 2, 17, 13, 1, 1, 0, 0),      // 1x1
      geom(11, 4, 10, 10, 8, 3, 3, 2, 1),     // PH = KH - 1: output taller than input
      // Winograd: odd sizes (half tiles), batches of 1 / 17 (partial lane groups),
      // channels 8 and 64, O not a multiple of 4
      geom(17, 9, 7, 5, 13, 3, 3, 1, 1),
      geom(1, 8, 4, 4, 8, 3, 3, 1, 1),
      geom(33, 64, 6, 9, 10, 3, 3, 1, 1),
      geom(3, 12, 35, 18, 64, 3, 3, 1, 1),
      geom(18, 11, 6, 7, 9, 3, 3, 1, 1),  // C = 11: the weight-gradient loop's 1-tap tiles
  };
}

}  // namespace

TEST_CASE("conv direct: forward and all gradients match a double-precision conv, every ISA") {
  for (const Conv2dGeometry& g : shapes()) {
    INFO(name(g));
    REQUIRE(vq::cpu::conv2d_direct_applies(g));
    const auto x = randv(g.B * g.C * g.H * g.W, 1), w = randv(g.O * g.C * g.KH * g.KW, 2);
    const auto b = randv(g.O, 3), dy = randv(g.B * g.O * g.Ho * g.Wo, 4);
    const Ref r = reference(g, x, w, b, dy);
    for (int level = 0; level <= 2; ++level) {
      const ConvIsa isa = static_cast<ConvIsa>(level);
      if (!vq::cpu::conv_isa_supported(isa)) continue;
      INFO("isa level " << level);
      vq::cpu::conv_force_isa(level);
      CHECK(vq::cpu::conv_isa() == isa);
      std::vector<float> y(r.y.size()), dx(x.size()), dw(w.size()), db(g.O);
      vq::cpu::conv2d_forward(y.data(), x.data(), w.data(), b.data(), g);
      vq::cpu::conv2d_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), g);
      CHECK(count_bad(y, r.y, r.ya) == 0);
      CHECK(count_bad(dx, r.dx, r.dxa) == 0);
      CHECK(count_bad(dw, r.dw, r.dwa) == 0);
      CHECK(count_bad(db, r.db, r.dba) == 0);
      // the direct entry points with the level passed explicitly: the same bits as the
      // dispatch where it runs them, within the tolerance otherwise (Winograd shapes);
      // without bias / with one gradient at a time as well
      const bool direct = !vq::cpu::conv2d_wino_applies(g);
      std::vector<float> y2(y.size()), dx2(dx.size()), dw2(dw.size());
      vq::cpu::conv2d_direct_forward(y2.data(), x.data(), w.data(), b.data(), g, isa);
      CHECK((direct ? same_bits(y, y2) : count_bad(y2, r.y, r.ya) == 0));
      std::vector<float> db2(g.O);
      vq::cpu::conv2d_direct_backward(dx2.data(), nullptr, nullptr, dy.data(), x.data(), w.data(),
                                      g, isa);
      vq::cpu::conv2d_direct_backward(nullptr, dw2.data(), nullptr, dy.data(), x.data(), w.data(),
                                      g, isa);
      vq::cpu::conv2d_direct_backward(nullptr, nullptr, db2.data(), dy.data(), x.data(), w.data(),
                                      g, isa);
      CHECK((direct ? same_bits(dx, dx2) : count_bad(dx2, r.dx, r.dxa) == 0));
      CHECK((direct ? same_bits(dw, dw2) : count_bad(dw2, r.dw, r.dwa) == 0));
      CHECK((direct ? same_bits(db, db2) : count_bad(db2, r.db, r.dba) == 0));
      vq::cpu::conv2d_direct_forward(y2.data(), x.data(), w.data(), nullptr, g, isa);
      std::vector<double> ynb(r.y);
      for (size_t i = 0; i < ynb.size(); ++i) ynb[i] -= b[(i / (g.Ho * g.Wo)) % g.O];
      CHECK(count_bad(y2, ynb, r.ya) == 0);
      if (!vq::cpu::conv2d_wino_applies(g)) continue;
      // the Winograd entry points (what the public dispatch runs for these shapes)
      vq::cpu::conv2d_wino_forward(y2.data(), x.data(), w.data(), b.data(), g, isa);
      CHECK(same_bits(y, y2));
      vq::cpu::conv2d_wino_forward(y2.data(), x.data(), w.data(), nullptr, g, isa);
      CHECK(count_bad(y2, ynb, r.ya) == 0);
      // each gradient alone gives the same bits as all three together
      vq::cpu::conv2d_wino_backward(dx2.data(), nullptr, nullptr, dy.data(), x.data(), w.data(), g,
                                    isa);
      CHECK(same_bits(dx, dx2));
      vq::cpu::conv2d_wino_backward(nullptr, dw2.data(), nullptr, dy.data(), x.data(), w.data(), g,
                                    isa);
      CHECK(same_bits(dw, dw2));
      vq::cpu::conv2d_wino_backward(nullptr, nullptr, db2.data(), dy.data(), x.data(), w.data(), g,
                                    isa);
      CHECK(same_bits(db, db2));
    }
    vq::cpu::conv_force_isa(-1);
  }
}

TEST_CASE("conv direct: bitwise reproducible across runs and thread counts") {
  const Conv2dGeometry g = geom(37, 6, 9, 11, 10, 3, 3, 1, 1);  // several chunks of images
  const auto x = randv(g.B * g.C * g.H * g.W, 5), w = randv(g.O * g.C * 9, 6);
  const auto b = randv(g.O, 7), dy = randv(g.B * g.O * g.Ho * g.Wo, 8);
  const int saved = omp_get_max_threads();
  std::vector<std::vector<float>> ys, dxs, dws;
  for (int threads : {1, 2, 3, 1}) {
    omp_set_num_threads(threads);
    std::vector<float> y(dy.size()), dx(x.size()), dw(w.size());
    vq::cpu::conv2d_forward(y.data(), x.data(), w.data(), b.data(), g);
    std::vector<float> db(g.O);
    vq::cpu::conv2d_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), g);
    dw.insert(dw.end(), db.begin(), db.end());
    ys.push_back(y);
    dxs.push_back(dx);
    dws.push_back(dw);
  }
  omp_set_num_threads(saved);
  for (size_t i = 1; i < ys.size(); ++i) {
    CHECK(same_bits(ys[i], ys[0]));
    CHECK(same_bits(dxs[i], dxs[0]));
    CHECK(same_bits(dws[i], dws[0]));
  }
}

TEST_CASE("conv direct: Winograd results are reproducible across thread counts") {
  const Conv2dGeometry g = geom(40, 9, 9, 6, 11, 3, 3, 1, 1);  // three lane groups
  REQUIRE(vq::cpu::conv2d_wino_applies(g));
  const auto x = randv(g.B * g.C * g.H * g.W, 9), w = randv(g.O * g.C * 9, 10);
  const auto dy = randv(g.B * g.O * g.Ho * g.Wo, 11);
  const int saved = omp_get_max_threads();
  std::vector<std::vector<float>> outs;
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    std::vector<float> y(dy.size()), dx(x.size()), dw(w.size());
    vq::cpu::conv2d_wino_forward(y.data(), x.data(), w.data(), nullptr, g, vq::cpu::conv_isa());
    std::vector<float> db(g.O);
    vq::cpu::conv2d_wino_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), g,
                                  vq::cpu::conv_isa());
    y.insert(y.end(), dx.begin(), dx.end());
    y.insert(y.end(), dw.begin(), dw.end());
    y.insert(y.end(), db.begin(), db.end());
    outs.push_back(y);
  }
  omp_set_num_threads(saved);
  CHECK(same_bits(outs[1], outs[0]));
  CHECK(same_bits(outs[2], outs[0]));
}

TEST_CASE("conv direct: parity2x output layout equals the NCHW output interleaved") {
  // the fused upsample + conv: 2x2 kernels, padding 1, O = 4 O'; odd sizes, O' = 1 and 3
  for (const Conv2dGeometry& g :
       {geom(5, 3, 7, 5, 12, 2, 2, 1, 1), geom(2, 16, 14, 14, 4, 2, 2, 1, 1)}) {
    INFO(name(g));
    const int64_t Oq = g.O / 4, H2 = 2 * g.H, W2 = 2 * g.W;
    const auto x = randv(g.B * g.C * g.H * g.W, 12), w = randv(g.O * g.C * 4, 13);
    const auto b = randv(g.O, 14), gp = randv(g.B * Oq * H2 * W2, 15);
    // nchw twin: y[b, (2a + c) O' + o, i + a, j + c] <-> p[b, o, 2i + a, 2j + c]
    auto at = [&](int64_t n, int64_t o, int64_t i, int64_t a, int64_t j, int64_t c) {
      return std::make_pair(((n * g.O + (2 * a + c) * Oq + o) * g.Ho + i + a) * g.Wo + j + c,
                            ((n * Oq + o) * H2 + 2 * i + a) * W2 + 2 * j + c);
    };
    std::vector<float> y(g.B * g.O * g.Ho * g.Wo), dy(y.size(), 0.f);
    vq::cpu::conv2d_direct_forward(y.data(), x.data(), w.data(), b.data(), g, vq::cpu::conv_isa());
    std::vector<float> want(gp.size());
    for (int64_t n = 0; n < g.B; ++n)
      for (int64_t o = 0; o < Oq; ++o)
        for (int64_t i = 0; i < g.H; ++i)
          for (int64_t a = 0; a < 2; ++a)
            for (int64_t j = 0; j < g.W; ++j)
              for (int64_t c = 0; c < 2; ++c) {
                const auto [yi, pi] = at(n, o, i, a, j, c);
                want[pi] = y[yi];
                dy[yi] = gp[pi];  // the dropped outputs keep a zero gradient
              }
    std::vector<float> p(gp.size());
    vq::cpu::conv2d_direct_forward(p.data(), x.data(), w.data(), b.data(), g, vq::cpu::conv_isa(),
                                   vq::cpu::ConvOut::parity2x);
    CHECK(same_bits(p, want));
    std::vector<float> dx(x.size()), dw(w.size()), db(g.O), dx2(x.size()), dw2(w.size()), db2(g.O);
    vq::cpu::conv2d_direct_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(),
                                    g, vq::cpu::conv_isa());
    vq::cpu::conv2d_direct_backward(dx2.data(), dw2.data(), db2.data(), gp.data(), x.data(),
                                    w.data(), g, vq::cpu::conv_isa(), vq::cpu::ConvOut::parity2x);
    CHECK(same_bits(dx, dx2));
    CHECK(same_bits(dw, dw2));
    CHECK(same_bits(db, db2));
  }
}

TEST_CASE("conv direct: which shapes take the direct path") {
  CHECK(vq::cpu::conv2d_wino_applies(geom(2, 16, 14, 14, 32, 3, 3, 1, 1)));
  CHECK_FALSE(vq::cpu::conv2d_wino_applies(geom(2, 1, 28, 28, 16, 3, 3, 1, 1)));   // C < 8
  CHECK_FALSE(vq::cpu::conv2d_wino_applies(geom(2, 16, 14, 14, 4, 3, 3, 1, 1)));   // O < 8
  CHECK_FALSE(vq::cpu::conv2d_wino_applies(geom(2, 32, 7, 7, 64, 2, 2, 1, 1)));    // 2x2
  CHECK_FALSE(vq::cpu::conv2d_wino_applies(geom(2, 16, 14, 14, 32, 3, 3, 0, 0)));  // pad 0
  CHECK_FALSE(vq::cpu::conv2d_wino_applies(geom(2, 16, 3, 14, 32, 3, 3, 1, 1)));   // H < 4
  CHECK(vq::cpu::conv2d_direct_applies(geom(2, 16, 14, 14, 32, 3, 3, 1, 1)));
  Conv2dGeometry strided = geom(2, 16, 14, 14, 32, 3, 3, 1, 1);
  strided.SH = 2;
  strided.infer_output();
  CHECK_FALSE(vq::cpu::conv2d_direct_applies(strided));
  CHECK_FALSE(vq::cpu::conv2d_direct_applies(geom(2, 65, 8, 8, 4, 3, 3, 1, 1)));
  CHECK_FALSE(vq::cpu::conv2d_direct_applies(geom(2, 4, 8, 8, 65, 3, 3, 1, 1)));
  CHECK_FALSE(vq::cpu::conv2d_direct_applies(geom(2, 4, 8, 8, 4, 3, 3, 3, 1)));  // PH >= KH
  CHECK_FALSE(vq::cpu::conv2d_direct_applies(geom(2, 4, 8, 8, 4, 7, 7, 3, 3)));  // 49 taps
  CHECK_FALSE(vq::cpu::conv2d_direct_applies(geom(0, 4, 8, 8, 4, 3, 3, 1, 1)));  // empty batch
}

TEST_CASE("conv direct: nn::conv2d still rejects mismatched channels") {
  vq::Generator gen(3);
  vq::Variable x(vq::Tensor::randn({2, 16, 14, 14}, gen));
  vq::Variable w(vq::Tensor::randn({32, 8, 3, 3}, gen));
  CHECK_THROWS_WITH_AS(vq::nn::conv2d(x, w, vq::Variable(), {1, 1}, {1, 1}),
                       doctest::Contains("conv2d: x has 16 channels but weight expects 8"),
                       vq::ShapeError);
}
