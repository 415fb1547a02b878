// 2x2 / stride-2 max pooling on CPU (see nn_pool.h): the common case of the encoders,
// without data-dependent branches. A window's four values a b / c d (scan order) are
// reduced as a tournament, (a, b) and (c, d) and then the two winners, where a later value
// q takes over an earlier p iff q > p or q is NaN and p is not: the winner is the first
// NaN if any, else the first maximum (the rule of the generic scan, since a NaN never
// loses and ties keep the earlier value).
// Rows are short (14 or 7 windows in the encoders), so the AVX-512 and AVX2 row kernels
// are written with intrinsics: even / odd columns split by permutes; AVX-512 row tails
// by masked loads and stores, AVX2 ones (whose masked stores are slow on some CPUs) by
// the scalar row. The baseline row kernels are plain loops with bit-mask
// selects (same results).

#include <cstdint>
#include <cstring>

#include "kernels/cpu/fsq_simd.h"
#include "kernels/cpu/nn_pool.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define VQ_POOL_X86 1
#endif

namespace vq::cpu {
namespace {

// Scalar rows, branch-free by construction: comparisons become all-ones / zero masks,
// selects are bit operations (a plain ?: on floats may compile to a jump).
inline uint32_t fbits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float bitsf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
// All-ones iff q (later in scan order) takes over from p: q > p, or q NaN and p not.
inline uint32_t takes(float q, float p) {
  return 0u - static_cast<uint32_t>((q > p) | ((q != q) & (p == p)));
}
inline float pick(uint32_t m, float p, float q) { return bitsf((fbits(p) & ~m) | (fbits(q) & m)); }

// One output row over input rows r0, r1 (row = flat index of r0[0] in the plane).
void forward_row_base(float* __restrict yr, int64_t* __restrict ir, const float* __restrict r0,
                      const float* __restrict r1, int64_t W, int64_t Wo, int64_t row) {
  const uint32_t w = static_cast<uint32_t>(W);
  for (int64_t j = 0; j < Wo; ++j) {
    const float a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];
    const uint32_t tb = takes(b, a), td = takes(d, c);
    const float m01 = pick(tb, a, b), m23 = pick(td, c, d);
    const uint32_t t = takes(m23, m01);
    const uint32_t off = ((1u & tb) & ~t) | ((w + (1u & td)) & t);
    yr[j] = pick(t, m01, m23);
    ir[j] = row + 2 * j + static_cast<int64_t>(off);
  }
}

// One output row of the backward: writes dx rows r0 and r1 (not an odd last column);
// returns the number of windows whose index lies in the window's block.
int64_t backward_row_base(float* __restrict r0, float* __restrict r1, const float* __restrict gr,
                          const int64_t* __restrict ir, int64_t W, int64_t Wo, int64_t row) {
  int64_t hits = 0;
  for (int64_t j = 0; j < Wo; ++j) {
    const int64_t k = ir[j] - (row + 2 * j);
    const uint32_t g = fbits(0.f + gr[j]);  // the scatter adds onto 0 (-0 becomes +0)
    const uint32_t k0 = 0u - static_cast<uint32_t>(k == 0), k1 = 0u - static_cast<uint32_t>(k == 1);
    const uint32_t k2 = 0u - static_cast<uint32_t>(k == W),
                   k3 = 0u - static_cast<uint32_t>(k == W + 1);
    r0[2 * j] = bitsf(g & k0);
    r0[2 * j + 1] = bitsf(g & k1);
    r1[2 * j] = bitsf(g & k2);
    r1[2 * j + 1] = bitsf(g & k3);
    hits += (k0 | k1 | k2 | k3) & 1u;
  }
  return hits;
}

#ifdef VQ_POOL_X86
#define VQ_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#define VQ_AVX2 __attribute__((target("avx2,fma")))

VQ_AVX512 inline __mmask16 takes16(__m512 q, __m512 p) {
  return _mm512_cmp_ps_mask(q, p, _CMP_GT_OQ) |
         (_mm512_cmp_ps_mask(q, q, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(p, p, _CMP_ORD_Q));
}
// Mask of the first n lanes, n in [0, 16].
VQ_AVX512 inline __mmask16 first16(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1u);
}

VQ_AVX512 void forward_row_avx512(float* yr, int64_t* ir, const float* r0, const float* r1,
                                  int64_t W, int64_t Wo, int64_t row) {
  const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512i lane2 = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512i one = _mm512_set1_epi32(1), w0 = _mm512_set1_epi32(static_cast<int32_t>(W)),
                w1 = _mm512_set1_epi32(static_cast<int32_t>(W + 1));
  for (int64_t j = 0; j < Wo; j += 16) {
    const int64_t m = Wo - j < 16 ? Wo - j : 16;
    const __mmask16 lo = first16(2 * m), hi = first16(2 * m - 16), out = first16(m);
    const __m512 t0 = _mm512_maskz_loadu_ps(lo, r0 + 2 * j),
                 t1 = _mm512_maskz_loadu_ps(hi, r0 + 2 * j + 16);
    const __m512 b0 = _mm512_maskz_loadu_ps(lo, r1 + 2 * j),
                 b1 = _mm512_maskz_loadu_ps(hi, r1 + 2 * j + 16);
    const __m512 a = _mm512_permutex2var_ps(t0, ev, t1), b = _mm512_permutex2var_ps(t0, od, t1);
    const __m512 c = _mm512_permutex2var_ps(b0, ev, b1), d = _mm512_permutex2var_ps(b0, od, b1);
    const __mmask16 tb = takes16(b, a), td = takes16(d, c);
    const __m512 m01 = _mm512_mask_blend_ps(tb, a, b), m23 = _mm512_mask_blend_ps(td, c, d);
    const __mmask16 t = takes16(m23, m01);
    const __m512i o01 = _mm512_maskz_mov_epi32(tb, one), o23 = _mm512_mask_blend_epi32(td, w0, w1);
    const __m512i off = _mm512_mask_blend_epi32(t, o01, o23);
    const __m512i base = _mm512_add_epi64(_mm512_set1_epi64(row + 2 * j), lane2);
    // (The zero-masking forms: GCC 12 warns about the undefined upper lanes of the others.)
    const __m512i i0 = _mm512_add_epi64(
        base, _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xF, off, 0)));
    const __m512i i1 = _mm512_add_epi64(
        _mm512_add_epi64(base, _mm512_set1_epi64(16)),
        _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xF, off, 1)));
    _mm512_mask_storeu_ps(yr + j, out, _mm512_mask_blend_ps(t, m01, m23));
    _mm512_mask_storeu_epi64(ir + j, static_cast<__mmask8>(out), i0);
    _mm512_mask_storeu_epi64(ir + j + 8, static_cast<__mmask8>(out >> 8), i1);
  }
}

VQ_AVX512 int64_t backward_row_avx512(float* r0, float* r1, const float* gr, const int64_t* ir,
                                      int64_t W, int64_t Wo, int64_t row) {
  const __m512i inter_lo =
      _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i inter_hi =
      _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const __m512i lane2 = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512i k1v = _mm512_set1_epi64(1), kw = _mm512_set1_epi64(W),
                kw1 = _mm512_set1_epi64(W + 1);
  int64_t hits = 0;
  for (int64_t j = 0; j < Wo; j += 16) {
    const int64_t m = Wo - j < 16 ? Wo - j : 16;
    const __mmask16 lo = first16(2 * m), hi = first16(2 * m - 16), in = first16(m);
    const __m512 g = _mm512_add_ps(_mm512_setzero_ps(), _mm512_maskz_loadu_ps(in, gr + j));
    const __m512i base = _mm512_add_epi64(_mm512_set1_epi64(row + 2 * j), lane2);
    const __m512i k0 =
        _mm512_sub_epi64(_mm512_maskz_loadu_epi64(static_cast<__mmask8>(in), ir + j), base);
    const __m512i k8 =
        _mm512_sub_epi64(_mm512_maskz_loadu_epi64(static_cast<__mmask8>(in >> 8), ir + j + 8),
                         _mm512_add_epi64(base, _mm512_set1_epi64(16)));
    auto eq = [&](__m512i v) VQ_AVX512 {
      return static_cast<__mmask16>(_mm512_cmpeq_epi64_mask(k0, v) |
                                    (static_cast<unsigned>(_mm512_cmpeq_epi64_mask(k8, v)) << 8));
    };
    const __mmask16 e0 = eq(_mm512_setzero_si512()) & in, e1 = eq(k1v) & in, e2 = eq(kw) & in,
                    e3 = eq(kw1) & in;
    hits += __builtin_popcount(static_cast<unsigned>(e0 | e1 | e2 | e3));
    const __m512 te = _mm512_maskz_mov_ps(e0, g), to = _mm512_maskz_mov_ps(e1, g);
    const __m512 be = _mm512_maskz_mov_ps(e2, g), bo = _mm512_maskz_mov_ps(e3, g);
    _mm512_mask_storeu_ps(r0 + 2 * j, lo, _mm512_permutex2var_ps(te, inter_lo, to));
    _mm512_mask_storeu_ps(r0 + 2 * j + 16, hi, _mm512_permutex2var_ps(te, inter_hi, to));
    _mm512_mask_storeu_ps(r1 + 2 * j, lo, _mm512_permutex2var_ps(be, inter_lo, bo));
    _mm512_mask_storeu_ps(r1 + 2 * j + 16, hi, _mm512_permutex2var_ps(be, inter_hi, bo));
  }
  return hits;
}

VQ_AVX2 inline __m256 takes8(__m256 q, __m256 p) {
  return _mm256_or_ps(
      _mm256_cmp_ps(q, p, _CMP_GT_OQ),
      _mm256_and_ps(_mm256_cmp_ps(q, q, _CMP_UNORD_Q), _mm256_cmp_ps(p, p, _CMP_ORD_Q)));
}
// [e0 e2 e4 e6 e8 e10 e12 e14] and the odd ones of the 16 floats lo:hi.
VQ_AVX2 inline __m256 evens8(__m256 lo, __m256 hi) {
  return _mm256_castpd_ps(
      _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xD8));
}
VQ_AVX2 inline __m256 odds8(__m256 lo, __m256 hi) {
  return _mm256_castpd_ps(
      _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), 0xD8));
}

VQ_AVX2 void forward_row_avx2(float* yr, int64_t* ir, const float* r0, const float* r1, int64_t W,
                              int64_t Wo, int64_t row) {
  const __m256 one = _mm256_castsi256_ps(_mm256_set1_epi32(1));
  const __m256 w0 = _mm256_castsi256_ps(_mm256_set1_epi32(static_cast<int32_t>(W)));
  const __m256 w1 = _mm256_castsi256_ps(_mm256_set1_epi32(static_cast<int32_t>(W + 1)));
  const __m256i lane2 = _mm256_setr_epi64x(0, 2, 4, 6);
  int64_t j = 0;
  for (; j + 8 <= Wo; j += 8) {
    const __m256 t0 = _mm256_loadu_ps(r0 + 2 * j), t1 = _mm256_loadu_ps(r0 + 2 * j + 8);
    const __m256 b0 = _mm256_loadu_ps(r1 + 2 * j), b1 = _mm256_loadu_ps(r1 + 2 * j + 8);
    const __m256 a = evens8(t0, t1), b = odds8(t0, t1), c = evens8(b0, b1), d = odds8(b0, b1);
    const __m256 tb = takes8(b, a), td = takes8(d, c);
    const __m256 m01 = _mm256_blendv_ps(a, b, tb), m23 = _mm256_blendv_ps(c, d, td);
    const __m256 t = takes8(m23, m01);
    const __m256 y = _mm256_blendv_ps(m01, m23, t);
    const __m256i off = _mm256_castps_si256(
        _mm256_blendv_ps(_mm256_and_ps(tb, one), _mm256_blendv_ps(w0, w1, td), t));
    const __m256i base = _mm256_add_epi64(_mm256_set1_epi64x(row + 2 * j), lane2);
    const __m256i i0 = _mm256_add_epi64(base, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(off)));
    const __m256i i1 = _mm256_add_epi64(_mm256_add_epi64(base, _mm256_set1_epi64x(8)),
                                        _mm256_cvtepi32_epi64(_mm256_extracti128_si256(off, 1)));
    _mm256_storeu_ps(yr + j, y);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(ir + j), i0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(ir + j + 4), i1);
  }
  // The tail by the scalar row (AVX2 masked stores are slow on some CPUs).
  if (j < Wo) forward_row_base(yr + j, ir + j, r0 + 2 * j, r1 + 2 * j, W, Wo - j, row + 2 * j);
}

VQ_AVX2 int64_t backward_row_avx2(float* r0, float* r1, const float* gr, const int64_t* ir,
                                  int64_t W, int64_t Wo, int64_t row) {
  const __m256i lane2 = _mm256_setr_epi64x(0, 2, 4, 6);
  const __m256i low = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);  // low dwords of 4 int64
  const __m256i k1v = _mm256_set1_epi32(1), kw = _mm256_set1_epi32(static_cast<int32_t>(W)),
                kw1 = _mm256_set1_epi32(static_cast<int32_t>(W + 1));
  int64_t hits = 0, j = 0;
  for (; j + 8 <= Wo; j += 8) {
    const __m256 g = _mm256_add_ps(_mm256_setzero_ps(), _mm256_loadu_ps(gr + j));
    const __m256i base = _mm256_add_epi64(_mm256_set1_epi64x(row + 2 * j), lane2);
    const __m256i q0 =
        _mm256_sub_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(ir + j)), base);
    const __m256i q1 =
        _mm256_sub_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(ir + j + 4)),
                         _mm256_add_epi64(base, _mm256_set1_epi64x(8)));
    // k = index - block origin as int32 (exact: |k| < H * W < 2^31, checked by the caller).
    const __m256i k = _mm256_blend_epi32(_mm256_permutevar8x32_epi32(q0, low),
                                         _mm256_permutevar8x32_epi32(q1, low), 0xF0);
    const __m256 e0 = _mm256_castsi256_ps(_mm256_cmpeq_epi32(k, _mm256_setzero_si256()));
    const __m256 e1 = _mm256_castsi256_ps(_mm256_cmpeq_epi32(k, k1v));
    const __m256 e2 = _mm256_castsi256_ps(_mm256_cmpeq_epi32(k, kw));
    const __m256 e3 = _mm256_castsi256_ps(_mm256_cmpeq_epi32(k, kw1));
    hits += __builtin_popcount(static_cast<unsigned>(
        _mm256_movemask_ps(_mm256_or_ps(_mm256_or_ps(e0, e1), _mm256_or_ps(e2, e3)))));
    const __m256 te = _mm256_and_ps(e0, g), to = _mm256_and_ps(e1, g);
    const __m256 be = _mm256_and_ps(e2, g), bo = _mm256_and_ps(e3, g);
    const __m256 tl = _mm256_unpacklo_ps(te, to), th = _mm256_unpackhi_ps(te, to);
    const __m256 bl = _mm256_unpacklo_ps(be, bo), bh = _mm256_unpackhi_ps(be, bo);
    const __m256 top0 = _mm256_permute2f128_ps(tl, th, 0x20),
                 top1 = _mm256_permute2f128_ps(tl, th, 0x31);
    const __m256 bot0 = _mm256_permute2f128_ps(bl, bh, 0x20),
                 bot1 = _mm256_permute2f128_ps(bl, bh, 0x31);
    _mm256_storeu_ps(r0 + 2 * j, top0), _mm256_storeu_ps(r0 + 2 * j + 8, top1);
    _mm256_storeu_ps(r1 + 2 * j, bot0), _mm256_storeu_ps(r1 + 2 * j + 8, bot1);
  }
  if (j < Wo)  // the tail by the scalar row
    hits += backward_row_base(r0 + 2 * j, r1 + 2 * j, gr + j, ir + j, W, Wo - j, row + 2 * j);
  return hits;
}
#endif  // VQ_POOL_X86

using ForwardRow = void (*)(float*, int64_t*, const float*, const float*, int64_t, int64_t,
                            int64_t);
using BackwardRow = int64_t (*)(float*, float*, const float*, const int64_t*, int64_t, int64_t,
                                int64_t);

ForwardRow forward_row() {
#ifdef VQ_POOL_X86
  const SqSimd level = sq_simd();
  if (level == SqSimd::avx512) return forward_row_avx512;
  if (level == SqSimd::avx2) return forward_row_avx2;
#endif
  return forward_row_base;
}

BackwardRow backward_row() {
#ifdef VQ_POOL_X86
  const SqSimd level = sq_simd();
  if (level == SqSimd::avx512) return backward_row_avx512;
  if (level == SqSimd::avx2) return backward_row_avx2;
#endif
  return backward_row_base;
}

}  // namespace

void max_pool2d_2x2_forward(float* y, int64_t* idx, const float* x, int64_t planes, int64_t H,
                            int64_t W) {
  const int64_t Ho = H / 2, Wo = W / 2;
  // (The SIMD rows hold in-window offsets, at most W + 1, in int32.)
  const ForwardRow row_fn = W < (int64_t(1) << 30) ? forward_row() : forward_row_base;
#pragma omp parallel for schedule(static) if (planes * H * W > 65536)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x + pl * H * W;
    for (int64_t i = 0; i < Ho; ++i)
      row_fn(y + (pl * Ho + i) * Wo, idx + (pl * Ho + i) * Wo, xp + 2 * i * W, xp + (2 * i + 1) * W,
             W, Wo, 2 * i * W);
  }
}

bool max_pool2d_2x2_backward_plane(float* dx, const float* dy, const int64_t* idx, int64_t H,
                                   int64_t W) {
  const int64_t Ho = H / 2, Wo = W / 2;
  if (H * W >= (int64_t(1) << 31)) return false;  // the row kernels compare offsets in int32
  const BackwardRow row_fn = backward_row();
  int64_t hits = 0;
  for (int64_t i = 0; i < Ho; ++i) {
    float* r0 = dx + 2 * i * W;
    float* r1 = r0 + W;
    hits += row_fn(r0, r1, dy + i * Wo, idx + i * Wo, W, Wo, 2 * i * W);
    if (W > 2 * Wo) r0[W - 1] = r1[W - 1] = 0.f;  // odd width: the dropped column
  }
  for (int64_t p = 2 * Ho * W; p < H * W; ++p) dx[p] = 0.f;  // odd height: the last row
  return hits == Ho * Wo;
}

}  // namespace vq::cpu
