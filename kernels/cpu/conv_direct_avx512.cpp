// AVX-512 instantiation of the direct convolution loops (conv_direct_kernels.h):
// 16 floats per register; forward tiles of 8 channels x 48 positions (24 accumulators),
// weight-gradient tiles of 3 channels x 9 taps.
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/conv_direct.h"

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx2,fma")

namespace vq::cpu::conv_direct {
namespace {

struct V {
  using reg = __m512;
  static constexpr int kWidth = 16;
  static inline reg zero() { return _mm512_setzero_ps(); }
  static inline reg set1(float f) { return _mm512_set1_ps(f); }
  static inline reg load(const float* p) { return _mm512_loadu_ps(p); }
  static inline void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static inline reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static inline float hsum(reg v) {
    // through memory: GCC 12's 512 -> 256 bit casts / extracts warn (-Wuninitialized)
    float t[16];
    _mm512_storeu_ps(t, v);
    for (int k = 0; k < 8; ++k) t[k] += t[k + 8];
    return ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7]));
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

}  // namespace
}  // namespace vq::cpu::conv_direct

#include "kernels/cpu/conv_direct_kernels.h"

namespace vq::cpu::conv_direct {

void fwd_avx512(const FwdArgs& a) {
  if (a.O4 % 8 == 0)
    fwd_all<V, 8, 3>(a);
  else
    fwd_all<V, 4, 6>(a);
}

void dw_avx512(const DwArgs& a) {
  if (a.T % 9 == 0)
    dw_all<V8, 3, 9>(a);
  else if (a.T % 4 == 0)
    dw_all<V8, 6, 4>(a);
  else if (a.T % 3 == 0)
    dw_all<V8, 6, 3>(a);
  else
    dw_all<V8, 8, 1>(a);
}

}  // namespace vq::cpu::conv_direct

#pragma GCC pop_options
#else
namespace vq::cpu::conv_direct {
void fwd_avx512(const FwdArgs& a) { fwd_scalar(a); }
void dw_avx512(const DwArgs& a) { dw_scalar(a); }
}  // namespace vq::cpu::conv_direct
#endif
