// Vectorized exact GELU forward / backward (see gelu_simd.h). The element formula is
// written once (gelu_core and the two element functions) as branch-free scalar code;
// loops over tiles of kTile elements call it and are compiled for AVX-512 and AVX2+FMA
// (function target attributes via sq_run_avx512 / sq_run_avx2 of kernels/cpu/fsq_simd.h,
// multiply-adds fused) and for baseline x86-64 (separate multiply and add, since fma()
// would be a library call there). Each tile is computed into a local buffer and copied
// out, so the output may alias an input without restrict violations.
// No contraction into FMA beyond the explicit ones, and no trapping math (the selects of
// both computed sides must be if-converted for the loop to vectorize; results are the
// same, only floating-point exception flags could differ). Set before any include.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off", "no-trapping-math")
#endif

#include "kernels/cpu/gelu_simd.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/fsq_simd.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VQ_GELU_MULTIVERSION 1
#endif

namespace vq::cpu {
namespace {

constexpr int64_t kTile = 512;             // elements per tile (2 KiB stack buffer)
constexpr int64_t kParallelMin = 1 << 16;  // elements; below this one thread
constexpr int64_t kChunk = 1 << 14;        // elements per parallel work item

constexpr float kUMax = 16.f;  // |x| beyond which gelu(x) in float is -0 or x
// R(u) = Phi(-u) exp(u^2/2) = t (c0 + c1 t + ... + c10 t^10), t = 1 / (1 + u/4); min-max
// relative error 1.6e-9 over [0, 16] (fitted to the function evaluated with mpmath).
constexpr double kR0 = 0.099728909381700634, kR1 = 0.099904118395435171, kR2 = 0.091632041053817351,
                 kR3 = 0.09302188450405334, kR4 = 0.014321949705025604, kR5 = 0.17819082701026451,
                 kR6 = -0.22678121456552647, kR7 = 0.3140610974031966, kR8 = -0.23519359790806038,
                 kR9 = 0.082037943800954333, kR10 = -0.010923957986252033;
// exp(r) = 1 + r + r^2 (e0 + e1 r + ... + e4 r^4) for |r| <= ln2 / 2: min-max relative
// error 3.1e-9.
constexpr double kE0 = 0.49999993432037448, kE1 = 0.1666652039822567, kE2 = 0.041668390801974549,
                 kE3 = 0.0083687451848374356, kE4 = 0.0013814539294942779;
constexpr double kLog2e = 1.4426950408889634;
constexpr double kLn2Hi = 6.93147180369123816490e-01;  // 0x3fe62e42fee00000: k kLn2Hi exact
constexpr double kLn2Lo = 1.90821492927058770002e-10;  // ln 2 - kLn2Hi
constexpr double kMagic = 6755399441055744.0;          // 1.5 * 2^52: + kMagic rounds to integer
constexpr double kInvSqrt2Pi = 0.398942280401432678;

inline VQ_SQ_ALWAYS_INLINE double bits_to_double(uint64_t u) {
  double f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
inline VQ_SQ_ALWAYS_INLINE uint64_t double_to_bits(double f) {
  uint64_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// a * b + c, fused on the FMA levels.
template <bool kFma>
inline VQ_SQ_ALWAYS_INLINE double madd(double a, double b, double c) {
  if constexpr (kFma)
    return __builtin_fma(a, b, c);
  else
    return a * b + c;
}

// The pieces shared by forward and backward for one element x, in double (every
// intermediate is a normal double, u^2 is exact, and each float result is rounded once
// at the end): uc = min(|x|, kUMax), R = R(uc), ex = exp(-uc^2/2); so Phi(-uc) = R ex and
// phi(uc) = ex / sqrt(2 pi).
struct GeluCore {
  double uc, R, ex;
};

template <bool kFma>
inline VQ_SQ_ALWAYS_INLINE GeluCore gelu_core(float x) {
  GeluCore c;
  const float u = std::fabs(x);
  const double uc = u < kUMax ? u : kUMax;  // NaN -> kUMax (callers select NaN results)
  c.uc = uc;
  const double t = 1.0 / (1.0 + 0.25 * uc);
  double q = kR10;
  q = madd<kFma>(q, t, kR9);
  q = madd<kFma>(q, t, kR8);
  q = madd<kFma>(q, t, kR7);
  q = madd<kFma>(q, t, kR6);
  q = madd<kFma>(q, t, kR5);
  q = madd<kFma>(q, t, kR4);
  q = madd<kFma>(q, t, kR3);
  q = madd<kFma>(q, t, kR2);
  q = madd<kFma>(q, t, kR1);
  q = madd<kFma>(q, t, kR0);
  c.R = q * t;
  // exp(-h), h = uc^2 / 2 (exact, in [0, 128]) = n ln2 - r with |r| <= ln2 / 2: exp(-r)
  // times 2^n, n in [-185, 0].
  const double h = 0.5 * (uc * uc);
  const double kf_m = madd<kFma>(h, -kLog2e, kMagic);
  const int64_t n = static_cast<int64_t>(double_to_bits(kf_m) - double_to_bits(kMagic));
  const double kf = kf_m - kMagic;
  const double r = (kf * -kLn2Hi - h) - kf * kLn2Lo;  // the first difference is exact
  double e = kE4;
  e = madd<kFma>(e, r, kE3);
  e = madd<kFma>(e, r, kE2);
  e = madd<kFma>(e, r, kE1);
  e = madd<kFma>(e, r, kE0);
  const double p = 1.0 + madd<kFma>(r * r, e, r);
  c.ex = p * bits_to_double(static_cast<uint64_t>(n + 1023) << 52);
  return c;
}

// gelu(x) = x Phi(x): x Phi(-|x|) for x < 0, x (1 - Phi(-x)) for x >= 0, rounded once.
// Both sides of every select are computed first (branch-free, so the loop vectorizes).
template <bool kFma>
inline VQ_SQ_ALWAYS_INLINE float gelu_elem(float x) {
  const GeluCore c = gelu_core<kFma>(x);
  const bool neg = x < 0.f;
  const double e = c.R * c.ex, one_minus_e = 1.0 - e;
  const float y = static_cast<float>(static_cast<double>(x) * (neg ? e : one_minus_e));
  // |x| > kUMax, inf and NaN: -0 below -kUMax, x above it, NaN at -inf (-inf * 0) and NaN.
  const float x0 = x * 0.f;
  const float big = neg ? x0 : x;
  return std::fabs(x) <= kUMax ? y : big;
}

// g gelu'(x), gelu'(x) = Phi(x) + x phi(x), rounded once. With w = u phi(u) - Phi(-u) =
// (u / sqrt(2 pi) - R) ex: x < 0 gives Phi(-u) - u phi(u) = -w, x >= 0 gives
// 1 - Phi(-u) + u phi(u) = 1 + w.
template <bool kFma>
inline VQ_SQ_ALWAYS_INLINE float gelu_grad_elem(float g, float x) {
  const GeluCore c = gelu_core<kFma>(x);
  const bool neg = x < 0.f;
  const double w = madd<kFma>(c.uc, kInvSqrt2Pi, -c.R) * c.ex;
  const double minus_w = -w, one_plus_w = 1.0 + w;
  const float d = static_cast<float>(static_cast<double>(g) * (neg ? minus_w : one_plus_w));
  // |x| > kUMax: gelu' is -0 below, 1 above; NaN for +-inf (x * 0) and NaN.
  const float x0 = x * 0.f, one_x0 = 1.f + x0;
  const float big = g * (neg ? x0 : one_x0);
  return std::fabs(x) <= kUMax ? d : big;
}

template <bool kFma>
inline VQ_SQ_ALWAYS_INLINE void forward_tiles(float* y, const float* x, int64_t n) {
  for (int64_t i0 = 0; i0 < n; i0 += kTile) {
    const int64_t m = n - i0 < kTile ? n - i0 : kTile;
    float buf[kTile];
    const float* xs = x + i0;
    for (int64_t i = 0; i < m; ++i) buf[i] = gelu_elem<kFma>(xs[i]);
    std::memcpy(y + i0, buf, static_cast<size_t>(m) * sizeof(float));
  }
}

template <bool kFma>
inline VQ_SQ_ALWAYS_INLINE void backward_tiles(float* dx, const float* g, const float* x,
                                               int64_t n) {
  for (int64_t i0 = 0; i0 < n; i0 += kTile) {
    const int64_t m = n - i0 < kTile ? n - i0 : kTile;
    float buf[kTile];
    const float* gs = g + i0;
    const float* xs = x + i0;
    for (int64_t i = 0; i < m; ++i) buf[i] = gelu_grad_elem<kFma>(gs[i], xs[i]);
    std::memcpy(dx + i0, buf, static_cast<size_t>(m) * sizeof(float));
  }
}

// Runs body.template operator()<kFma>(begin, count) over [0, n) in chunks, in parallel
// when n is large, at the instruction-set level chosen once per call.
template <typename Body>
void run_chunks(int64_t n, const Body& body) {
  if (n <= 0) return;
#ifdef VQ_GELU_MULTIVERSION
  const SqSimd level = sq_simd();
#endif
  const int64_t nchunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t ch = 0; ch < nchunks; ++ch) {
    const int64_t b = ch * kChunk, m = n - b < kChunk ? n - b : kChunk;
#ifdef VQ_GELU_MULTIVERSION
    if (level == SqSimd::avx512) {
      sq_run_avx512([&]() VQ_SQ_ALWAYS_INLINE { body.template operator()<true>(b, m); });
      continue;
    }
    if (level == SqSimd::avx2) {
      sq_run_avx2([&]() VQ_SQ_ALWAYS_INLINE { body.template operator()<true>(b, m); });
      continue;
    }
#endif
    body.template operator()<false>(b, m);
  }
}

struct ForwardBody {
  float* y;
  const float* x;
  template <bool kFma>
  VQ_SQ_ALWAYS_INLINE void operator()(int64_t b, int64_t m) const {
    forward_tiles<kFma>(y + b, x + b, m);
  }
};

struct BackwardBody {
  float* dx;
  const float* g;
  const float* x;
  template <bool kFma>
  VQ_SQ_ALWAYS_INLINE void operator()(int64_t b, int64_t m) const {
    backward_tiles<kFma>(dx + b, g + b, x + b, m);
  }
};

}  // namespace

void gelu_forward_f32(float* y, const float* x, int64_t n) { run_chunks(n, ForwardBody{y, x}); }

void gelu_backward_f32(float* dx, const float* g, const float* x, int64_t n) {
  run_chunks(n, BackwardBody{dx, g, x});
}

float gelu_f32(float x) { return gelu_elem<false>(x); }
float gelu_grad_f32(float x) { return gelu_grad_elem<false>(1.f, x); }

}  // namespace vq::cpu
