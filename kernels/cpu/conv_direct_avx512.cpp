// AVX-512 instantiation of the direct convolution loops (conv_direct_kernels.h):
// 16 floats per register; forward tiles of 8 channels x 48 positions (24 accumulators),
// weight-gradient tiles of 3 channels x 9 taps on 256-bit registers (unaligned loads),
// 6 channels x 4 taps on 512-bit ones when the loads are aligned (Winograd).
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/conv_wino.h"

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx2,fma")

namespace vq::cpu::conv_direct {
namespace {

// Lane indices 8 .. 15; minus 4, 6, 7 they start 4 .. 7, 2 .. 3, 1: the lanes folded
// onto the first half, quarter, eighth and sixteenth (the other lanes are don't-care).
alignas(64) constexpr int32_t kFold8[16] = {8, 9, 10, 11, 12, 13, 14, 15, 0, 0, 0, 0, 0, 0, 0, 0};

struct V {
  using reg = __m512;
  static constexpr int kWidth = 16;
  static inline reg zero() { return _mm512_setzero_ps(); }
  static inline reg set1(float f) { return _mm512_set1_ps(f); }
  static inline reg load(const float* p) { return _mm512_loadu_ps(p); }
  static inline void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static inline reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static inline reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static inline reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  static inline float hsum(reg v) {
    // halves, quarters, ... folded with lane permutes (GCC 12's 512 -> 256 bit casts
    // and extracts, and unmasked permutes, warn with -Wuninitialized)
    const __m512i z = _mm512_setzero_si512();
    const __m512i idx8 = _mm512_mask_loadu_epi32(z, 0x00FF, kFold8);
    const int shift[4] = {0, 4, 6, 7};
    for (int k = 0; k < 4; ++k) {
      const __m512i idx = _mm512_sub_epi32(idx8, _mm512_set1_epi32(shift[k]));
      v = _mm512_add_ps(v, _mm512_maskz_permutexvar_ps(0xFFFF, idx, v));
    }
    return _mm512_cvtss_f32(v);
  }
};

// 256-bit registers, all 32 of them (EVEX): the weight-gradient loop is bound by
// unaligned loads, which cost less at this width on AVX-512 CPUs that split 512-bit
// operations (AMD Zen 4), while its 27 accumulators still fit.
struct V8 {
  using reg = __m256;
  static constexpr int kWidth = 8;
  static inline reg zero() { return _mm256_setzero_ps(); }
  static inline reg set1(float f) { return _mm256_set1_ps(f); }
  static inline reg load(const float* p) { return _mm256_loadu_ps(p); }
  static inline void store(float* p, reg v) { _mm256_storeu_ps(p, v); }
  static inline reg fma(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static inline float hsum(reg v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }
};

// In-register transpose of 16 rows of 16 floats (r[i][j] -> r[j][i]). GCC 12's
// shuffle intrinsics start from an "undefined" register, which -Wuninitialized flags.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
  }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
  }
}
#pragma GCC diagnostic pop

}  // namespace
}  // namespace vq::cpu::conv_direct

#include "kernels/cpu/conv_direct_kernels.h"
#include "kernels/cpu/conv_wino_kernels.h"

namespace vq::cpu::conv_direct {

void fwd_avx512(const FwdArgs& a) {
  if (a.O > 0 && a.O < 4)
    fwd_narrow<V, 6>(a);
  else if (a.O4 % 8 == 0)
    fwd_all<V, 8, 3>(a);
  else
    fwd_all<V, 4, 6>(a);
}

void dw_avx512(const DwArgs& a) {
  if (a.aligned) {
    if (a.T % 4 == 0)
      dw_all<V, 6, 4>(a);
    else if (a.T % 3 == 0)
      dw_all<V, 6, 3>(a);
    else
      dw_all<V, 8, 1>(a);
    return;
  }
  if (a.T % 9 == 0)
    dw_all<V8, 3, 9>(a);
  else if (a.T % 4 == 0)
    dw_all<V8, 6, 4>(a);
  else if (a.T % 3 == 0)
    dw_all<V8, 6, 3>(a);
  else
    dw_all<V8, 8, 1>(a);
}

void wino_in_avx512(const WinoInArgs& a) { wino_in_all<V>(a); }

void l16_gather_avx512(float* dst, const float* const* src, int64_t n) {
  for (int64_t j0 = 0; j0 < n; j0 += 16) {
    const int64_t m = n - j0 < 16 ? n - j0 : 16;
    const __mmask16 mask = static_cast<__mmask16>((1u << m) - 1u);
    __m512 r[16];
    for (int l = 0; l < 16; ++l) r[l] = _mm512_maskz_loadu_ps(mask, src[l] + j0);
    transpose16(r);
    for (int64_t j = 0; j < m; ++j) _mm512_storeu_ps(dst + (j0 + j) * 16, r[j]);
  }
}

void l16_scatter_avx512(float* const* dst, const float* src, int64_t n, int64_t lanes) {
  for (int64_t j0 = 0; j0 < n; j0 += 16) {
    const int64_t m = n - j0 < 16 ? n - j0 : 16;
    const __mmask16 mask = static_cast<__mmask16>((1u << m) - 1u);
    __m512 r[16];
    for (int64_t j = 0; j < 16; ++j)
      r[j] = j < m ? _mm512_loadu_ps(src + (j0 + j) * 16) : _mm512_setzero_ps();
    transpose16(r);
    for (int64_t l = 0; l < lanes; ++l) _mm512_mask_storeu_ps(dst[l] + j0, mask, r[l]);
  }
}
void wino_dy_avx512(const WinoDyArgs& a) { wino_dy_all<V>(a); }
void wino_fwd_avx512(const WinoFwdArgs& a) { wino_fwd_all<V, 8, 3>(a); }

}  // namespace vq::cpu::conv_direct

#pragma GCC pop_options
#else
namespace vq::cpu::conv_direct {
void fwd_avx512(const FwdArgs& a) { fwd_scalar(a); }
void dw_avx512(const DwArgs& a) { dw_scalar(a); }
void wino_in_avx512(const WinoInArgs& a) { wino_in_scalar(a); }
void l16_gather_avx512(float* dst, const float* const* src, int64_t n) {
  l16_gather_scalar(dst, src, n);
}
void l16_scatter_avx512(float* const* dst, const float* src, int64_t n, int64_t lanes) {
  l16_scatter_scalar(dst, src, n, lanes);
}
void wino_dy_avx512(const WinoDyArgs& a) { wino_dy_scalar(a); }
void wino_fwd_avx512(const WinoFwdArgs& a) { wino_fwd_scalar(a); }
}  // namespace vq::cpu::conv_direct
#endif
