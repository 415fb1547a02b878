// Internal SIMD building blocks of the CPU nearest-code kernels (nearest_code*.cpp):
// a vectorized running argmin over one scratch row and the register-tiled small-D
// panel kernel, each compiled for AVX-512F and AVX2+FMA with function target attributes
// and a scalar version. Not part of the public kernel API.
#pragma once
#include <cstdint>

#include "kernels/cpu/nearest_code.h"

namespace vq::cpu::detail {

// Width of a codebook panel (codes per panel) in the small-D layout.
constexpr int kPanel = 16;

// For each of `rows` rows r of s (row stride ld): best[r] = min_k (bias[k] + s[r, k]) and
// idx[r] = its k (lowest k on ties). K >= 1.
void argmin_rows(int64_t* idx, float* best, const float* s, int64_t ld, const float* bias,
                 int64_t rows, int64_t K, SimdLevel lvl);

// Small-D panel kernel. W holds panels of kPanel codes, panel p = W + p * D * kPanel laid
// out [D][kPanel] (already scaled by -2 or -1); B [P * kPanel] the per-code bias (+inf
// for padding codes). For each of `rows` rows of x (stride D), folds panels [p0, p1)
// into the per-lane running state minv/mini [rows][kPanel] (lane j of panel p is code
// p * kPanel + j; the AVX2 kernel uses lanes 0..7 only, covering a panel as two halves).
// Strictly-smaller updates, so each lane keeps its lowest index on ties.
void small_d_panels(float* minv, int32_t* mini, const float* x, int64_t rows, int64_t D,
                    const float* W, const float* B, int64_t p0, int64_t p1, SimdLevel lvl);

// Lanes a kernel of this level uses in the state of small_d_panels.
inline int small_d_lanes(SimdLevel lvl) { return lvl == SimdLevel::avx512 ? 16 : 8; }

}  // namespace vq::cpu::detail
