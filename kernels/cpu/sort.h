// Raw CPU sorting kernels (pointers + sizes): stable line sort, topk, unique, and the
// Philox-driven randperm / multinomial. Orders come from the integer keys of
// kernels/cpu/sort_keys.h, shared with the CUDA twins so both give identical results.
// Floats follow PyTorch's order: NaN above +inf, -0.0 equal to +0.0.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace vq::cpu {

// Stable sort of each of R contiguous lines of length L; x, values are [R, L] of dtype
// f32 or i64, idx [R, L] positions within the line. Descending keeps equal elements in
// their original order too.
void sort_lines(void* values, int64_t* idx, const void* x, DType dtype, int64_t R, int64_t L,
                bool descending);

// The first k elements of the stable sort of each line (descending when largest):
// values, idx are [R, k].
void topk_lines(void* values, int64_t* idx, const void* x, DType dtype, int64_t R, int64_t L,
                int64_t k, bool largest);

// Sorted distinct values of x[0, n) (f32 or i64). Writes values[u] and counts[u] for the
// returned number of distinct values u (buffers hold n), and inverse[i] = position of
// x[i] in values. NaNs compare equal to each other here.
int64_t unique(void* values, int64_t* inverse, int64_t* counts, const void* x, DType dtype,
               int64_t n);

// A random permutation of [0, n): the stable order of the 64-bit Philox keys of
// counters base .. base + n - 1.
void randperm(int64_t* out, int64_t n, uint64_t seed, uint64_t base);

// Per-row row-sum statistics used to validate multinomial inputs.
struct ProbStats {
  int64_t bad = 0;          // entries that are negative, NaN or inf
  int64_t zero_rows = 0;    // rows whose sum is not > 0
  int64_t min_nonzero = 0;  // smallest count of positive entries over the rows
};
ProbStats prob_stats(const float* p, int64_t R, int64_t K);

// S samples per row of p [R, K] (valid weights): with replacement by inverse CDF on a
// sequential double CDF with uniform53(counter base + r * S + s); without replacement
// by the exponential race -log(u) / p with u = uniform53_open0(base + r * K + k), the S
// smallest times in increasing order (ties by index). out is [R, S].
void multinomial(int64_t* out, const float* p, int64_t R, int64_t K, int64_t S, bool replacement,
                 uint64_t seed, uint64_t base);

}  // namespace vq::cpu
