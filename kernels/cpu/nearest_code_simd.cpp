// SIMD kernels behind the CPU nearest-code search (see nearest_code_simd.h): the
// running argmin over a sgemm scratch row and the register-tiled small-D panel kernel.
// Each exists as AVX-512F, AVX2+FMA (compiled with function target attributes, so the
// rest of the library stays baseline x86-64) and plain scalar; the caller picks the
// level at run time from __builtin_cpu_supports (simd_level()).
#include "kernels/cpu/nearest_code_simd.h"

#include <immintrin.h>

#include <climits>
#include <cmath>
#include <limits>

namespace vq::cpu::detail {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// ---------------------------------------------------------------- argmin rows

void argmin_rows_scalar(int64_t* idx, float* best, const float* s, int64_t ld,
                        const float* bias, int64_t rows, int64_t K) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = s + r * ld;
    float mv = kInf;
    int64_t mi = 0;
    for (int64_t k = 0; k < K; ++k) {
      float v = bias[k] + row[k];
      if (v < mv) { mv = v; mi = k; }
    }
    idx[r] = mi;
    best[r] = mv;
  }
}

__attribute__((target("avx2,fma"))) void argmin_rows_avx2(int64_t* idx, float* best,
                                                           const float* s, int64_t ld,
                                                           const float* bias, int64_t rows,
                                                           int64_t K) {
  const __m256i step = _mm256_set1_epi32(8);
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const int64_t K8 = K & ~int64_t(7);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = s + r * ld;
    __m256 minv = _mm256_set1_ps(kInf);
    __m256i mini = _mm256_setzero_si256();
    __m256i cur = iota;
    for (int64_t k = 0; k < K8; k += 8) {
      __m256 v = _mm256_add_ps(_mm256_loadu_ps(bias + k), _mm256_loadu_ps(row + k));
      __m256 m = _mm256_cmp_ps(v, minv, _CMP_LT_OQ);
      minv = _mm256_blendv_ps(minv, v, m);
      mini = _mm256_castps_si256(
          _mm256_blendv_ps(_mm256_castsi256_ps(mini), _mm256_castsi256_ps(cur), m));
      cur = _mm256_add_epi32(cur, step);
    }
    alignas(32) float mv[8];
    alignas(32) int32_t mi[8];
    _mm256_store_ps(mv, minv);
    _mm256_store_si256(reinterpret_cast<__m256i*>(mi), mini);
    float bv = kInf;
    int64_t bi = 0;
    bool any = false;
    for (int j = 0; j < 8; ++j) {
      if (mv[j] < bv || (mv[j] == bv && (!any || mi[j] < bi))) {
        bv = mv[j];
        bi = mi[j];
        any = true;
      }
    }
    for (int64_t k = K8; k < K; ++k) {  // tail codes have the highest indices
      float v = bias[k] + row[k];
      if (v < bv) { bv = v; bi = k; }
    }
    idx[r] = bi;
    best[r] = bv;
  }
}

__attribute__((target("avx512f"))) void argmin_rows_avx512(int64_t* idx, float* best,
                                                          const float* s, int64_t ld,
                                                          const float* bias, int64_t rows,
                                                          int64_t K) {
  const __m512i step = _mm512_set1_epi32(16);
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512 inf = _mm512_set1_ps(kInf);
  const int64_t K16 = K & ~int64_t(15);
  const __mmask16 tail = static_cast<__mmask16>((1u << (K - K16)) - 1u);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = s + r * ld;
    // Two independent chains (even / odd chunks) halve the loop-carried latency; the
    // final lexicographic (value, index) merge keeps lowest-index-on-ties semantics.
    __m512 minv0 = inf, minv1 = inf;
    __m512i mini0 = _mm512_setzero_si512(), mini1 = _mm512_setzero_si512();
    __m512i cur0 = iota, cur1 = _mm512_add_epi32(iota, step);
    const __m512i step2 = _mm512_set1_epi32(32);
    int64_t k = 0;
    for (; k + 32 <= K16; k += 32) {
      __m512 v0 = _mm512_add_ps(_mm512_loadu_ps(bias + k), _mm512_loadu_ps(row + k));
      __m512 v1 = _mm512_add_ps(_mm512_loadu_ps(bias + k + 16), _mm512_loadu_ps(row + k + 16));
      __mmask16 m0 = _mm512_cmp_ps_mask(v0, minv0, _CMP_LT_OQ);
      __mmask16 m1 = _mm512_cmp_ps_mask(v1, minv1, _CMP_LT_OQ);
      minv0 = _mm512_mask_mov_ps(minv0, m0, v0);
      minv1 = _mm512_mask_mov_ps(minv1, m1, v1);
      mini0 = _mm512_mask_mov_epi32(mini0, m0, cur0);
      mini1 = _mm512_mask_mov_epi32(mini1, m1, cur1);
      cur0 = _mm512_add_epi32(cur0, step2);
      cur1 = _mm512_add_epi32(cur1, step2);
    }
    if (k < K16) {
      __m512 v0 = _mm512_add_ps(_mm512_loadu_ps(bias + k), _mm512_loadu_ps(row + k));
      __mmask16 m0 = _mm512_cmp_ps_mask(v0, minv0, _CMP_LT_OQ);
      minv0 = _mm512_mask_mov_ps(minv0, m0, v0);
      mini0 = _mm512_mask_mov_epi32(mini0, m0, cur0);
      cur0 = _mm512_add_epi32(cur0, step);
      k += 16;
    }
    if (tail) {
      __m512 v = _mm512_add_ps(_mm512_mask_loadu_ps(inf, tail, bias + k),
                               _mm512_mask_loadu_ps(inf, tail, row + k));
      __mmask16 m = _mm512_mask_cmp_ps_mask(tail, v, minv1, _CMP_LT_OQ);
      minv1 = _mm512_mask_mov_ps(minv1, m, v);
      mini1 = _mm512_mask_mov_epi32(mini1, m, _mm512_add_epi32(iota, _mm512_set1_epi32(int(k))));
    }
    // merge the chains lexicographically, then reduce the lanes
    __mmask16 take1 = _mm512_cmp_ps_mask(minv1, minv0, _CMP_LT_OQ) |
                      (_mm512_cmp_ps_mask(minv1, minv0, _CMP_EQ_OQ) &
                       _mm512_cmplt_epi32_mask(mini1, mini0));
    __m512 minv = _mm512_mask_mov_ps(minv0, take1, minv1);
    __m512i mini = _mm512_mask_mov_epi32(mini0, take1, mini1);
    alignas(64) float mv[16];
    alignas(64) int32_t mi[16];
    _mm512_store_ps(mv, minv);
    _mm512_store_si512(mi, mini);
    float bv = mv[0];
    int32_t bi = mi[0];
    for (int j = 1; j < 16; ++j)
      if (mv[j] < bv || (mv[j] == bv && mi[j] < bi)) { bv = mv[j]; bi = mi[j]; }
    idx[r] = bi;
    best[r] = bv;
  }
}

// ---------------------------------------------------------------- small-D panels

void small_d_scalar(float* minv, int32_t* mini, const float* x, int64_t rows, int64_t D,
                    const float* W, const float* B, int64_t p0, int64_t p1) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * D;
    for (int64_t p = p0; p < p1; ++p) {
      const float* w = W + p * D * kPanel;
      for (int j = 0; j < kPanel; ++j) {
        float acc = B[p * kPanel + j];
        for (int64_t d = 0; d < D; ++d) acc = std::fma(xr[d], w[d * kPanel + j], acc);
        // 8-lane layout (same as AVX2) so the scalar kernel mirrors it exactly
        int lane = j & 7;
        if (acc < minv[r * kPanel + lane]) {
          minv[r * kPanel + lane] = acc;
          mini[r * kPanel + lane] = static_cast<int32_t>(p * kPanel + j);
        }
      }
    }
  }
}

template <int R>
__attribute__((target("avx2,fma"))) inline void small_d_avx2_tile(
    float* minv_s, int32_t* mini_s, const float* x, int64_t D, const float* W, const float* B,
    int64_t p0, int64_t p1) {
  __m256 minv[R];
  __m256i mini[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    minv[r] = _mm256_loadu_ps(minv_s + r * kPanel);
    mini[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mini_s + r * kPanel));
  }
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int64_t p = p0; p < p1; ++p) {
    for (int half = 0; half < 2; ++half) {
      const float* w = W + p * D * kPanel + half * 8;
      __m256 acc[R];
      const __m256 b = _mm256_loadu_ps(B + p * kPanel + half * 8);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r] = b;
      for (int64_t d = 0; d < D; ++d) {
        const __m256 wv = _mm256_loadu_ps(w + d * kPanel);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r)
          acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(x + r * D + d), wv, acc[r]);
      }
      const __m256i cur =
          _mm256_add_epi32(iota, _mm256_set1_epi32(static_cast<int>(p * kPanel + half * 8)));
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        __m256 m = _mm256_cmp_ps(acc[r], minv[r], _CMP_LT_OQ);
        minv[r] = _mm256_blendv_ps(minv[r], acc[r], m);
        mini[r] = _mm256_castps_si256(
            _mm256_blendv_ps(_mm256_castsi256_ps(mini[r]), _mm256_castsi256_ps(cur), m));
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    _mm256_storeu_ps(minv_s + r * kPanel, minv[r]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(mini_s + r * kPanel), mini[r]);
  }
}

template <int R>
__attribute__((target("avx512f"))) inline void small_d_avx512_tile(
    float* minv_s, int32_t* mini_s, const float* x, int64_t D, const float* W, const float* B,
    int64_t p0, int64_t p1) {
  __m512 minv[R];
  __m512i mini[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    minv[r] = _mm512_loadu_ps(minv_s + r * kPanel);
    mini[r] = _mm512_loadu_si512(mini_s + r * kPanel);
  }
  const __m512i step = _mm512_set1_epi32(kPanel);
  __m512i cur = _mm512_add_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
      _mm512_set1_epi32(static_cast<int>(p0 * kPanel)));
  for (int64_t p = p0; p < p1; ++p) {
    const float* w = W + p * D * kPanel;
    __m512 acc[R];
    const __m512 b = _mm512_loadu_ps(B + p * kPanel);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[r] = b;
    for (int64_t d = 0; d < D; ++d) {
      const __m512 wv = _mm512_loadu_ps(w + d * kPanel);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(x[r * D + d]), wv, acc[r]);
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      __mmask16 m = _mm512_cmp_ps_mask(acc[r], minv[r], _CMP_LT_OQ);
      minv[r] = _mm512_mask_mov_ps(minv[r], m, acc[r]);
      mini[r] = _mm512_mask_mov_epi32(mini[r], m, cur);
    }
    cur = _mm512_add_epi32(cur, step);
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    _mm512_storeu_ps(minv_s + r * kPanel, minv[r]);
    _mm512_storeu_si512(mini_s + r * kPanel, mini[r]);
  }
}

__attribute__((target("avx2,fma"))) void small_d_avx2(float* minv, int32_t* mini,
                                                       const float* x, int64_t rows, int64_t D,
                                                       const float* W, const float* B,
                                                       int64_t p0, int64_t p1) {
  constexpr int R = 4;
  int64_t r = 0;
  for (; r + R <= rows; r += R)
    small_d_avx2_tile<R>(minv + r * kPanel, mini + r * kPanel, x + r * D, D, W, B, p0, p1);
  for (; r < rows; ++r)
    small_d_avx2_tile<1>(minv + r * kPanel, mini + r * kPanel, x + r * D, D, W, B, p0, p1);
}

__attribute__((target("avx512f"))) void small_d_avx512(float* minv, int32_t* mini,
                                                       const float* x, int64_t rows, int64_t D,
                                                       const float* W, const float* B,
                                                       int64_t p0, int64_t p1) {
  constexpr int R = 8;
  int64_t r = 0;
  for (; r + R <= rows; r += R)
    small_d_avx512_tile<R>(minv + r * kPanel, mini + r * kPanel, x + r * D, D, W, B, p0, p1);
  for (; r < rows; ++r)
    small_d_avx512_tile<1>(minv + r * kPanel, mini + r * kPanel, x + r * D, D, W, B, p0, p1);
}

}  // namespace

void argmin_rows(int64_t* idx, float* best, const float* s, int64_t ld, const float* bias,
                 int64_t rows, int64_t K, SimdLevel lvl) {
  switch (lvl) {
    case SimdLevel::avx512: argmin_rows_avx512(idx, best, s, ld, bias, rows, K); break;
    case SimdLevel::avx2: argmin_rows_avx2(idx, best, s, ld, bias, rows, K); break;
    default: argmin_rows_scalar(idx, best, s, ld, bias, rows, K); break;
  }
}

void small_d_panels(float* minv, int32_t* mini, const float* x, int64_t rows, int64_t D,
                    const float* W, const float* B, int64_t p0, int64_t p1, SimdLevel lvl) {
  switch (lvl) {
    case SimdLevel::avx512: small_d_avx512(minv, mini, x, rows, D, W, B, p0, p1); break;
    case SimdLevel::avx2: small_d_avx2(minv, mini, x, rows, D, W, B, p0, p1); break;
    default: small_d_scalar(minv, mini, x, rows, D, W, B, p0, p1); break;
  }
}

}  // namespace vq::cpu::detail
