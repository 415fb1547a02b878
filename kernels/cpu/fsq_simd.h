// Run-time choice of the instruction set for the scalar-quantizer CPU kernels (FSQ,
// LFQ): each hot loop is compiled three times (baseline x86-64, AVX2+FMA, AVX-512)
// and the widest one the CPU supports is used. All three produce identical bits
// (no floating-point contraction; explicit fmaf only), which a test checks.
#pragma once

namespace vq::cpu {

enum class SqSimd { base = 0, avx2 = 1, avx512 = 2 };

// The level in use: the environment variable VQ_CPU_SIMD ("base", "avx2", "avx512")
// caps it; otherwise the best the CPU supports (read once).
SqSimd sq_simd();
// Test hook: force a level (clamped to what the CPU supports); pass -1 to restore
// automatic detection. Not thread-safe with concurrent kernel calls.
void sq_force_simd(int level);

// Runs f() compiled for the chosen instruction set: f must be a lambda marked
// always_inline (`[&]() VQ_SQ_ALWAYS_INLINE { ... }`) so that its loops are inlined into,
// and vectorized for, the target-specific caller below. Files using this put
// `#pragma GCC optimize("fp-contract=off")` before their first include, so that all
// three variants (and the CUDA twin) round identically.
#if defined(__GNUC__)
#define VQ_SQ_ALWAYS_INLINE __attribute__((always_inline))
#else
#define VQ_SQ_ALWAYS_INLINE
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
template <class F>
__attribute__((target("avx2,fma"))) void sq_run_avx2(const F& f) {
  f();
}
template <class F>
__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,prefer-vector-width=512")))
void sq_run_avx512(const F& f) {
  f();
}
#endif

template <class F>
void sq_run(const F& f) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  const SqSimd level = sq_simd();
  if (level == SqSimd::avx512) return sq_run_avx512(f);
  if (level == SqSimd::avx2) return sq_run_avx2(f);
#endif
  f();
}

}  // namespace vq::cpu
