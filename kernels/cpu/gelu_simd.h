// Vectorized exact (erf form) GELU on contiguous f32 arrays, forward and backward, for
// the CPU elementwise kernels: gelu(x) = x Phi(x), gelu'(x) = Phi(x) + x phi(x), Phi the
// standard normal CDF, phi its density. Phi comes from its own approximation, not libm,
// evaluated in double and rounded to float once:
//   Phi(-u) = exp(-u^2/2) R(u) for u = |x| >= 0, R(u) = t Q(t), t = 1 / (1 + u/4),
// Q a degree-10 polynomial fitted to min-max relative error 1.6e-9 over u in [0, 16];
// exp(-u^2/2) by Cody-Waite reduction and a degree-6 polynomial (relative error 3.1e-9);
// Phi(x) = 1 - Phi(-x) for x >= 0 (no cancellation: Phi(-x) <= 1/2).
// The loops are compiled for AVX-512, AVX2+FMA and baseline x86-64 and picked at run time
// like the FSQ kernels (kernels/cpu/fsq_simd.h: VQ_CPU_SIMD caps the level,
// sq_force_simd forces it). AVX-512 and AVX2 give identical bits; the baseline (no FMA)
// can differ from them by 1 ulp.
// Accuracy against the formula evaluated in double (tests/kernels/test_gelu_simd.cpp:
// every 997th float bit pattern with |x| <= 17, a 1/2048 grid of [-17, 17], denormals;
// every 7th float of [-17, 17] offline): gelu within 0.58 ulp of the float result (denormal
// results included, test bound 1 ulp); gelu' within 1.01 ulp of max(Phi(x), |x| phi(x))
// in absolute terms (gelu' itself cancels to 0 near x = -0.752, where no float formula
// is accurate relatively; test bound 1.5).
// Special values (those of the formula x/2 (1 + erf(x/sqrt2)) in IEEE arithmetic, which
// the generic elementwise path computes): gelu(NaN) = NaN, gelu(+inf) = +inf,
// gelu(-inf) = NaN, gelu(x) = -0 for -inf < x < -16 (the value underflows), x for x > 16;
// gelu'(NaN) = gelu'(+-inf) = NaN (like torch), -0 for -inf < x < -16, 1 for 16 < x < inf.
#pragma once
#include <cstdint>

namespace vq::cpu {

// y[i] = gelu(x[i]) for i < n; f32, contiguous, y may equal x (in place), otherwise the
// arrays must not overlap. OpenMP over chunks when n is large. Never throws.
void gelu_forward_f32(float* y, const float* x, int64_t n);

// dx[i] = g[i] * gelu'(x[i]) for i < n; f32, contiguous; dx may equal g or x, otherwise no
// overlap. OpenMP over chunks when n is large. Never throws.
void gelu_backward_f32(float* dx, const float* g, const float* x, int64_t n);

// One element of each, the baseline level's bits (within 1 ulp of the array kernels).
float gelu_f32(float x);
float gelu_grad_f32(float x);

}  // namespace vq::cpu
