// Winograd F(2x2, 3x3) CPU convolution (see conv_wino.h): weight transform, gathering
// images into 16-lane groups, blocks of tiles through input transform -> 16 GEMMs fused
// with the output transform (each block's buffers stay in L2), scattering back to NCHW.
#include "kernels/cpu/conv_wino.h"

#include <omp.h>

#include <algorithm>
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

void run_in(ConvIsa isa, const WinoInArgs& a) {
  conv_run_isa(isa, conv_direct::wino_in_avx512, conv_direct::wino_in_avx2, conv_direct::wino_in_scalar, a);
}

void run_dy(ConvIsa isa, const WinoDyArgs& a) {
  conv_run_isa(isa, conv_direct::wino_dy_avx512, conv_direct::wino_dy_avx2, conv_direct::wino_dy_scalar, a);
}

void run_dw(ConvIsa isa, const DwArgs& a) {
  conv_run_isa(isa, conv_direct::dw_avx512, conv_direct::dw_avx2, conv_direct::dw_scalar, a);
}

void run_wino_fwd(ConvIsa isa, const WinoFwdArgs& a) {
  conv_run_isa(isa, conv_direct::wino_fwd_avx512, conv_direct::wino_fwd_avx2, conv_direct::wino_fwd_scalar, a);
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

// Tile geometry of a 3x3 / padding 1 convolution on H x W images: th x tw tiles of 2x2
// outputs; L16 planes of inputs Hp x Wp (one zero row / column before, at least one
// after), of outputs Hy x Wy.
struct Tiles {
  int64_t th, tw, Hp, Wp, Hy, Wy, tiles, nblk;
  Tiles(int64_t H, int64_t W)
      : th((H + 1) / 2),
        tw((W + 1) / 2),
        Hp(2 * th + 2),
        Wp(2 * tw + 2),
        Hy(2 * th),
        Wy(2 * tw),
        tiles(th * tw),
        nblk((tiles + kTilesPerBlock - 1) / kTilesPerBlock) {}
};

// U[xi] = (G g G^T)[xi] for w [O, C, 3, 3], packed [16][O4 / 4][C][4] (the GEMM's
// weight layout, one tap).
std::vector<float> transform_weights(const float* w, int64_t O, int64_t C) {
  const int64_t O4 = (O + 3) / 4 * 4;
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
  return U;
}

// The input transform of tiles [t0, t0 + nk) of the 16-image group x16 into vb
// ([16][C][nk * 16]).
void transform_input_block(ConvIsa isa, const float* x16, int64_t C, const Tiles& t, int64_t t0, int64_t nk,
                           float* vb) {
  const int64_t n = nk * kWinoLanes;
  WinoInArgs in;
  in.x16 = x16;
  in.C = C;
  in.Hp = t.Hp;
  in.Wp = t.Wp;
  in.th = t.th;
  in.tw = t.tw;
  in.nt = t.tiles;
  in.t0 = t0;
  in.nk = static_cast<int>(nk);
  in.v = vb;
  in.v_xi = C * n;
  in.v_c = n;
  run_in(isa, in);
}

// One group's convolution in L16 layout: x16 [C][Hp][Wp][16] -> y16 [O][Hy][Wy][16],
// blocks of about kTilesPerBlock tiles through the input transform (into vb
// [16][C][kBlockPos]) and the fused GEMMs + output transform.
void conv_group(ConvIsa isa, const float* x16, int64_t C, int64_t O, const float* U,
                const float* bias, const Tiles& t, float* vb, float* y16) {
  for (int64_t blk = 0; blk < t.nblk; ++blk) {
    const int64_t t0 = blk * t.tiles / t.nblk, nk = (blk + 1) * t.tiles / t.nblk - t0;
    const int64_t n = nk * kWinoLanes;  // positions of this block
    transform_input_block(isa, x16, C, t, t0, nk, vb);
    WinoFwdArgs fa;
    fa.v = vb;
    fa.C = C;
    fa.n = n;
    fa.U = U;
    fa.O = O;
    fa.O4 = (O + 3) / 4 * 4;
    fa.bias = bias;
    fa.th = t.th;
    fa.tw = t.tw;
    fa.t0 = t0;
    fa.y16 = y16;
    run_wino_fwd(isa, fa);
  }
}

// y [B, O, H, W] images 16 grp .. <- y16 [O][Hy][Wy][16].
void scatter_group(ConvIsa isa, float* y, const float* y16, int64_t grp, int64_t B, int64_t O,
                   int64_t H, int64_t W, const Tiles& t) {
  const int64_t lanes = std::min(kWinoLanes, B - grp * kWinoLanes);
  for (int64_t o = 0; o < O; ++o)
    for (int64_t h = 0; h < H; ++h) {
      float* dst[kWinoLanes];
      for (int64_t l = 0; l < lanes; ++l)
        dst[l] = y + ((grp * kWinoLanes + l) * O + o) * H * W + h * W;
      scatter(isa, dst, y16 + (o * t.Hy + h) * t.Wy * kWinoLanes, W, lanes);
    }
}

bool go_parallel(int64_t groups) {
  return groups > 1 && omp_get_max_threads() > 1 && !omp_in_parallel();
}

}  // namespace

bool conv2d_wino_applies(const Conv2dGeometry& g) {
  return g.KH == 3 && g.KW == 3 && g.PH == 1 && g.PW == 1 && g.SH == 1 && g.SW == 1 && g.C >= 8 &&
         g.C <= 64 && g.O >= 8 && g.O <= 64 && g.H >= 4 && g.W >= 4 && g.B >= 1;
}

void conv2d_wino_forward(float* y, const float* x, const float* w, const float* bias,
                         const Conv2dGeometry& g, ConvIsa isa) {
  isa = conv_isa_clamp(isa);
  const Tiles t(g.H, g.W);
  const int64_t groups = (g.B + kWinoLanes - 1) / kWinoLanes;
  const std::vector<float> U = transform_weights(w, g.O, g.C);
  const std::vector<float> zeros(static_cast<size_t>(g.W), 0.f);  // rows of missing images
  // One group of 16 images at a time: its L16 input and output stay in L2.
#pragma omp parallel if (go_parallel(groups))
  {
    float* x16 = conv_scratch(0, g.C * t.Hp * t.Wp * kWinoLanes);
    float* y16 = conv_scratch(1, g.O * t.Hy * t.Wy * kWinoLanes);
    float* vb = conv_scratch(2, 16 * g.C * kBlockPos);
#pragma omp for schedule(static)
    for (int64_t grp = 0; grp < groups; ++grp) {
      gather_group(isa, x16, x, grp, g.B, g.C, g.H, g.W, t.Hp, t.Wp, 1, zeros.data());
      conv_group(isa, x16, g.C, g.O, U.data(), bias, t, vb, y16);
      scatter_group(isa, y, y16, grp, g.B, g.O, g.H, g.W, t);
    }
  }
}

void conv2d_wino_backward(float* dx, float* dw, float* dbias, const float* dy, const float* x,
                          const float* w, const Conv2dGeometry& g, ConvIsa isa) {
  if (!dx && !dw && !dbias) return;
  isa = conv_isa_clamp(isa);
  const int64_t B = g.B, C = g.C, H = g.H, W = g.W, O = g.O;
  const Tiles t(H, W);
  const int64_t groups = (B + kWinoLanes - 1) / kWinoLanes;
  // dx = conv3x3(dy, w') with w'[c][o][u][v] = w[o][c][2 - u][2 - v], padding 1
  std::vector<float> UT;
  if (dx) {
    std::vector<float> wt(static_cast<size_t>(C * O * 9));
    for (int64_t o = 0; o < O; ++o)
      for (int64_t c = 0; c < C; ++c)
        for (int k = 0; k < 9; ++k) wt[(c * O + o) * 9 + k] = w[(o * C + c) * 9 + (8 - k)];
    UT = transform_weights(wt.data(), C, O);
  }
  // dW blocks as large as a group's tiles, up to a cap (long sums per GEMM call amortize
  // its accumulator traffic, which outweighs the blocks spilling from L2 to L3).
  const int64_t cap = std::clamp<int64_t>(3072 / (C + O), kTilesPerBlock, 64);
  const int64_t nblk = (t.tiles + cap - 1) / cap, maxk = (t.tiles + nblk - 1) / nblk;
  const int64_t wsize = 16 * O * C;  // dU [16][O][C]
  std::vector<float> partial(dw ? static_cast<size_t>(groups * wsize) : 0);
  std::vector<float> bpart(dbias ? static_cast<size_t>(groups * O) : 0);
  const std::vector<float> zeros(static_cast<size_t>(W), 0.f);
  const int64_t plane = t.Hp * t.Wp;  // dy16 positions per channel
#pragma omp parallel if (go_parallel(groups))
  {
    // dy of the group, padded like an input (the dx convolution's input; the dW tiles
    // read it one row and column in)
    float* dy16 = conv_scratch(0, O * plane * kWinoLanes);
    float* x16 = dw ? conv_scratch(1, C * plane * kWinoLanes) : nullptr;
    float* dx16 = dx ? conv_scratch(2, C * t.Hy * t.Wy * kWinoLanes) : nullptr;
    float* vbx = dx ? conv_scratch(3, 16 * O * kBlockPos) : nullptr;
    float* vb = dw ? conv_scratch(4, 16 * C * maxk * kWinoLanes) : nullptr;
    float* db = dw ? conv_scratch(5, 16 * O * maxk * kWinoLanes) : nullptr;
    // one block per group: the GEMM sums straight into the group's partial dU; several:
    // lane partial sums across the blocks, reduced at the end of the group
    std::vector<float> lanes(dw && nblk > 1 ? static_cast<size_t>(wsize * 16) : 0);
    std::vector<int64_t> cshift(static_cast<size_t>(C));
#pragma omp for schedule(static)
    for (int64_t grp = 0; grp < groups; ++grp) {
      gather_group(isa, dy16, dy, grp, B, O, H, W, t.Hp, t.Wp, 1, zeros.data());
      if (dbias)  // zeros outside the image and the batch: plane sums are the group's
        for (int64_t o = 0; o < O; ++o)
          bpart[grp * O + o] = conv_plane_sum(dy16 + o * plane * kWinoLanes, plane * kWinoLanes);
      if (dx) {
        conv_group(isa, dy16, O, C, UT.data(), nullptr, t, vbx, dx16);
        scatter_group(isa, dx, dx16, grp, B, C, H, W, t);
      }
      if (!dw) continue;
      gather_group(isa, x16, x, grp, B, C, H, W, t.Hp, t.Wp, 1, zeros.data());
      std::fill(lanes.begin(), lanes.end(), 0.f);
      float* part = partial.data() + grp * wsize;
      std::fill(part, part + wsize, 0.f);
      for (int64_t blk = 0; blk < nblk; ++blk) {
        const int64_t t0 = blk * t.tiles / nblk, nk = (blk + 1) * t.tiles / nblk - t0;
        const int64_t n = nk * kWinoLanes;
        transform_input_block(isa, x16, C, t, t0, nk, vb);
        WinoDyArgs dya;
        dya.dy16 = dy16 + (t.Wp + 1) * kWinoLanes;  // output (0, 0) of the plane
        dya.O = O;
        dya.plane = plane;
        dya.ld = t.Wp;
        dya.th = t.th;
        dya.tw = t.tw;
        dya.nt = t.tiles;
        dya.t0 = t0;
        dya.nk = static_cast<int>(nk);
        dya.d = db;
        dya.d_xi = O * n;
        dya.d_o = n;
        run_dy(isa, dya);
        // dU[xi][o][c] += sum_q d[xi][o][q] v[xi][c][q]: the weight-gradient loop with
        // one input plane and the channels as "taps" c n apart
        for (int64_t c = 0; c < C; ++c) cshift[c] = c * n;
        for (int xi = 0; xi < 16; ++xi) {
          DwArgs a;
          a.dy = db + xi * O * n;
          a.dy_cs = n;
          a.O = O;
          a.x = vb + xi * C * n;
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
