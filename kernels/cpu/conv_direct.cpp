// Direct CPU convolution (see conv_direct.h): instruction-set choice, the flat-plane
// layout, packing / unpacking of image chunks, OpenMP over chunks, and the fixed-order
// sum of the per-chunk weight gradients. The register-blocked loops live in
// conv_direct_kernels.h (one instantiation per instruction set).
//
// Flat planes, stride 1, padding (PH, PW) <= (KH - 1, KW - 1): with row stride
// Wp = W + PW and image stride S = (H + PH) Wp, input pixel (b, h, w) sits at flat index
// lead + b S + h Wp + w and output (b, i, j) at q = b S + i Wp + j (Ho <= H + PH and
// Wo <= Wp). Output q of tap (u, v) reads input lead + q + (u - PH) Wp + (v - PW): the
// PW zero columns closing each row, the PH zero rows closing each image and the lead
// zeros before the first image are exactly the padding every tap reaches, so a tap is
// one constant shift. The input gradient is the same loop over dy laid out the same
// way (padding KH-1-PH, KW-1-PW gives the same Wp and S) with the flipped kernel; the
// weight gradient sums dy[o][q] x[c][q + shift] over q with dy zero outside the outputs.
#include "kernels/cpu/conv_direct.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

namespace vq::cpu {

namespace {

ConvIsa detect_isa() {
  ConvIsa best = ConvIsa::scalar;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = ConvIsa::avx2;
  if (best == ConvIsa::avx2 && __builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    best = ConvIsa::avx512;
#endif
  return best;
}

ConvIsa hardware_isa() {
  static const ConvIsa level = detect_isa();
  return level;
}

ConvIsa env_isa() {
  static const ConvIsa level = [] {
    ConvIsa cap = hardware_isa();
    if (const char* env = std::getenv("VQ_CPU_SIMD")) {
      if (std::strcmp(env, "base") == 0) cap = ConvIsa::scalar;
      if (std::strcmp(env, "avx2") == 0) cap = std::min(cap, ConvIsa::avx2);
    }
    return cap;
  }();
  return level;
}

std::atomic<int> g_forced{-1};

}  // namespace

ConvIsa conv_isa_clamp(ConvIsa isa) { return std::min(isa, hardware_isa()); }

ConvIsa conv_isa() {
  const int forced = g_forced.load(std::memory_order_relaxed);
  if (forced >= 0) return conv_isa_clamp(static_cast<ConvIsa>(std::min(forced, 2)));
  return env_isa();
}

bool conv_isa_supported(ConvIsa isa) { return isa <= hardware_isa(); }

void conv_force_isa(int level) { g_forced.store(level, std::memory_order_relaxed); }

bool conv2d_direct_applies(const Conv2dGeometry& g) {
  return g.SH == 1 && g.SW == 1 && g.PH >= 0 && g.PH < g.KH && g.PW >= 0 && g.PW < g.KW &&
         g.C >= 1 && g.C <= 64 && g.O >= 1 && g.O <= 64 && g.KH * g.KW <= 25 && g.B >= 1 &&
         g.H >= 1 && g.W >= 1 && g.Ho >= 1 && g.Wo >= 1;
}

namespace {

using conv_direct::DwArgs;
using conv_direct::FwdArgs;
using conv_direct::kFlatBlock;

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// Chunk sizes and plane geometry for one convolution (depends on g only, never on
// the thread count, so the dW summation order is fixed).
struct Flat {
  int64_t Wp = 0, S = 0;           // row stride, image stride
  int64_t nb = 1, chunks = 1;      // images per chunk, number of chunks
  int64_t Nq = 0;                  // positions computed per (full) chunk
  int64_t x_lead = 0, x_cs = 0;    // input planes: zeros before image 0, channel stride
  int64_t dy_lead = 0, dy_cs = 0;  // dy planes (the input of the dx loop)
  std::vector<int64_t> xshift, dyshift;
};

Flat make_flat(const Conv2dGeometry& g, int64_t channels_per_image) {
  Flat f;
  f.Wp = g.W + g.PW;
  f.S = (g.H + g.PH) * f.Wp;
  // ~96K floats (384 KiB) of planes per chunk: stays in a 1 MiB L2.
  f.nb = std::clamp<int64_t>(98304 / std::max<int64_t>(1, channels_per_image * f.S), 1, g.B);
  f.chunks = (g.B + f.nb - 1) / f.nb;
  f.Nq = round_up(f.nb * f.S, kFlatBlock);
  const int64_t qh = g.KH - 1 - g.PH, qw = g.KW - 1 - g.PW;  // dx loop padding
  f.x_lead = g.PH * f.Wp + g.PW;
  f.x_cs = round_up(f.x_lead + f.Nq + qh * f.Wp + qw + 16, 16);
  f.dy_lead = qh * f.Wp + qw;
  f.dy_cs = round_up(f.dy_lead + f.Nq + g.PH * f.Wp + g.PW + 16, 16);
  for (int64_t u = 0; u < g.KH; ++u)
    for (int64_t v = 0; v < g.KW; ++v) {
      f.xshift.push_back((u - g.PH) * f.Wp + (v - g.PW));
      f.dyshift.push_back((u - qh) * f.Wp + (v - qw));
    }
  return f;
}

// Row copies of a few dozen floats: inline loops, not a libc memcpy call per row.
#if defined(__GNUC__) && !defined(__clang__)
#define VQ_NO_MEMCPY_IDIOM __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define VQ_NO_MEMCPY_IDIOM
#endif

VQ_NO_MEMCPY_IDIOM inline void copy_row(float* __restrict d, const float* __restrict s, int64_t n) {
  for (int64_t j = 0; j < n; ++j) d[j] = s[j];
}

// dst planes [C][cs] <- nb images src [nb, C, h, w] at dst + lead + b S + i Wp + j, zeros
// elsewhere.
VQ_NO_MEMCPY_IDIOM void pack_planes(float* dst, int64_t cs, int64_t lead, const float* src,
                                    int64_t nb, int64_t C, int64_t h, int64_t w, const Flat& f) {
  for (int64_t c = 0; c < C; ++c) {
    float* p = dst + c * cs;
    std::fill(p, p + cs, 0.f);
    for (int64_t b = 0; b < nb; ++b) {
      const float* s = src + (b * C + c) * h * w;
      float* d = p + lead + b * f.S;
      for (int64_t i = 0; i < h; ++i) copy_row(d + i * f.Wp, s + i * w, w);
    }
  }
}

// dst [nb, C, h, w] <- planes [C][cs] (output grid at q = b S + i Wp + j).
VQ_NO_MEMCPY_IDIOM void unpack_planes(float* dst, const float* src, int64_t cs, int64_t nb,
                                      int64_t C, int64_t h, int64_t w, const Flat& f) {
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t c = 0; c < C; ++c) {
      const float* s = src + c * cs + b * f.S;
      float* d = dst + (b * C + c) * h * w;
      for (int64_t i = 0; i < h; ++i) copy_row(d + i * w, s + i * f.Wp, w);
    }
}

// parity2x (conv_direct.h): y [nb, O / 4, 2H, 2W] <- planes [O][cs], channel
// (2a + c) O' + o at (i + a, j + c) to y[b, o, 2i + a, 2j + c].
void unpack_parity(float* dst, const float* src, int64_t cs, int64_t nb, int64_t O,
                   const Conv2dGeometry& g, const Flat& f) {
  const int64_t Oq = O / 4, H2 = 2 * g.H, W2 = 2 * g.W;
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t o = 0; o < Oq; ++o) {
      float* d = dst + (b * Oq + o) * H2 * W2;
      for (int a = 0; a < 2; ++a)
        for (int64_t i = 0; i < g.H; ++i) {
          const float* s0 = src + ((2 * a) * Oq + o) * cs + b * f.S + (i + a) * f.Wp;
          const float* s1 = src + ((2 * a + 1) * Oq + o) * cs + b * f.S + (i + a) * f.Wp + 1;
          float* row = d + (2 * i + a) * W2;
          for (int64_t j = 0; j < g.W; ++j) {
            row[2 * j] = s0[j];
            row[2 * j + 1] = s1[j];
          }
        }
    }
}

// The inverse for dy: planes [O][cs] (zeros first) <- dy [nb, O / 4, 2H, 2W] at
// lead + b S + (i + a) Wp + (j + c) of channel (2a + c) O' + o.
void pack_parity(float* dst, int64_t cs, int64_t lead, const float* src, int64_t nb, int64_t O,
                 const Conv2dGeometry& g, const Flat& f) {
  const int64_t Oq = O / 4, H2 = 2 * g.H, W2 = 2 * g.W;
  for (int64_t c = 0; c < O; ++c) std::fill(dst + c * cs, dst + (c + 1) * cs, 0.f);
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t o = 0; o < Oq; ++o) {
      const float* s = src + (b * Oq + o) * H2 * W2;
      for (int a = 0; a < 2; ++a)
        for (int64_t i = 0; i < g.H; ++i) {
          float* d0 = dst + ((2 * a) * Oq + o) * cs + lead + b * f.S + (i + a) * f.Wp;
          float* d1 = dst + ((2 * a + 1) * Oq + o) * cs + lead + b * f.S + (i + a) * f.Wp + 1;
          const float* row = s + (2 * i + a) * W2;
          for (int64_t j = 0; j < g.W; ++j) {
            d0[j] = row[2 * j];
            d1[j] = row[2 * j + 1];
          }
        }
    }
}

void run_fwd(ConvIsa isa, const FwdArgs& a) {
  conv_run_isa(isa, conv_direct::fwd_avx512, conv_direct::fwd_avx2, conv_direct::fwd_scalar, a);
}

void run_dw(ConvIsa isa, const DwArgs& a) {
  conv_run_isa(isa, conv_direct::dw_avx512, conv_direct::dw_avx2, conv_direct::dw_scalar, a);
}

bool go_parallel(int64_t chunks) {
  return chunks > 1 && omp_get_max_threads() > 1 && !omp_in_parallel();
}

}  // namespace

void conv2d_direct_forward(float* y, const float* x, const float* w, const float* bias,
                           const Conv2dGeometry& g, ConvIsa isa, ConvOut out) {
  const int64_t O4 = round_up(g.O, 4), T = g.KH * g.KW;
  const Flat f = make_flat(g, g.C + O4);
  // wpack [O4 / 4][C][T][4], zero for the padding channels
  std::vector<float> wpack(static_cast<size_t>(O4 * g.C * T), 0.f), bpack(O4, 0.f);
  for (int64_t o = 0; o < g.O; ++o)
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t t = 0; t < T; ++t)
        wpack[(((o / 4) * g.C + c) * T + t) * 4 + o % 4] = w[(o * g.C + c) * T + t];
  if (bias) std::copy(bias, bias + g.O, bpack.begin());
  const int64_t ximg = g.C * g.H * g.W;
  const int64_t yimg = out == ConvOut::parity2x ? g.O * g.H * g.W : g.O * g.Ho * g.Wo;
#pragma omp parallel if (go_parallel(f.chunks))
  {
    float* xbuf = conv_scratch(0, g.C * f.x_cs);
    float* obuf = conv_scratch(1, O4 * f.Nq);
#pragma omp for schedule(static)
    for (int64_t ch = 0; ch < f.chunks; ++ch) {
      const int64_t b0 = ch * f.nb, nb = std::min(f.nb, g.B - b0);
      pack_planes(xbuf, f.x_cs, f.x_lead, x + b0 * ximg, nb, g.C, g.H, g.W, f);
      FwdArgs a;
      a.in = xbuf + f.x_lead;
      a.in_cs = f.x_cs;
      a.C = g.C;
      a.shift = f.xshift.data();
      a.T = static_cast<int>(T);
      a.wpack = wpack.data();
      a.bias = bias ? bpack.data() : nullptr;
      a.out = obuf;
      a.out_cs = f.Nq;
      a.O4 = O4;
      a.O = g.O;
      a.n = round_up(nb * f.S, kFlatBlock);
      run_fwd(isa, a);
      if (out == ConvOut::parity2x)
        unpack_parity(y + b0 * yimg, obuf, f.Nq, nb, g.O, g, f);
      else
        unpack_planes(y + b0 * yimg, obuf, f.Nq, nb, g.O, g.Ho, g.Wo, f);
    }
  }
}

float* conv_scratch(int slot, int64_t n) {
  struct Buf {
    float* p = nullptr;
    int64_t n = 0;
    ~Buf() { ::operator delete[](p, std::align_val_t(64)); }
  };
  thread_local Buf bufs[8];
  Buf& b = bufs[slot];
  if (b.n < n) {
    ::operator delete[](b.p, std::align_val_t(64));
    b.p = nullptr;  // (if the allocation below throws)
    b.n = 0;
    b.p = static_cast<float*>(
        ::operator new[](static_cast<size_t>(n) * sizeof(float), std::align_val_t(64)));
    b.n = n;
  }
  return b.p;
}

float conv_plane_sum(const float* p, int64_t n) {
  float acc[16] = {};
  for (int64_t q = 0; q < n; q += 16)
    for (int k = 0; k < 16; ++k) acc[k] += p[q + k];
  for (int k = 8; k > 0; k /= 2)
    for (int i = 0; i < k; ++i) acc[i] += acc[i + k];
  return acc[0];
}

void conv2d_direct_backward(float* dx, float* dw, float* dbias, const float* dy, const float* x,
                            const float* w, const Conv2dGeometry& g, ConvIsa isa, ConvOut out) {
  if (!dx && !dw && !dbias) return;
  const int64_t C4 = round_up(g.C, 4), T = g.KH * g.KW, wsize = g.O * g.C * T;
  // chunking from g alone (not from which gradients are asked for): dW's summation
  // order, hence its bits, must not depend on whether dx is computed too
  const Flat f = make_flat(g, g.C + g.O + C4);
  // dx loop: from dy (O channels) to dx (C channels) with w'[c][o][t] = w[o][c][T-1-t],
  // packed [C4 / 4][O][T][4]
  std::vector<float> wT;
  if (dx) {
    wT.assign(static_cast<size_t>(C4 * g.O * T), 0.f);
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t o = 0; o < g.O; ++o)
        for (int64_t t = 0; t < T; ++t)
          wT[(((c / 4) * g.O + o) * T + t) * 4 + c % 4] = w[(o * g.C + c) * T + (T - 1 - t)];
  }
  std::vector<float> partial(dw ? static_cast<size_t>(f.chunks * wsize) : 0, 0.f);
  std::vector<float> bpart(dbias ? static_cast<size_t>(f.chunks * g.O) : 0);
  const int64_t ximg = g.C * g.H * g.W;
  const int64_t yimg = out == ConvOut::parity2x ? g.O * g.H * g.W : g.O * g.Ho * g.Wo;
#pragma omp parallel if (go_parallel(f.chunks))
  {
    float* xbuf = dw ? conv_scratch(0, g.C * f.x_cs) : nullptr;
    float* dybuf = conv_scratch(1, g.O * f.dy_cs);
    float* dxbuf = dx ? conv_scratch(2, C4 * f.Nq) : nullptr;
#pragma omp for schedule(static)
    for (int64_t ch = 0; ch < f.chunks; ++ch) {
      const int64_t b0 = ch * f.nb, nb = std::min(f.nb, g.B - b0);
      const int64_t n = round_up(nb * f.S, kFlatBlock);
      if (out == ConvOut::parity2x)
        pack_parity(dybuf, f.dy_cs, f.dy_lead, dy + b0 * yimg, nb, g.O, g, f);
      else
        pack_planes(dybuf, f.dy_cs, f.dy_lead, dy + b0 * yimg, nb, g.O, g.Ho, g.Wo, f);
      if (dbias)  // zeros outside the outputs: the plane sum is the chunk's bias gradient
        for (int64_t o = 0; o < g.O; ++o)
          bpart[ch * g.O + o] = conv_plane_sum(dybuf + o * f.dy_cs + f.dy_lead, n);
      if (dx) {
        FwdArgs a;
        a.in = dybuf + f.dy_lead;
        a.in_cs = f.dy_cs;
        a.C = g.O;
        a.shift = f.dyshift.data();
        a.T = static_cast<int>(T);
        a.wpack = wT.data();
        a.out = dxbuf;
        a.out_cs = f.Nq;
        a.O4 = C4;
        a.O = g.C;
        a.n = n;
        run_fwd(isa, a);
        unpack_planes(dx + b0 * ximg, dxbuf, f.Nq, nb, g.C, g.H, g.W, f);
      }
      if (dw) {
        pack_planes(xbuf, f.x_cs, f.x_lead, x + b0 * ximg, nb, g.C, g.H, g.W, f);
        DwArgs a;
        a.dy = dybuf + f.dy_lead;
        a.dy_cs = f.dy_cs;
        a.O = g.O;
        a.x = xbuf + f.x_lead;
        a.x_cs = f.x_cs;
        a.C = g.C;
        a.shift = f.xshift.data();
        a.T = static_cast<int>(T);
        a.dw = partial.data() + ch * wsize;
        a.n = n;
        run_dw(isa, a);
      }
    }
  }
  if (dbias)
    for (int64_t o = 0; o < g.O; ++o) {
      double s = 0;
      for (int64_t ch = 0; ch < f.chunks; ++ch) s += bpart[ch * g.O + o];
      dbias[o] = static_cast<float>(s);
    }
  if (dw) {
    for (int64_t e = 0; e < wsize; ++e) {
      float s = partial[e];
      for (int64_t ch = 1; ch < f.chunks; ++ch) s += partial[ch * wsize + e];
      dw[e] = s;
    }
  }
}

}  // namespace vq::cpu
