// FSQ (finite scalar quantization, arXiv 2309.15505) CPU kernels: one fused pass for
// the forward (bound with tanh or hard clamp, round half-to-even with straight-through
// value, normalize to [-1, 1], int64 index, optional noise dropout), one pass for the
// backward, and the index <-> code maps. No codebook is ever stored.
// Layout: rows of W = H * c floats (H codebooks of c = len(levels) dimensions each);
// indices are [N, H], least-significant digit first (index = sum_j level_j * basis_j).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/cpu/fsq_math.h"

namespace vq::cpu {

// The per-dimension constants (float32, the reference's formulas). pre_div / post_mul
// are optional per-dimension input divisors and output multipliers (empty = 1).
// Throws ConfigError when levels is empty, longer than kFsqMaxDim, has a level < 2,
// a level of 2 without `symmetric`, when prod(levels) >= 2^63 and `need_indices`, or
// when pre_div/post_mul are neither empty nor of size len(levels).
FsqTables fsq_make_tables(const std::vector<int64_t>& levels, bool symmetric, bool hard_clamp,
                          const std::vector<float>& pre_div = {},
                          const std::vector<float>& post_mul = {}, bool need_indices = true);

// Forward. codes: [N, H*c] out; indices: [N, H] out or nullptr (skip); z: [N, H*c].
// exact: true = tanh via double precision (correctly rounded, slow), false = fast_tanh.
// noise.prob > 0 applies noise dropout after the indices are taken.
void fsq_forward(float* codes, int64_t* indices, const float* z, int64_t N, int64_t H,
                 const FsqTables& t, bool exact, const FsqNoise& noise);

// Backward: dz = dcodes * d(codes)/dz (straight-through over the rounding), recomputed
// from z. All arrays [N, H*c]. noise must equal the forward's.
void fsq_backward(float* dz, const float* dcodes, const float* z, int64_t N, int64_t H,
                  const FsqTables& t, bool exact, const FsqNoise& noise);

// Soft clamp y = tanh(x / v) * v of x [N, D], v = values[j % D] (nvalues == D) or
// values[0] (nvalues == 1); and its backward dx = ((g * v) * (1 - t^2)) / v.
void fsq_soft_clamp(float* y, const float* x, int64_t N, int64_t D, const float* values,
                    int64_t nvalues, bool exact);
void fsq_soft_clamp_backward(float* dx, const float* g, const float* x, int64_t N, int64_t D,
                             const float* values, int64_t nvalues, bool exact);

// codes [M, c] from indices [M]: digit j = (index / basis_j) % L_j, then the inverse
// level map, times post_mul. A negative index decodes to a zero code (the residual
// classes' "dropped layer" value).
void fsq_indices_to_codes(float* codes, const int64_t* indices, int64_t M, const FsqTables& t);

// indices [M] from codes [M, c] (codes divided by post_mul first): level_j =
// round(code_j * (L//2) + L//2) (symmetric: round((code_j + 1) / (2/(L-1)))), summed
// in int64.
void fsq_codes_to_indices(int64_t* indices, const float* codes, int64_t M, const FsqTables& t);

// Per-dimension levels [M, c] (int64) of indices [M] (the reference's
// indices_to_level_indices).
void fsq_indices_to_levels(int64_t* levels, const int64_t* indices, int64_t M,
                           const FsqTables& t);

}  // namespace vq::cpu
