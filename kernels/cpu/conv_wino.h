// Winograd F(2x2, 3x3) CPU convolution for 3x3, stride 1, padding 1 with 8..64 channels
// in and out (the encoder's 16 -> 32 layer): each 2x2 output tile is
// A^T [ (G g G^T) (.) (B^T d B) ] A over its 4x4 input patch d, so the channel sums are
// 16 small GEMMs (one per transformed position xi) with 2.25x fewer multiply-adds than
// the direct convolution. 16 images ride in the vector lanes ("L16" layout: x16
// [image group][C][Hp][Wp][16 lanes]), which makes every transform a vertical vector op;
// the GEMMs reuse the direct convolution's forward loop (conv_direct_kernels.h) with one
// tap. The input gradient is the same computation on dy with the flipped, transposed
// kernel; the weight gradient transforms dy's 2x2 tiles to 4x4 and sums products with
// the transformed inputs over all tiles (the direct path's weight-gradient loop, one
// "tap" per input channel), then maps the 4x4 sums back to 3x3.
//
// Determinism: bitwise reproducible for a fixed instruction set and independent of the
// thread count (no reductions cross the parallel loops). Rounding differs from the
// direct path (transforms add / subtract before multiplying) but stays within a few
// float ulps of the sum of absolute terms (tests/kernels/test_conv_direct.cpp).
#pragma once
#include <cstdint>

#include "kernels/cpu/conv.h"
#include "kernels/cpu/conv_direct.h"

namespace vq::cpu {

// Whether the Winograd path handles g: KH = KW = 3, PH = PW = 1, SH = SW = 1,
// 8 <= C, O <= 64, H, W >= 4.
bool conv2d_wino_applies(const Conv2dGeometry& g);

// y [B, O, H, W] = conv2d(x, w) + bias (bias may be null). Requires
// conv2d_wino_applies(g). OpenMP over groups of 16 images unless inside a parallel region.
void conv2d_wino_forward(float* y, const float* x, const float* w, const float* bias,
                         const Conv2dGeometry& g, ConvIsa isa);

// Gradients of conv2d_wino_forward for dy [B, O, H, W]: dx [B, C, H, W] (the same
// computation on dy with the flipped, transposed kernel), dw [O, C, 3, 3]
// = G^T [ sum_tiles (A dY A^T) (.) (B^T d B) ] G (16 GEMMs summing over tiles and images)
// and dbias [O]; any may be null. One pass over dy per group of 16 images; per-group
// partial sums of dw and dbias, then the groups in order (reproducible for any thread
// count).
void conv2d_wino_backward(float* dx, float* dw, float* dbias, const float* dy, const float* x,
                          const float* w, const Conv2dGeometry& g, ConvIsa isa);

namespace conv_direct {

// Lanes per image group: every L16 array ends in a dimension of this size.
constexpr int64_t kWinoLanes = 16;

// Input transform of tiles t0 .. t0 + nk - 1 (tile t = (group, ti, tj) row-major over
// [groups][th][tw]; t >= nt gives zeros): v[xi][c][k * 16 + lane] = (B^T d B)[xi] for the
// 4x4 patch of x16 [groups][C][Hp][Wp][16] whose top-left is (2 ti, 2 tj).
struct WinoInArgs {
  const float* x16 = nullptr;
  int64_t C = 0, Hp = 0, Wp = 0, th = 0, tw = 0, nt = 0, t0 = 0;
  int nk = 0;
  float* v = nullptr;
  int64_t v_xi = 0, v_c = 0;  // strides of xi and c in v
};

// Gradient transform of tiles t0 .. t0 + nk - 1 < nt: d[xi][o][k * 16 + lane] =
// (A dY A^T)[xi] for the 2x2 tile at (2 ti, 2 tj) of dy16, whose output (i, j) of channel
// o of group grp is at ((grp O + o) plane + i ld + j) 16 + lane.
struct WinoDyArgs {
  const float* dy16 = nullptr;
  int64_t O = 0, plane = 0, ld = 0, th = 0, tw = 0, nt = 0, t0 = 0;
  int nk = 0;
  float* d = nullptr;
  int64_t d_xi = 0, d_o = 0;
};

void wino_dy_scalar(const WinoDyArgs& a);
void wino_dy_avx2(const WinoDyArgs& a);
void wino_dy_avx512(const WinoDyArgs& a);

// 16-lane transposes: l16_gather: dst[j * 16 + l] = src[l][j]; l16_scatter:
// dst[l][j] = src[j * 16 + l] for l < lanes; j < n in both.
void l16_gather_scalar(float* dst, const float* const* src, int64_t n);
void l16_scatter_scalar(float* const* dst, const float* src, int64_t n, int64_t lanes);
void l16_gather_avx512(float* dst, const float* const* src, int64_t n);
void l16_scatter_avx512(float* const* dst, const float* src, int64_t n, int64_t lanes);

// GEMMs and output transform of one block, fused per 3 tiles x a few channels (the 16
// products stay in L1): y16[group][o][2 ti + a][2 tj + b][lane] = (A^T m A)[a][b] + bias[o]
// for o < O, y16 [groups][O][2 th][2 tw][16], from v [16][C][n] (the input transform
// of tiles t0 .. t0 + n / 16 - 1) and U [16][O4 / 4][C][4].
struct WinoFwdArgs {
  const float* v = nullptr;
  int64_t C = 0, n = 0;
  const float* U = nullptr;
  int64_t O = 0, O4 = 0;
  const float* bias = nullptr;  // [O] or null
  int64_t th = 0, tw = 0, t0 = 0;
  float* y16 = nullptr;
};

void wino_fwd_scalar(const WinoFwdArgs& a);
void wino_fwd_avx2(const WinoFwdArgs& a);
void wino_fwd_avx512(const WinoFwdArgs& a);

void wino_in_scalar(const WinoInArgs& a);
void wino_in_avx2(const WinoInArgs& a);
void wino_in_avx512(const WinoInArgs& a);

}  // namespace conv_direct

}  // namespace vq::cpu
