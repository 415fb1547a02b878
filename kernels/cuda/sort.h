// CUDA launchers for sorting-based kernels (plain C++ declarations). All CUB code lives
// in kernels/cuda/sort.cu (the one expensive translation unit); sort_random.cu holds
// randperm / multinomial. Same contracts as the CPU twins in kernels/cpu/sort.h, and
// the same integer keys (kernels/cpu/sort_keys.h), so orders and samples are identical
// on both devices. Pointers are device pointers; work runs on vq::cuda::stream(device).
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace vq::cuda {

// ---- primitives used by the other CUDA files ----
// perm = the stable ascending order of keys[0, n) (each key in [0, key_bound)).
void stable_argsort_keys(int64_t* perm, const int64_t* keys, int64_t n, int64_t key_bound,
                         int device);
// Stable ascending order of 64-bit unsigned keys: perm[j] = original position.
void stable_argsort_u64(int64_t* perm, const uint64_t* keys, int64_t n, int device);
// Stable sort of R segments of L keys each; perm holds positions within the segment.
void segmented_argsort_u64(int64_t* perm, const uint64_t* keys, int64_t R, int64_t L, int device);
// out[i] = in[0] + ... + in[i - 1] (out[0] = 0) for i64 (exact, deterministic).
void exclusive_sum_i64(int64_t* out, const int64_t* in, int64_t n, int device);
// out[i] = in[0] + ... + in[i].
void inclusive_sum_i64(int64_t* out, const int64_t* in, int64_t n, int device);

// ---- ops ----
void sort_lines(void* values, int64_t* idx, const void* x, DType dtype, int64_t R, int64_t L,
                bool descending, int device);
void topk_lines(void* values, int64_t* idx, const void* x, DType dtype, int64_t R, int64_t L,
                int64_t k, bool largest, int device);
// Returns the number of distinct values (synchronizes); buffers hold n entries.
int64_t unique(void* values, int64_t* inverse, int64_t* counts, const void* x, DType dtype,
               int64_t n, int device);
void randperm(int64_t* out, int64_t n, uint64_t seed, uint64_t base, int device);

// Validation statistics of p [R, K] (synchronizes): entries that are negative/NaN/inf,
// rows whose sum is not > 0, smallest positive-entry count over rows.
void prob_stats(int64_t* bad, int64_t* zero_rows, int64_t* min_nonzero, const float* p, int64_t R,
                int64_t K, int device);
void multinomial(int64_t* out, const float* p, int64_t R, int64_t K, int64_t S, bool replacement,
                 uint64_t seed, uint64_t base, int device);

}  // namespace vq::cuda
