// Register-blocked inner loops of the direct CPU convolution (kernels/cpu/conv_direct.h),
// written once over a vector type V and compiled once per instruction set: each of
// conv_direct_{scalar,avx2,avx512}.cpp defines V in an anonymous namespace (so every
// instantiation is local to its file), sets its target, then includes this file. No
// standard header may be included from here on (it would be compiled for that target).
//
// Data layout ("flat planes"): a channel's images sit one after another in one array,
// each image padded to Hp x Wp with zeros such that every tap of the kernel is a
// constant shift of the flat index (see conv_direct.cpp). The loops below see only
// channel planes, tap shifts and a flat position range [0, n).
//
// V provides: reg, kWidth, zero(), set1(float), load(const float*) (unaligned),
// store(float*, reg), fma(a, b, c) = a * b + c, hsum(reg) (fixed lane order).
#pragma once

namespace vq::cpu::conv_direct {

// out[o][q] = bias[o] + sum_c sum_t w[o, c, t] in[c][q + shift[t]] for q in [0, n),
// o in [0, O4). wpack [O4 / 4][C][T][4]; n a multiple of V::kWidth (and of 16).
// (fwd_tile_to: the tile's rows stored at out + oo * out_cs instead.)
template <class V, int OB, int NV>
inline void fwd_tile_to(const FwdArgs& a, int64_t o0, int64_t q, float* out, int64_t out_cs) {
  using reg = typename V::reg;
  reg acc[OB][NV];
#pragma GCC unroll 16
  for (int oo = 0; oo < OB; ++oo) {
    const reg b = a.bias ? V::set1(a.bias[o0 + oo]) : V::zero();
#pragma GCC unroll 16
    for (int nv = 0; nv < NV; ++nv) acc[oo][nv] = b;
  }
  const int64_t wgroup = a.C * a.T * 4;  // floats per group of 4 output channels
  const float* wbase = a.wpack + (o0 / 4) * wgroup;
  const int64_t r0 = o0 % 4;  // 0 except for the one-channel tiles of fwd_narrow
  for (int64_t c = 0; c < a.C; ++c) {
    const float* inc = a.in + c * a.in_cs + q;
    const float* wc = wbase + c * a.T * 4;
    for (int t = 0; t < a.T; ++t) {
      const float* p = inc + a.shift[t];
      reg xv[NV];
#pragma GCC unroll 16
      for (int nv = 0; nv < NV; ++nv) xv[nv] = V::load(p + nv * V::kWidth);
      const float* wt = wc + t * 4;
#pragma GCC unroll 16
      for (int oo = 0; oo < OB; ++oo) {
        const reg w = V::set1(wt[((r0 + oo) / 4) * wgroup + (r0 + oo) % 4]);
#pragma GCC unroll 16
        for (int nv = 0; nv < NV; ++nv) acc[oo][nv] = V::fma(w, xv[nv], acc[oo][nv]);
      }
    }
  }
#pragma GCC unroll 16
  for (int oo = 0; oo < OB; ++oo) {
    float* o = out + oo * out_cs;
#pragma GCC unroll 16
    for (int nv = 0; nv < NV; ++nv) V::store(o + nv * V::kWidth, acc[oo][nv]);
  }
}

template <class V, int OB, int NV>
inline void fwd_tile(const FwdArgs& a, int64_t o0, int64_t q) {
  fwd_tile_to<V, OB, NV>(a, o0, q, a.out + o0 * a.out_cs + q, a.out_cs);
}

// All of out: position blocks outer (their inputs stay in L1 across output channels),
// OB-channel tiles inner, then 4-channel tiles for the rest; positions past the last
// full block (n need only be a multiple of kWidth) one register at a time.
template <class V, int OB, int NV>
inline void fwd_all(const FwdArgs& a) {
  constexpr int64_t kStep = NV * V::kWidth;
  int64_t q = 0;
  for (; q + kStep <= a.n; q += kStep) {
    int64_t o = 0;
    for (; o + OB <= a.O4; o += OB) fwd_tile<V, OB, NV>(a, o, q);
    if constexpr (OB != 4) {
      for (; o < a.O4; o += 4) fwd_tile<V, 4, NV>(a, o, q);
    }
  }
  for (; q < a.n; q += V::kWidth) {
    int64_t o = 0;
    for (; o + OB <= a.O4; o += OB) fwd_tile<V, OB, 1>(a, o, q);
    if constexpr (OB != 4) {
      for (; o < a.O4; o += 4) fwd_tile<V, 4, 1>(a, o, q);
    }
  }
}

// fwd_all for 1 to 3 output channels (a.O): one channel per tile, NV registers of
// positions, instead of a 4-channel tile that is mostly padding.
template <class V, int NV>
inline void fwd_narrow(const FwdArgs& a) {
  constexpr int64_t kStep = NV * V::kWidth;
  int64_t q = 0;
  for (; q + kStep <= a.n; q += kStep)
    for (int64_t o = 0; o < a.O; ++o) fwd_tile<V, 1, NV>(a, o, q);
  for (; q < a.n; q += V::kWidth)
    for (int64_t o = 0; o < a.O; ++o) fwd_tile<V, 1, 1>(a, o, q);
}

// dw[o][c][t0 + tb] += sum_q dy[o][q] x[c][q + shift[t0 + tb]] for OB channels o0..,
// one c and TB taps, q in [0, n) (n a multiple of kWidth); fixed order: lanes
// accumulate along q, then hsum (or the lanes are kept in a.acc).
template <class V, int OB, int TB>
inline void dw_tile(const DwArgs& a, int64_t o0, int64_t c, int t0) {
  using reg = typename V::reg;
  reg acc[OB][TB];
  float* lanes = a.acc ? a.acc + ((o0 * a.C + c) * a.T + t0) * 16 : nullptr;
  const int64_t lane_o = a.C * a.T * 16;  // lanes' stride between output channels
#pragma GCC unroll 16
  for (int ob = 0; ob < OB; ++ob)
#pragma GCC unroll 16
    for (int tb = 0; tb < TB; ++tb)
      acc[ob][tb] = lanes ? V::load(lanes + ob * lane_o + tb * 16) : V::zero();
  const float* xc = a.x + c * a.x_cs;
  int64_t s[TB];
#pragma GCC unroll 16
  for (int tb = 0; tb < TB; ++tb) s[tb] = a.shift[t0 + tb];
  const float* dyo = a.dy + o0 * a.dy_cs;
  for (int64_t q = 0; q < a.n; q += V::kWidth) {
    reg d[OB];
#pragma GCC unroll 16
    for (int ob = 0; ob < OB; ++ob) d[ob] = V::load(dyo + ob * a.dy_cs + q);
#pragma GCC unroll 16
    for (int tb = 0; tb < TB; ++tb) {
      const reg xv = V::load(xc + q + s[tb]);
#pragma GCC unroll 16
      for (int ob = 0; ob < OB; ++ob) acc[ob][tb] = V::fma(d[ob], xv, acc[ob][tb]);
    }
  }
  if (lanes) {
#pragma GCC unroll 16
    for (int ob = 0; ob < OB; ++ob)
#pragma GCC unroll 16
      for (int tb = 0; tb < TB; ++tb) V::store(lanes + ob * lane_o + tb * 16, acc[ob][tb]);
    return;
  }
#pragma GCC unroll 16
  for (int ob = 0; ob < OB; ++ob)
#pragma GCC unroll 16
    for (int tb = 0; tb < TB; ++tb)
      a.dw[((o0 + ob) * a.C + c) * a.T + t0 + tb] += V::hsum(acc[ob][tb]);
}

template <class V, int OB, int TB>
inline void dw_all(const DwArgs& a) {
  for (int64_t c = 0; c < a.C; ++c)
    for (int t0 = 0; t0 + TB <= a.T; t0 += TB) {
      int64_t o = 0;
      for (; o + OB <= a.O; o += OB) dw_tile<V, OB, TB>(a, o, c, t0);
      if constexpr (OB > 2) {
        for (; o + 2 <= a.O; o += 2) dw_tile<V, 2, TB>(a, o, c, t0);
      }
      for (; o < a.O; ++o) dw_tile<V, 1, TB>(a, o, c, t0);
    }
}

}  // namespace vq::cpu::conv_direct
