// Per-element math of the scalar quantizers (FSQ, LFQ), shared by the CPU kernels
// (kernels/cpu/fsq.cpp, lfq.cpp) and their CUDA twins (kernels/cuda/fsq.cu, lfq.cu), so
// that both backends run the same float operations in the same order:
//  - fast_tanh: a vectorizable tanh, max error 1 ulp over every float (checked
//    exhaustively against (float)tanh((double)x); see docs/quantizers/fsq.md);
//  - exact_tanh: (float)tanh((double)x), the correctly rounded value (parity mode);
//  - the FSQ bound/round/normalize element function and its derivative.
// Host code that includes this header must be compiled without floating-point
// contraction (the CPU kernel files say `#pragma GCC optimize("fp-contract=off")`);
// device code uses the explicitly rounded __fmul_rn/__fadd_rn intrinsics. Explicit
// fused multiply-adds are written as fmaf() on both sides.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/philox.h"  // VQ_HD

namespace vq::cpu {

// ---- arithmetic that is never contracted into FMA (same bits on host and device) ----
VQ_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
VQ_HD float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
VQ_HD float sub_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
VQ_HD float div_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
VQ_HD double dmul_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
VQ_HD double dadd_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
VQ_HD float bits_to_float(int32_t i) {
#if defined(__CUDA_ARCH__)
  return __int_as_float(i);
#else
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
#endif
}
// Round half to even (torch.round); floor.
VQ_HD float round_even(float x) {
#if defined(__CUDA_ARCH__)
  return rintf(x);
#else
  return std::nearbyint(x);
#endif
}
// floor via round-to-nearest (vectorizes without -fno-trapping-math; exact for every
// float: the nearest integer exceeds x by at most 0.5, then one step down).
VQ_HD float floor_f(float x) {
  const float r = round_even(x);
  return r > x ? sub_rn(r, 1.f) : r;
}

// tanh with max error 1 ulp (max abs error 8.6e-8) for every finite float; NaN -> NaN,
// +-inf -> +-1, -0 -> -0. Two branches, both evaluated (branch-free for SIMD):
//  |x| < 0.6:  x + x^3 P(x^2), P a degree-4 minimax fit (relative error 2.8e-9);
//  |x| >= 0.6: 1 - 2 / (1 + exp(2|x|)), exp(y) = 2^k * Taylor7(r), y = k ln2 + r,
//              |r| <= ln2/2 (Cody-Waite split of ln2), |x| clamped at 10 (tanh(10)
//              rounds to 1 in float).
VQ_HD float fast_tanh(float x) {
  const float ax = fabsf(x);
  const float a = ax > 10.0f ? 10.0f : ax;  // NaN compares false and propagates
  const float s = mul_rn(a, a);
  float p = fmaf(-0.005895157483732003f, s, 0.020795971295489823f);
  p = fmaf(p, s, -0.053783830210692794f);
  p = fmaf(p, s, 0.13331924126384703f);
  p = fmaf(p, s, -0.3333329800211799f);
  const float small = fmaf(mul_rn(a, s), p, a);
  const float y = add_rn(a, a);
  const float k = round_even(mul_rn(y, 1.44269504088896341f));
  float r = fmaf(-k, 0.693145751953125f, y);
  r = fmaf(-k, 1.428606765330187045e-06f, r);
  float e = 1.0f / 5040.0f;
  e = fmaf(e, r, 1.0f / 720.0f);
  e = fmaf(e, r, 1.0f / 120.0f);
  e = fmaf(e, r, 1.0f / 24.0f);
  e = fmaf(e, r, 1.0f / 6.0f);
  e = fmaf(e, r, 0.5f);
  e = fmaf(e, r, 1.0f);
  e = fmaf(e, r, 1.0f);
  // 0 <= k <= 29 here, so 2^k is a normal float built from its exponent bits (NaN
  // inputs take k = 0: no undefined float-to-int conversion; the NaN flows through r).
  const int32_t ki = (k >= 0.f && k <= 30.f) ? static_cast<int32_t>(k) : 0;
  e = mul_rn(e, bits_to_float(static_cast<int32_t>(static_cast<uint32_t>(ki + 127) << 23)));
  const float large = sub_rn(1.0f, div_rn(2.0f, add_rn(1.0f, e)));
  const float t = a < 0.6f ? small : large;
  return copysignf(t, x);
}

// The correctly rounded tanh (up to double rounding, which no tested input hits).
VQ_HD float exact_tanh(float x) { return static_cast<float>(tanh(static_cast<double>(x))); }

template <bool kExact>
VQ_HD float sq_tanh(float x) {
  if constexpr (kExact) {
    return exact_tanh(x);
  } else {
    return fast_tanh(x);
  }
}

// ---- FSQ ----
// Largest code width (len(levels)) the kernels support; indices need prod(levels) < 2^63.
constexpr int kFsqMaxDim = 64;

// Per-dimension constants of FSQ, computed once on the host (fsq_make_tables in
// kernels/cpu/fsq.h) with the reference's float32 formulas, then used by both
// backends (passed by value to CUDA kernels).
struct FsqTables {
  int32_t c = 0;               // code width per codebook (len(levels))
  bool symmetric = false;      // preserve_symmetry
  bool hard_clamp = false;     // bound_hard_clamp
  int32_t levels[kFsqMaxDim];  // L_j
  int64_t basis[kFsqMaxDim];   // L_0 * ... * L_{j-1} (first dimension least significant)
  float half_l[kFsqMaxDim];    // (L-1) * (1 + 1e-3) / 2
  float offset[kFsqMaxDim];    // 0.5 for even L, else 0
  float shift[kFsqMaxDim];     // atanh(offset / half_l) (hard clamp: offset / half_l)
  float half_width[kFsqMaxDim];  // L // 2
  float inv_half_width[kFsqMaxDim];  // 1 / (L // 2), exact when L // 2 is a power of two
  float lm1[kFsqMaxDim];       // L - 1
  float sym_scale[kFsqMaxDim]; // 2 / (L - 1)
  float pre_div[kFsqMaxDim];   // input divided by this first (1 = none; ResidualFSQ scales)
  float post_mul[kFsqMaxDim];  // output multiplied by this last (1 = none)
  float r_max[kFsqMaxDim];     // largest rounded value: L//2 - 1 for even L, else L//2
};

// Noise dropout (training, preserve_symmetry): element i (flat index of the [N, W]
// input) draws Philox counter `offset + i` of `seed`: word 0 < prob * 2^32 selects it,
// word 1 gives u in [0, 1); a selected code gets u - 0.5 added, then every code is
// clamped to [-1, 1]. prob = 0 disables it.
struct FsqNoise {
  float prob = 0.f;
  uint64_t seed = 0;
  uint64_t offset = 0;
};

// The constants for one element position (dimension j of the code).
struct FsqElemConst {
  float half_l, offset, shift, half_width, lm1, sym_scale, pre_div, post_mul, r_min, r_max, inv_hw;
};

VQ_HD FsqElemConst fsq_elem_const(const FsqTables& t, int j) {
  return FsqElemConst{t.half_l[j],   t.offset[j],    t.shift[j],   t.half_width[j],
                      t.lm1[j],      t.sym_scale[j], t.pre_div[j], t.post_mul[j],
                      -t.half_width[j], t.r_max[j], t.inv_half_width[j]};
}

// Forward of one element, before noise and post_mul: the normalized code in [-1, 1]
// (straight-through form, literal reference formulas) and, in *level, the integer
// level in [0, L) as a float (exact).
//  standard:  y = tanh(z + shift) * half_l - offset;  code = (y + (round(y) - y)) / (L//2)
//  symmetric: b = (L-1) * (tanh(z) + 1) / 2 + 0.5;    code = 2/(L-1) * (b + (floor(b) - b)) - 1
// hard clamp replaces tanh by clamp(., -1, 1).
// Two flags only skip work without changing a bit: kPre = false when every pre_div is 1
// (z / 1 == z); kPow2 = true when every L // 2 is a power of two, so that dividing by it
// equals multiplying by its exact reciprocal. kPre = true, kPow2 = false is always valid.
template <bool kSym, bool kHard, bool kExact, bool kPre = true, bool kPow2 = false>
VQ_HD float fsq_code(float z, const FsqElemConst& k, float* level) {
  const float zz = kPre ? div_rn(z, k.pre_div) : z;
  if constexpr (!kSym) {
    const float v = add_rn(zz, k.shift);
    float t;
    if constexpr (kHard) {
      t = v < -1.f ? -1.f : (v > 1.f ? 1.f : v);
    } else {
      t = sq_tanh<kExact>(v);
    }
    const float y = sub_rn(mul_rn(t, k.half_l), k.offset);
    // round(y), kept inside the L levels: for L > 1001 the bound's 1e-3 margin would
    // otherwise let a saturated input round one level past the end (a reference defect,
    // docs/deviations.md); for L <= 1001 the clamp never acts.
    float r = round_even(y);
    r = r < k.r_min ? k.r_min : (r > k.r_max ? k.r_max : r);
    *level = add_rn(r, k.half_width);
    const float st = add_rn(y, sub_rn(r, y));
    return kPow2 ? mul_rn(st, k.inv_hw) : div_rn(st, k.half_width);
  } else {
    float t;
    if constexpr (kHard) {
      t = zz < -1.f ? -1.f : (zz > 1.f ? 1.f : zz);
    } else {
      t = sq_tanh<kExact>(zz);
    }
    const float b = add_rn(mul_rn(mul_rn(k.lm1, add_rn(t, 1.f)), 0.5f), 0.5f);  // (.) / 2, exactly
    const float f = floor_f(b);
    *level = f;
    return sub_rn(mul_rn(k.sym_scale, add_rn(b, sub_rn(f, b))), 1.f);
  }
}

// Noise dropout for flat element i: returns the noised, clamped code and sets *pass to
// whether the gradient passes the clamp (torch.clamp passes it at the bounds).
VQ_HD float fsq_apply_noise(float code, const FsqNoise& nz, uint64_t i, bool* pass) {
  const Philox4 r = philox4x32(nz.seed, nz.offset + i);
  float v = code;
  if (static_cast<double>(r.v[0]) < static_cast<double>(nz.prob) * 4294967296.0)
    v = add_rn(code, sub_rn(philox_uniform(r.v[1]), 0.5f));
  *pass = v >= -1.f && v <= 1.f;
  return v < -1.f ? -1.f : (v > 1.f ? 1.f : v);
}

// d code / d z times g (g = gradient of the module output, before post_mul), in the
// order torch's autograd applies it:
//  standard:  ((g * post / (L//2)) * half_l) * (1 - t^2) / pre      (t = tanh(z/pre + shift))
//  symmetric: (((g * post * 2/(L-1)) / 2) * (L-1)) * (1 - t^2) / pre (t = tanh(z/pre))
// hard clamp: the (1 - t^2) factor becomes [-1 <= v <= 1].
template <bool kSym, bool kHard, bool kExact, bool kPre = true, bool kPow2 = false>
VQ_HD float fsq_grad(float g, float z, const FsqElemConst& k) {
  const float zz = kPre ? div_rn(z, k.pre_div) : z;
  const float v = kSym ? zz : add_rn(zz, k.shift);
  float dt;
  if constexpr (kHard) {
    dt = (v >= -1.f && v <= 1.f) ? 1.f : 0.f;
  } else {
    const float t = sq_tanh<kExact>(v);
    dt = sub_rn(1.f, mul_rn(t, t));
  }
  const float gp = mul_rn(g, k.post_mul);
  float gb;
  if constexpr (!kSym) {
    gb = mul_rn(kPow2 ? mul_rn(gp, k.inv_hw) : div_rn(gp, k.half_width), k.half_l);
  } else {
    gb = mul_rn(mul_rn(mul_rn(gp, k.sym_scale), 0.5f), k.lm1);  // (.) / 2, exactly
  }
  const float dz = kHard ? (dt != 0.f ? gb : 0.f) : mul_rn(gb, dt);
  return kPre ? div_rn(dz, k.pre_div) : dz;
}

// Decode one level (integer in [0, L)) to its code, the reference's inverse map:
//  standard (level - L//2) / (L//2);  symmetric level * (2/(L-1)) - 1.
VQ_HD float fsq_level_to_code(float level, const FsqElemConst& k, bool symmetric) {
  if (symmetric) return sub_rn(mul_rn(level, k.sym_scale), 1.f);
  return div_rn(sub_rn(level, k.half_width), k.half_width);
}

}  // namespace vq::cpu
