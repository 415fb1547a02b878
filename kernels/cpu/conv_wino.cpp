// Winograd F(2x2, 3x3) CPU convolution (see conv_wino.h): weight transform, gathering
// images into 16-lane groups, blocks of tiles through input transform -> 16 GEMMs fused
// with the output transform (each block's buffers stay in L2), scattering back to NCHW.
#include "kernels/cpu/conv_wino.h"

#include <omp.h>

#include <algorithm>
#include <memory>
#include <new>
#include <vector>

namespace vq::cpu {

namespace {

using conv_direct::DwArgs;
using conv_direct::kWinoLanes;
using conv_direct::WinoDyArgs;
using conv_direct::WinoFwdArgs;
using conv_direct::WinoInArgs;

// Tiles per GEMM block (at most; a group's tiles are split into equal blocks): 192
// positions, whose transformed inputs and products stay in L2.
constexpr int kTilesPerBlock = 12;
constexpr int64_t kBlockPos = kTilesPerBlock * kWinoLanes;

const double kG[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};

// 64-byte aligned float scratch (the weight-gradient GEMM reads it with aligned
// 512-bit loads).
class AlignedBuf {
 public:
  explicit AlignedBuf(int64_t n)
      : p_(static_cast<float*>(
            ::operator new[](static_cast<size_t>(n) * sizeof(float), std::align_val_t(64)))) {}
  ~AlignedBuf() { ::operator delete[](p_, std::align_val_t(64)); }
  AlignedBuf(const AlignedBuf&) = delete;
  AlignedBuf& operator=(const AlignedBuf&) = delete;
  float* get() const { return p_; }

 private:
  float* p_;
};

ConvIsa clamp(ConvIsa isa) {
  while (!conv_isa_supported(isa)) isa = static_cast<ConvIsa>(static_cast<int>(isa) - 1);
  return isa;
}

void run_in(ConvIsa isa, const WinoInArgs& a) {
  switch (isa) {
    case ConvIsa::avx512:
      return conv_direct::wino_in_avx512(a);
    case ConvIsa::avx2:
      return conv_direct::wino_in_avx2(a);
    default:
      return conv_direct::wino_in_scalar(a);
  }
}

void run_dy(ConvIsa isa, const WinoDyArgs& a) {
  switch (isa) {
    case ConvIsa::avx512:
      return conv_direct::wino_dy_avx512(a);
    case ConvIsa::avx2:
      return conv_direct::wino_dy_avx2(a);
    default:
      return conv_direct::wino_dy_scalar(a);
  }
}

void run_dw(ConvIsa isa, const DwArgs& a) {
  switch (isa) {
    case ConvIsa::avx512:
      return conv_direct::dw_avx512(a);
    case ConvIsa::avx2:
      return conv_direct::dw_avx2(a);
    default:
      return conv_direct::dw_scalar(a);
  }
}

void run_wino_fwd(ConvIsa isa, const WinoFwdArgs& a) {
  switch (isa) {
    case ConvIsa::avx512:
      return conv_direct::wino_fwd_avx512(a);
    case ConvIsa::avx2:
      return conv_direct::wino_fwd_avx2(a);
    default:
      return conv_direct::wino_fwd_scalar(a);
  }
}

void gather(ConvIsa isa, float* dst, const float* const* src, int64_t n) {
  if (isa == ConvIsa::avx512) return conv_direct::l16_gather_avx512(dst, src, n);
  conv_direct::l16_gather_scalar(dst, src, n);
}

void scatter(ConvIsa isa, float* const* dst, const float* src, int64_t n, int64_t lanes) {
  if (isa == ConvIsa::avx512) return conv_direct::l16_scatter_avx512(dst, src, n, lanes);
  conv_direct::l16_scatter_scalar(dst, src, n, lanes);
}

// x16 [C][Hp][Wp][16] <- images 16 grp .. 16 grp + 15 of x [B, C, H, W] at rows and
// columns off .. off + H - 1 / W - 1, zeros elsewhere (and for missing images).
void gather_group(ConvIsa isa, float* x16, const float* x, int64_t grp, int64_t B, int64_t C,
                  int64_t H, int64_t W, int64_t Hp, int64_t Wp, int64_t off, const float* zeros) {
  const int64_t lanes = std::min(kWinoLanes, B - grp * kWinoLanes);
  // zero what the gathers below leave alone: rows above / below, columns left / right
  const int64_t row = Wp * kWinoLanes;
  for (int64_t c = 0; c < C; ++c) {
    float* p = x16 + c * Hp * row;
    std::fill(p, p + off * row, 0.f);
    std::fill(p + (off + H) * row, p + Hp * row, 0.f);
    for (int64_t h = off; h < off + H; ++h) {
      std::fill(p + h * row, p + h * row + off * kWinoLanes, 0.f);
      std::fill(p + h * row + (off + W) * kWinoLanes, p + (h + 1) * row, 0.f);
    }
  }
  for (int64_t c = 0; c < C; ++c)
    for (int64_t h = 0; h < H; ++h) {
      const float* src[kWinoLanes];
      for (int64_t l = 0; l < kWinoLanes; ++l)
        src[l] = l < lanes ? x + ((grp * kWinoLanes + l) * C + c) * H * W + h * W : zeros;
      gather(isa, x16 + ((c * Hp + h + off) * Wp + off) * kWinoLanes, src, W);
    }
}

// y [B, O, H, W] = conv3x3(x [B, C, H, W], w [O, C, 3, 3], padding 1) + bias.
void wino_conv(float* y, const float* x, const float* w, const float* bias, int64_t B, int64_t C,
               int64_t H, int64_t W, int64_t O, ConvIsa isa) {
  isa = clamp(isa);
  const int64_t th = (H + 1) / 2, tw = (W + 1) / 2, Hp = 2 * th + 2, Wp = 2 * tw + 2;
  const int64_t groups = (B + kWinoLanes - 1) / kWinoLanes;
  const int64_t O4 = (O + 3) / 4 * 4, Hy = 2 * th, Wy = 2 * tw;
  // U[xi] = (G g G^T)[xi], packed [16][O4 / 4][C][4] (the GEMM's weight layout, one tap)
  std::vector<float> U(static_cast<size_t>(16 * O4 * C), 0.f);
  for (int64_t o = 0; o < O; ++o)
    for (int64_t c = 0; c < C; ++c) {
      const float* g = w + (o * C + c) * 9;
      double gg[4][3];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 3; ++j)
          gg[i][j] = kG[i][0] * g[j] + kG[i][1] * g[3 + j] + kG[i][2] * g[6 + j];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
          const double u = gg[i][0] * kG[j][0] + gg[i][1] * kG[j][1] + gg[i][2] * kG[j][2];
          U[static_cast<size_t>(((i * 4 + j) * O4 + (o / 4) * 4) * C + c * 4 + o % 4)] =
              static_cast<float>(u);
        }
    }
  // One group of 16 images at a time (its L16 input and output stay in L2): gather into
  // x16 [C][Hp][Wp][16] (image 16 grp + lane at rows / columns 1 .. H / W), blocks of
  // about kTilesPerBlock tiles through transform -> GEMMs -> transform into
  // y16 [O][Hy][Wy][16], scatter to y.
  const int64_t tiles = th * tw;
  const int64_t nblk = (tiles + kTilesPerBlock - 1) / kTilesPerBlock;
  const int64_t plane16 = Hp * Wp * kWinoLanes, yplane16 = Hy * Wy * kWinoLanes;
  const std::vector<float> zeros(static_cast<size_t>(W), 0.f);  // rows of missing images
  const bool par = groups > 1 && omp_get_max_threads() > 1 && !omp_in_parallel();
#pragma omp parallel if (par)
  {
    std::unique_ptr<float[]> x16(new float[static_cast<size_t>(C * plane16)]);
    std::unique_ptr<float[]> y16(new float[static_cast<size_t>(O * yplane16)]);
    std::unique_ptr<float[]> vb(new float[static_cast<size_t>(16 * C * kBlockPos)]);
#pragma omp for schedule(static)
    for (int64_t grp = 0; grp < groups; ++grp) {
      const int64_t lanes = std::min(kWinoLanes, B - grp * kWinoLanes);
      gather_group(isa, x16.get(), x, grp, B, C, H, W, Hp, Wp, 1, zeros.data());
      for (int64_t blk = 0; blk < nblk; ++blk) {
        const int64_t t0 = blk * tiles / nblk, nk = (blk + 1) * tiles / nblk - t0;
        const int64_t n = nk * kWinoLanes;  // positions of this block
        WinoInArgs in;
        in.x16 = x16.get();
        in.C = C;
        in.Hp = Hp;
        in.Wp = Wp;
        in.th = th;
        in.tw = tw;
        in.nt = tiles;
        in.t0 = t0;
        in.nk = static_cast<int>(nk);
        in.v = vb.get();
        in.v_xi = C * n;
        in.v_c = n;
        run_in(isa, in);
        WinoFwdArgs fa;
        fa.v = vb.get();
        fa.C = C;
        fa.n = n;
        fa.U = U.data();
        fa.O = O;
        fa.O4 = O4;
        fa.bias = bias;
        fa.th = th;
        fa.tw = tw;
        fa.t0 = t0;
        fa.y16 = y16.get();
        run_wino_fwd(isa, fa);
      }
      for (int64_t o = 0; o < O; ++o)
        for (int64_t h = 0; h < H; ++h) {
          float* dst[kWinoLanes];
          for (int64_t l = 0; l < lanes; ++l)
            dst[l] = y + ((grp * kWinoLanes + l) * O + o) * H * W + h * W;
          scatter(isa, dst, y16.get() + o * yplane16 + h * Wy * kWinoLanes, W, lanes);
        }
    }
  }
}

}  // namespace

bool conv2d_wino_applies(const Conv2dGeometry& g) {
  return g.KH == 3 && g.KW == 3 && g.PH == 1 && g.PW == 1 && g.SH == 1 && g.SW == 1 && g.C >= 8 &&
         g.C <= 64 && g.O >= 8 && g.O <= 64 && g.H >= 4 && g.W >= 4 && g.B >= 1;
}

void conv2d_wino_forward(float* y, const float* x, const float* w, const float* bias,
                         const Conv2dGeometry& g, ConvIsa isa) {
  wino_conv(y, x, w, bias, g.B, g.C, g.H, g.W, g.O, isa);
}

void conv2d_wino_backward_input(float* dx, const float* dy, const float* w, const Conv2dGeometry& g,
                                ConvIsa isa) {
  // dx = conv3x3(dy, w') with w'[c][o][u][v] = w[o][c][2 - u][2 - v], padding 1
  std::vector<float> wt(static_cast<size_t>(g.C * g.O * 9));
  for (int64_t o = 0; o < g.O; ++o)
    for (int64_t c = 0; c < g.C; ++c)
      for (int t = 0; t < 9; ++t) wt[(c * g.O + o) * 9 + t] = w[(o * g.C + c) * 9 + (8 - t)];
  wino_conv(dx, dy, wt.data(), nullptr, g.B, g.O, g.H, g.W, g.C, isa);
}

void conv2d_wino_backward_weight(float* dw, float* dbias, const float* dy, const float* x,
                                 const Conv2dGeometry& g, ConvIsa isa) {
  if (!dw && !dbias) return;
  isa = clamp(isa);
  const int64_t B = g.B, C = g.C, H = g.H, W = g.W, O = g.O;
  const int64_t th = (H + 1) / 2, tw = (W + 1) / 2, Hp = 2 * th + 2, Wp = 2 * tw + 2;
  const int64_t Hy = 2 * th, Wy = 2 * tw, groups = (B + kWinoLanes - 1) / kWinoLanes;
  // Blocks as large as a group's tiles, up to a cap (long sums per GEMM call amortize its
  // accumulator traffic, which outweighs the blocks spilling from L2 to L3).
  const int64_t cap = std::clamp<int64_t>(3072 / (C + O), kTilesPerBlock, 64);
  const int64_t tiles = th * tw, nblk = (tiles + cap - 1) / cap, maxk = (tiles + nblk - 1) / nblk;
  const int64_t wsize = 16 * O * C;  // dU [16][O][C]
  std::vector<float> partial(dw ? static_cast<size_t>(groups * wsize) : 0);
  std::vector<float> bpart(dbias ? static_cast<size_t>(groups * O) : 0);
  const std::vector<float> zeros(static_cast<size_t>(W), 0.f);
  const bool par = groups > 1 && omp_get_max_threads() > 1 && !omp_in_parallel();
#pragma omp parallel if (par)
  {
    std::unique_ptr<float[]> x16(new float[static_cast<size_t>(C * Hp * Wp * kWinoLanes)]);
    std::unique_ptr<float[]> dy16(new float[static_cast<size_t>(O * Hy * Wy * kWinoLanes)]);
    AlignedBuf vb(16 * C * maxk * kWinoLanes), db(16 * O * maxk * kWinoLanes);
    // one block per group: the GEMM sums straight into the group's partial dU; several:
    // lane partial sums across the blocks, reduced at the end of the group
    std::vector<float> lanes(nblk > 1 ? static_cast<size_t>(wsize * 16) : 0);
    std::vector<int64_t> cshift(static_cast<size_t>(C));
#pragma omp for schedule(static)
    for (int64_t grp = 0; grp < groups; ++grp) {
      gather_group(isa, dy16.get(), dy, grp, B, O, H, W, Hy, Wy, 0, zeros.data());
      if (dbias)  // zeros outside the image and the batch: plane sums are the group's
        for (int64_t o = 0; o < O; ++o)
          bpart[grp * O + o] =
              conv_plane_sum(dy16.get() + o * Hy * Wy * kWinoLanes, Hy * Wy * kWinoLanes);
      if (!dw) continue;
      gather_group(isa, x16.get(), x, grp, B, C, H, W, Hp, Wp, 1, zeros.data());
      std::fill(lanes.begin(), lanes.end(), 0.f);
      float* part = partial.data() + grp * wsize;
      std::fill(part, part + wsize, 0.f);
      for (int64_t blk = 0; blk < nblk; ++blk) {
        const int64_t t0 = blk * tiles / nblk, nk = (blk + 1) * tiles / nblk - t0;
        const int64_t n = nk * kWinoLanes;
        WinoInArgs in;
        in.x16 = x16.get();
        in.C = C;
        in.Hp = Hp;
        in.Wp = Wp;
        in.th = th;
        in.tw = tw;
        in.nt = tiles;
        in.t0 = t0;
        in.nk = static_cast<int>(nk);
        in.v = vb.get();
        in.v_xi = C * n;
        in.v_c = n;
        run_in(isa, in);
        WinoDyArgs dya;
        dya.dy16 = dy16.get();
        dya.O = O;
        dya.th = th;
        dya.tw = tw;
        dya.nt = tiles;
        dya.t0 = t0;
        dya.nk = static_cast<int>(nk);
        dya.d = db.get();
        dya.d_xi = O * n;
        dya.d_o = n;
        run_dy(isa, dya);
        // dU[xi][o][c] (lanes) += sum_q d[xi][o][q] v[xi][c][q]: the weight-gradient loop
        // with one input plane and the channels as "taps" c n apart
        for (int64_t c = 0; c < C; ++c) cshift[c] = c * n;
        for (int xi = 0; xi < 16; ++xi) {
          DwArgs a;
          a.dy = db.get() + xi * O * n;
          a.dy_cs = n;
          a.O = O;
          a.x = vb.get() + xi * C * n;
          a.x_cs = 0;
          a.C = 1;
          a.shift = cshift.data();
          a.T = static_cast<int>(C);
          a.n = n;
          if (nblk > 1)
            a.acc = lanes.data() + xi * O * C * 16;
          else
            a.dw = part + xi * O * C;
          a.aligned = true;
          run_dw(isa, a);
        }
      }
      if (nblk > 1)
        for (int64_t e = 0; e < wsize; ++e) {
          float* l = lanes.data() + e * 16;
          for (int k = 8; k > 0; k /= 2)
            for (int i = 0; i < k; ++i) l[i] += l[i + k];
          part[e] = l[0];
        }
    }
  }
  if (dbias)
    for (int64_t o = 0; o < O; ++o) {
      double s = 0;
      for (int64_t grp = 0; grp < groups; ++grp) s += bpart[grp * O + o];
      dbias[o] = static_cast<float>(s);
    }
  if (!dw) return;
  // dU summed over groups in order, then dW = G^T dU G
  for (int64_t o = 0; o < O; ++o)
    for (int64_t c = 0; c < C; ++c) {
      double du[4][4];
      for (int xi = 0; xi < 16; ++xi) {
        double s = 0;
        for (int64_t grp = 0; grp < groups; ++grp) s += partial[grp * wsize + (xi * O + o) * C + c];
        du[xi / 4][xi % 4] = s;
      }
      for (int u = 0; u < 3; ++u)
        for (int v = 0; v < 3; ++v) {
          double s = 0;
          for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) s += kG[i][u] * du[i][j] * kG[j][v];
          dw[(o * C + c) * 9 + u * 3 + v] = static_cast<float>(s);
        }
    }
}

}  // namespace vq::cpu
