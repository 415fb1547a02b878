// Portable instantiation of the direct convolution loops (conv_direct_kernels.h) for
// CPUs without AVX2: "registers" of 8 floats in plain arrays, which the compiler turns
// into SSE code; forward tiles of 4 channels x 8 positions.
#include <cstdint>

#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/conv_wino.h"

namespace vq::cpu::conv_direct {
namespace {

struct V {
  struct reg {
    float v[8];
  };
  static constexpr int kWidth = 8;
  static inline reg zero() { return set1(0.f); }
  static inline reg set1(float f) {
    reg r;
    for (int i = 0; i < 8; ++i) r.v[i] = f;
    return r;
  }
  static inline reg load(const float* p) {
    reg r;
    for (int i = 0; i < 8; ++i) r.v[i] = p[i];
    return r;
  }
  static inline void store(float* p, const reg& r) {
    for (int i = 0; i < 8; ++i) p[i] = r.v[i];
  }
  static inline reg fma(const reg& a, const reg& b, const reg& c) {
    reg r;
    for (int i = 0; i < 8; ++i) r.v[i] = a.v[i] * b.v[i] + c.v[i];
    return r;
  }
  static inline reg add(const reg& a, const reg& b) {
    reg r;
    for (int i = 0; i < 8; ++i) r.v[i] = a.v[i] + b.v[i];
    return r;
  }
  static inline reg sub(const reg& a, const reg& b) {
    reg r;
    for (int i = 0; i < 8; ++i) r.v[i] = a.v[i] - b.v[i];
    return r;
  }
  static inline float hsum(const reg& r) {
    return ((r.v[0] + r.v[1]) + (r.v[2] + r.v[3])) + ((r.v[4] + r.v[5]) + (r.v[6] + r.v[7]));
  }
};

}  // namespace
}  // namespace vq::cpu::conv_direct

#include "kernels/cpu/conv_direct_kernels.h"
#include "kernels/cpu/conv_wino_kernels.h"

namespace vq::cpu::conv_direct {

void fwd_scalar(const FwdArgs& a) {
  if (a.O > 0 && a.O < 4)
    fwd_narrow<V, 2>(a);
  else
    fwd_all<V, 4, 1>(a);
}

void dw_scalar(const DwArgs& a) {
  if (a.T % 3 == 0)
    dw_all<V, 1, 3>(a);
  else
    dw_all<V, 2, 1>(a);
}

void wino_in_scalar(const WinoInArgs& a) { wino_in_all<V>(a); }

void l16_gather_scalar(float* dst, const float* const* src, int64_t n) {
  for (int64_t j = 0; j < n; ++j)
    for (int64_t l = 0; l < kWinoLanes; ++l) dst[j * kWinoLanes + l] = src[l][j];
}

void l16_scatter_scalar(float* const* dst, const float* src, int64_t n, int64_t lanes) {
  for (int64_t l = 0; l < lanes; ++l)
    for (int64_t j = 0; j < n; ++j) dst[l][j] = src[j * kWinoLanes + l];
}
void wino_dy_scalar(const WinoDyArgs& a) { wino_dy_all<V>(a); }
void wino_fwd_scalar(const WinoFwdArgs& a) { wino_fwd_all<V, 4, 1>(a); }

}  // namespace vq::cpu::conv_direct
