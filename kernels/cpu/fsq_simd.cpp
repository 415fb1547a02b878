// Instruction-set detection for the scalar-quantizer kernels (see fsq_simd.h).
#include "kernels/cpu/fsq_simd.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace vq::cpu {
namespace {

SqSimd detect() {
  SqSimd best = SqSimd::base;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = SqSimd::avx2;
  if (best == SqSimd::avx2 && __builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq"))
    best = SqSimd::avx512;
#endif
  if (const char* env = std::getenv("VQ_CPU_SIMD")) {
    SqSimd cap = best;
    if (std::strcmp(env, "base") == 0) cap = SqSimd::base;
    if (std::strcmp(env, "avx2") == 0) cap = SqSimd::avx2;
    if (static_cast<int>(cap) < static_cast<int>(best)) best = cap;
  }
  return best;
}

SqSimd hardware() {
  static const SqSimd level = detect();
  return level;
}

std::atomic<int> g_forced{-1};

}  // namespace

SqSimd sq_simd() {
  const int forced = g_forced.load(std::memory_order_relaxed);
  const SqSimd hw = hardware();
  if (forced >= 0 && forced < static_cast<int>(hw)) return static_cast<SqSimd>(forced);
  return hw;
}

void sq_force_simd(int level) { g_forced.store(level, std::memory_order_relaxed); }

}  // namespace vq::cpu
