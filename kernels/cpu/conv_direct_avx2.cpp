// AVX2+FMA instantiation of the direct convolution loops (conv_direct_kernels.h):
// 8 floats per register (16 registers); forward tiles of 4 channels x 24 positions,
// weight-gradient tiles of 1 channel x 9 taps.
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/conv_wino.h"

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")

namespace vq::cpu::conv_direct {
namespace {

struct V {
  using reg = __m256;
  static constexpr int kWidth = 8;
  static inline reg zero() { return _mm256_setzero_ps(); }
  static inline reg set1(float f) { return _mm256_set1_ps(f); }
  static inline reg load(const float* p) { return _mm256_loadu_ps(p); }
  static inline void store(float* p, reg v) { _mm256_storeu_ps(p, v); }
  static inline reg fma(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static inline reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static inline reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
  static inline float hsum(reg v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }
};

}  // namespace
}  // namespace vq::cpu::conv_direct

#include "kernels/cpu/conv_direct_kernels.h"
#include "kernels/cpu/conv_wino_kernels.h"

namespace vq::cpu::conv_direct {

void fwd_avx2(const FwdArgs& a) {
  if (a.O > 0 && a.O < 4)
    fwd_narrow<V, 6>(a);
  else
    fwd_all<V, 4, 3>(a);
}

void dw_avx2(const DwArgs& a) {
  if (a.T % 9 == 0)
    dw_all<V, 1, 9>(a);
  else if (a.T % 4 == 0)
    dw_all<V, 2, 4>(a);
  else if (a.T % 3 == 0)
    dw_all<V, 3, 3>(a);
  else
    dw_all<V, 4, 1>(a);
}

void wino_in_avx2(const WinoInArgs& a) { wino_in_all<V>(a); }
void wino_dy_avx2(const WinoDyArgs& a) { wino_dy_all<V>(a); }
void wino_fwd_avx2(const WinoFwdArgs& a) { wino_fwd_all<V, 4, 3>(a); }

}  // namespace vq::cpu::conv_direct

#pragma GCC pop_options
#else
namespace vq::cpu::conv_direct {
void fwd_avx2(const FwdArgs& a) { fwd_scalar(a); }
void dw_avx2(const DwArgs& a) { dw_scalar(a); }
void wino_in_avx2(const WinoInArgs& a) { wino_in_scalar(a); }
void wino_dy_avx2(const WinoDyArgs& a) { wino_dy_scalar(a); }
void wino_fwd_avx2(const WinoFwdArgs& a) { wino_fwd_scalar(a); }
}  // namespace vq::cpu::conv_direct
#endif
