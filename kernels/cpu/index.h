// Raw CPU indexing kernels (pointers + sizes): gather, index_select, the deterministic
// segment sum behind scatter_add / index_add / bincount, masked_fill, one_hot, cumsum.
// Tensors are seen as 3-D row-major blocks [O, K, I] around the indexed dim. Index values
// are trusted here: the ops layer has range-checked them (kernels/ops_index_util.h).
// Element-size kernels (`elem` bytes: 1, 2, 4 or 8) work for every dtype.
#pragma once
#include <cstddef>
#include <cstdint>

namespace vq::cpu {

// min and max of n > 0 indices.
void index_minmax(const int64_t* idx, int64_t n, int64_t* mn, int64_t* mx);

// out[o, j, i] = x[o, idx[o, j, i], i]; out and idx are [O, J, I], x is [O, Kx, I].
void gather_forward(void* out, const void* x, const int64_t* idx, int64_t O, int64_t Kx, int64_t J,
                    int64_t I, size_t elem);

// out[o, j, :] = x[o, idx[j], :]; idx is [N], x [O, Kx, I], out [O, N, I].
void index_select_forward(void* out, const void* x, const int64_t* idx, int64_t O, int64_t Kx,
                          int64_t N, int64_t I, size_t elem);

// Deterministic keyed row sum: for every source row j (of I elements, in every outer
// slice o), dst[o, keys[j], :] += alpha * src[o, j, :]. dst is [O, M, I], src [O, N, I],
// keys in [0, M). Rows of one key are summed in source order in double (int64 for the
// i64 form), then added once: dst = T(dst + alpha * sum). Threads own disjoint key
// ranges (FAISS style), so the result does not depend on the thread count; the two
// schedules (dense: one sequential pass into a double [M, I] table; sorted: a stable
// counting sort, then per-key sums) produce identical bits; `automatic` picks dense
// when M <= 4 N and the table fits 64 MiB. alpha must be integral for the i64 form.
enum class SegmentPath { automatic, dense, sorted };
void segment_sum(float* dst, const float* src, const int64_t* keys, int64_t N, int64_t M, int64_t O,
                 int64_t I, double alpha, SegmentPath path = SegmentPath::automatic);
void segment_sum(int64_t* dst, const int64_t* src, const int64_t* keys, int64_t N, int64_t M,
                 int64_t O, int64_t I, double alpha, SegmentPath path = SegmentPath::automatic);

// torch.scatter_add on a contiguous out [O, K, I] (already holding the base values):
// out[o, idx[o, j, i], i] += src[o, j, i] for idx, src of shape [O, J, I]. Deterministic:
// implemented as segment_sum over flattened destination offsets.
void scatter_add(float* out, const int64_t* idx, const float* src, int64_t O, int64_t K, int64_t J,
                 int64_t I);
void scatter_add(int64_t* out, const int64_t* idx, const int64_t* src, int64_t O, int64_t K,
                 int64_t J, int64_t I);

// counts[k] = #{j : idx[j] == k} for k < M (counts is overwritten).
void bincount(int64_t* counts, const int64_t* idx, int64_t n, int64_t M);

// out[i] = mask[i] ? *value : x[i]; value points at one element of the same dtype.
void masked_fill(void* out, const void* x, const uint8_t* mask, const void* value, int64_t n,
                 size_t elem);

// out[j, c] = (idx[j] == c) for c < C; out is [n, C] i64 or f32.
void one_hot(int64_t* out, const int64_t* idx, int64_t n, int64_t C);
void one_hot(float* out, const int64_t* idx, int64_t n, int64_t C);

// Inclusive prefix sum along the middle dim of [O, L, I]; f32 accumulates in double
// (like PyTorch's CPU kernel), i64 in i64.
void cumsum(float* out, const float* x, int64_t O, int64_t L, int64_t I);
void cumsum(int64_t* out, const int64_t* x, int64_t O, int64_t L, int64_t I);

}  // namespace vq::cpu
