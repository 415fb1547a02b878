// CUDA launchers for the indexing kernels (plain C++ declarations, no CUDA types; the
// kernels live in kernels/cuda/index.cu and index_segment.cu). Same contracts and
// [O, K, I] layouts as the CPU twins in kernels/cpu/index.h; pointers are device
// pointers, work is queued on vq::cuda::stream(device) and nothing synchronizes unless
// stated. Index values are trusted: the ops layer range-checks them first.
#pragma once
#include <cstddef>
#include <cstdint>

namespace vq::cuda {

// out2[0] = min, out2[1] = max of n > 0 indices (out2: 2 device i64).
void index_minmax(int64_t* out2, const int64_t* idx, int64_t n, int device);

void gather_forward(void* out, const void* x, const int64_t* idx, int64_t O, int64_t Kx, int64_t J,
                    int64_t I, size_t elem, int device);
void index_select_forward(void* out, const void* x, const int64_t* idx, int64_t O, int64_t Kx,
                          int64_t N, int64_t I, size_t elem, int device);

// Deterministic keyed row sum (see cpu::segment_sum): rows are grouped by a stable radix
// sort of the keys, each key's rows are cut into fixed pieces of 32 rows summed in
// double (i64 for the i64 form), and the pieces are combined in order. No float atomics;
// the result is identical from run to run.
void segment_sum(float* dst, const float* src, const int64_t* keys, int64_t N, int64_t M, int64_t O,
                 int64_t I, double alpha, int device);
void segment_sum(int64_t* dst, const int64_t* src, const int64_t* keys, int64_t N, int64_t M,
                 int64_t O, int64_t I, double alpha, int device);

// torch.scatter_add on a contiguous out [O, K, I] holding the base; idx, src [O, J, I].
void scatter_add(float* out, const int64_t* idx, const float* src, int64_t O, int64_t K, int64_t J,
                 int64_t I, int device);
void scatter_add(int64_t* out, const int64_t* idx, const int64_t* src, int64_t O, int64_t K,
                 int64_t J, int64_t I, int device);

// counts[k] = #{j : idx[j] == k}, k < M (integer atomics: deterministic).
void bincount(int64_t* counts, const int64_t* idx, int64_t n, int64_t M, int device);

void masked_fill(void* out, const void* x, const uint8_t* mask, const void* value_host, int64_t n,
                 size_t elem, int device);
void one_hot(int64_t* out, const int64_t* idx, int64_t n, int64_t C, int device);
void one_hot(float* out, const int64_t* idx, int64_t n, int64_t C, int device);

// Inclusive scan along L of [O, L, I], f32 accumulated in double, fixed association.
void cumsum(float* out, const float* x, int64_t O, int64_t L, int64_t I, int device);
void cumsum(int64_t* out, const int64_t* x, int64_t O, int64_t L, int64_t I, int device);

}  // namespace vq::cuda
