// Winograd F(2x2, 3x3) tile transforms (kernels/cpu/conv_wino.h) over a vector type V,
// included by conv_direct_{scalar,avx2,avx512}.cpp after conv_direct_kernels.h, like
// it: no standard header from here on. Vertical operations only: the 16 lanes of a
// position are 16 images, processed V::kWidth at a time.
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  A^T = [1 1 1 0; 0 1 -1 -1]
#pragma once

namespace vq::cpu::conv_direct {

template <class V>
inline void wino_in_all(const WinoInArgs& a) {
  using reg = typename V::reg;
  const int64_t per_group = a.th * a.tw;
  // channels outer, tiles inner: the 16 output streams are written sequentially
  for (int64_t c = 0; c < a.C; ++c)
    for (int k = 0; k < a.nk; ++k) {
      const int64_t t = a.t0 + k;
      float* vc = a.v + k * kWinoLanes + c * a.v_c;
      if (t >= a.nt) {
        for (int xi = 0; xi < 16; ++xi)
          for (int64_t l = 0; l < kWinoLanes; l += V::kWidth)
            V::store(vc + xi * a.v_xi + l, V::zero());
        continue;
      }
      const int64_t grp = t / per_group, r = t % per_group, ti = r / a.tw, tj = r % a.tw;
      const float* base = a.x16 + (((grp * a.C + c) * a.Hp + 2 * ti) * a.Wp + 2 * tj) * kWinoLanes;
      for (int64_t l = 0; l < kWinoLanes; l += V::kWidth) {
        reg d[4][4], u[4][4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i)
#pragma GCC unroll 4
          for (int j = 0; j < 4; ++j) d[i][j] = V::load(base + (i * a.Wp + j) * kWinoLanes + l);
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {  // B^T d
          u[0][j] = V::sub(d[0][j], d[2][j]);
          u[1][j] = V::add(d[1][j], d[2][j]);
          u[2][j] = V::sub(d[2][j], d[1][j]);
          u[3][j] = V::sub(d[1][j], d[3][j]);
        }
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) {  // (B^T d) B
          float* o = vc + i * 4 * a.v_xi + l;
          V::store(o, V::sub(u[i][0], u[i][2]));
          V::store(o + a.v_xi, V::add(u[i][1], u[i][2]));
          V::store(o + 2 * a.v_xi, V::sub(u[i][2], u[i][1]));
          V::store(o + 3 * a.v_xi, V::sub(u[i][1], u[i][3]));
        }
      }
    }
}

// Output transform of tiles k0 .. k0 + nk - 1 of a block (tile t0 + k), channels
// o0 .. o0 + ob - 1 (< O), from m at m[(xi ob + oo) mstride + (k - k0) 16 + lane].
template <class V>
inline void wino_out_from(const WinoFwdArgs& a, const float* m, int64_t mstride, int64_t o0, int ob,
                          int64_t k0, int64_t nk) {
  using reg = typename V::reg;
  const int64_t per_group = a.th * a.tw, Hy = 2 * a.th, Wy = 2 * a.tw;
  for (int oo = 0; oo < ob && o0 + oo < a.O; ++oo) {
    const int64_t o = o0 + oo;
    const reg b = a.bias ? V::set1(a.bias[o]) : V::zero();
    for (int64_t k = 0; k < nk; ++k) {
      const int64_t t = a.t0 + k0 + k;
      const int64_t grp = t / per_group, r = t % per_group, ti = r / a.tw, tj = r % a.tw;
      const float* mo = m + oo * mstride + k * kWinoLanes;
      float* yo = a.y16 + (((grp * a.O + o) * Hy + 2 * ti) * Wy + 2 * tj) * kWinoLanes;
      for (int64_t l = 0; l < kWinoLanes; l += V::kWidth) {
        reg mm[4][4], s[2][4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i)
#pragma GCC unroll 4
          for (int j = 0; j < 4; ++j) mm[i][j] = V::load(mo + (i * 4 + j) * ob * mstride + l);
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {  // A^T m
          s[0][j] = V::add(V::add(mm[0][j], mm[1][j]), mm[2][j]);
          s[1][j] = V::sub(V::sub(mm[1][j], mm[2][j]), mm[3][j]);
        }
#pragma GCC unroll 2
        for (int i = 0; i < 2; ++i) {  // (A^T m) A
          float* row = yo + i * Wy * kWinoLanes + l;
          V::store(row, V::add(V::add(V::add(s[i][0], s[i][1]), s[i][2]), b));
          V::store(row + kWinoLanes, V::add(V::sub(V::sub(s[i][1], s[i][2]), s[i][3]), b));
        }
      }
    }
  }
}

// Products of OB channels x npos <= 48 positions (3 tiles) from q0 for all 16 xi into
// buf [16][OB][48], then their output transform.
template <class V, int OB, int NV>
inline void wino_fwd_tile(const WinoFwdArgs& a, FwdArgs& f, float* buf, int64_t o0, int64_t q0,
                          int64_t npos) {
  constexpr int64_t kPos = 3 * kWinoLanes, kStep = NV * V::kWidth;
  static_assert(kPos % kStep == 0, "position step");
  for (int xi = 0; xi < 16; ++xi) {
    f.in = a.v + xi * a.C * a.n;
    f.wpack = a.U + xi * a.O4 * a.C;
    float* out = buf + xi * OB * kPos;
    int64_t q = 0;
    if (npos == kPos)
      for (; q < kPos; q += kStep) fwd_tile_to<V, OB, NV>(f, o0, q0 + q, out + q, kPos);
    for (; q < npos; q += V::kWidth) fwd_tile_to<V, OB, 1>(f, o0, q0 + q, out + q, kPos);
  }
  wino_out_from<V>(a, buf, kPos, o0, OB, q0 / kWinoLanes, npos / kWinoLanes);
}

// The whole block: 3 tiles at a time, OB-channel tiles, then 4-channel ones for the rest.
template <class V, int OB, int NV>
inline void wino_fwd_all(const WinoFwdArgs& a) {
  constexpr int64_t kPos = 3 * kWinoLanes;
  alignas(64) float buf[16 * OB * kPos];
  const int64_t zero_shift = 0;
  FwdArgs f;
  f.C = a.C;
  f.in_cs = a.n;
  f.shift = &zero_shift;
  f.T = 1;
  for (int64_t q0 = 0; q0 < a.n; q0 += kPos) {
    const int64_t npos = a.n - q0 < kPos ? a.n - q0 : kPos;
    int64_t o = 0;
    for (; o + OB <= a.O4; o += OB) wino_fwd_tile<V, OB, NV>(a, f, buf, o, q0, npos);
    if constexpr (OB != 4) {
      for (; o < a.O4; o += 4) wino_fwd_tile<V, 4, NV>(a, f, buf, o, q0, npos);
    }
  }
}

// A = [1 0; 1 1; 1 -1; 0 -1]: e = (y0, y0 + y1, y0 - y1, -y1) along rows, then columns.
template <class V>
inline void wino_dy_all(const WinoDyArgs& a) {
  using reg = typename V::reg;
  const int64_t per_group = a.th * a.tw;
  for (int64_t o = 0; o < a.O; ++o)
    for (int k = 0; k < a.nk; ++k) {
      const int64_t t = a.t0 + k;
      const int64_t grp = t / per_group, r = t % per_group, ti = r / a.tw, tj = r % a.tw;
      const float* yo = a.dy16 + ((grp * a.O + o) * a.plane + 2 * ti * a.ld + 2 * tj) * kWinoLanes;
      float* dk = a.d + o * a.d_o + k * kWinoLanes;
      for (int64_t l = 0; l < kWinoLanes; l += V::kWidth) {
        reg y[2][2], e[4][2];
#pragma GCC unroll 2
        for (int i = 0; i < 2; ++i)
#pragma GCC unroll 2
          for (int j = 0; j < 2; ++j) y[i][j] = V::load(yo + (i * a.ld + j) * kWinoLanes + l);
#pragma GCC unroll 2
        for (int j = 0; j < 2; ++j) {
          e[0][j] = y[0][j];
          e[1][j] = V::add(y[0][j], y[1][j]);
          e[2][j] = V::sub(y[0][j], y[1][j]);
          e[3][j] = V::sub(V::zero(), y[1][j]);
        }
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) {
          float* o4 = dk + i * 4 * a.d_xi + l;
          V::store(o4, e[i][0]);
          V::store(o4 + a.d_xi, V::add(e[i][0], e[i][1]));
          V::store(o4 + 2 * a.d_xi, V::sub(e[i][0], e[i][1]));
          V::store(o4 + 3 * a.d_xi, V::sub(V::zero(), e[i][1]));
        }
      }
    }
}

}  // namespace vq::cpu::conv_direct
