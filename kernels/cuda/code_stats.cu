// Code statistics on CUDA (see kernels/cuda/code_stats.h), deterministic without float
// atomics:
//   1. key[g] = h * K + idx (or H * K for skipped rows), value g = h * N + n;
//   2. CUB stable radix sort of (key, row) pairs;
//   3. seg[c] = first sorted position of combined code c (binary search), c in [0, H*K];
//   4. each code's segment is cut into chunks of kChunk rows; chunk_off = exclusive scan
//      of the chunk counts (CUB);
//   5. one CTA per chunk sums its rows in sorted (= row) order: partial[chunk, 0..D)
//      and the weight total partial_count[chunk];
//   6. one thread per (code, column) adds its chunks' partials in chunk order.
// A hot code (one code receiving most rows) is spread over many chunks, so the work
// stays parallel. The only CUB/Thrust TU of the VQ kernels.
#include <cub/cub.cuh>
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>

#include "core/cuda/context.h"
#include "core/error.h"
#include "core/storage.h"
#include "kernels/cuda/code_stats.h"

namespace vq::cuda {
namespace {

constexpr int kChunk = 256;

class Buf {
 public:
  Buf(size_t nbytes, int device)
      : n_(nbytes ? nbytes : 1), dev_(Device{DeviceType::CUDA, device}), p_(device_alloc(n_, dev_)) {}
  ~Buf() { device_free(p_, n_, dev_); }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  template <typename T>
  T* as() const { return static_cast<T*>(p_); }

 private:
  size_t n_;
  Device dev_;
  void* p_;
};

__global__ void make_keys_kernel(int* keys, int* vals, const int64_t* __restrict__ idx,
                                 const uint8_t* __restrict__ mask, int64_t H, int64_t N,
                                 int64_t K, int64_t idx_hs, int64_t m_hs) {
  const int64_t HN = H * N;
  for (int64_t g = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; g < HN;
       g += int64_t(gridDim.x) * blockDim.x) {
    const int64_t h = g / N, n = g % N;
    const int64_t k = idx[h * idx_hs + n];
    const bool keep = k >= 0 && k < K && (!mask || mask[h * m_hs + n]);
    keys[g] = keep ? int(h * K + k) : int(H * K);
    vals[g] = int(g);
  }
}

// seg[c] = lower_bound(sorted_keys, c) for c in [0, C].
__global__ void segments_kernel(int* seg, const int* __restrict__ keys, int64_t M,
                                int64_t C) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c <= C;
       c += int64_t(gridDim.x) * blockDim.x) {
    int64_t lo = 0, hi = M;
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (keys[mid] < c) lo = mid + 1;
      else hi = mid;
    }
    seg[c] = int(lo);
  }
}

// nchunks[c] = chunks of code c; nchunks[C] = 0, so the exclusive scan over C + 1
// entries ends with the total.
__global__ void chunk_counts_kernel(int* nchunks, const int* __restrict__ seg, int64_t C) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c <= C;
       c += int64_t(gridDim.x) * blockDim.x)
    nchunks[c] = c < C ? (seg[c + 1] - seg[c] + kChunk - 1) / kChunk : 0;
}

// One CTA per chunk (blocks past the total exit). Threads stride over the D columns.
__global__ void chunk_sums_kernel(float* partial, float* partial_count,
                                  const int* __restrict__ chunk_off, const int* __restrict__ seg,
                                  const int* __restrict__ rows, const float* __restrict__ x,
                                  const float* __restrict__ w, int64_t C, int64_t N, int64_t D,
                                  int64_t x_hs, int64_t w_hs) {
  const int64_t b = blockIdx.x;
  if (b >= chunk_off[C]) return;
  int64_t lo = 0, hi = C;  // code c with chunk_off[c] <= b < chunk_off[c + 1]
  while (hi - lo > 1) {
    const int64_t mid = (lo + hi) / 2;
    if (chunk_off[mid] <= b) lo = mid;
    else hi = mid;
  }
  const int64_t c = lo;
  const int64_t start = seg[c] + (b - chunk_off[c]) * kChunk;
  const int64_t end = min(start + kChunk, int64_t(seg[c + 1]));
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    float acc = 0.f;
    for (int64_t p = start; p < end; ++p) {
      const int64_t g = rows[p], h = g / N, n = g % N;
      const float v = x[h * x_hs + n * D + d];
      acc = w ? fmaf(w[h * w_hs + n], v, acc) : acc + v;
    }
    partial[b * D + d] = acc;
  }
  if (threadIdx.x == 0) {
    float acc = 0.f;
    for (int64_t p = start; p < end; ++p) {
      const int64_t g = rows[p], h = g / N, n = g % N;
      acc += w ? w[h * w_hs + n] : 1.f;
    }
    partial_count[b] = acc;
  }
}

// Thread per (code c, column d in [0, D]); d == D is the count.
__global__ void combine_kernel(float* counts, float* sums, const float* __restrict__ partial,
                               const float* __restrict__ partial_count,
                               const int* __restrict__ chunk_off, int64_t C, int64_t D) {
  const int64_t total = C * (D + 1);
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = t / (D + 1), d = t % (D + 1);
    float acc = 0.f;
    for (int64_t b = chunk_off[c]; b < chunk_off[c + 1]; ++b)
      acc += d == D ? partial_count[b] : partial[b * D + d];
    if (d == D) counts[c] = acc;
    else sums[c * D + d] = acc;
  }
}

void check_cub(cudaError_t e, const char* what) { check(e, what); }

}  // namespace

void code_stats(float* counts, float* sums, const int64_t* idx, const float* x,
                const float* weights, const uint8_t* mask, int64_t H, int64_t N, int64_t K,
                int64_t D, int64_t idx_hs, int64_t x_hs, int64_t w_hs, int64_t m_hs,
                int device) {
  if (H <= 0 || K <= 0) return;
  cudaStream_t st = stream(device);
  const int64_t HN = H * N, C = H * K;
  vq::check<ShapeError>(HN < INT_MAX && C < INT_MAX, "cuda code_stats: H*N=", HN, " and H*K=", C,
                    " must stay below 2^31");
  if (HN == 0) {
    check(cudaMemsetAsync(counts, 0, sizeof(float) * size_t(C), st), "cudaMemsetAsync");
    check(cudaMemsetAsync(sums, 0, sizeof(float) * size_t(C * D), st), "cudaMemsetAsync");
    return;
  }
  int end_bit = 1;
  while ((int64_t(1) << end_bit) <= C) ++end_bit;

  // integer scratch: keys in/out, rows in/out (HN each), seg, nchunks, chunk_off (C+1 each)
  Buf ints(sizeof(int) * size_t(4 * HN + 3 * (C + 1)), device);
  int* keys_in = ints.as<int>();
  int* keys_out = keys_in + HN;
  int* rows_in = keys_out + HN;
  int* rows_out = rows_in + HN;
  int* seg = rows_out + HN;
  int* nchunks = seg + (C + 1);
  int* chunk_off = nchunks + (C + 1);

  make_keys_kernel<<<grid_for(HN), 256, 0, st>>>(keys_in, rows_in, idx, mask, H, N, K, idx_hs, m_hs);
  check_launch("code_stats_make_keys_kernel");

  size_t sort_bytes = 0, scan_bytes = 0;
  check_cub(cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, keys_in, keys_out, rows_in,
                                            rows_out, int(HN), 0, end_bit, st),
            "cub::DeviceRadixSort::SortPairs (size)");
  check_cub(cub::DeviceScan::ExclusiveSum(nullptr, scan_bytes, nchunks, chunk_off, int(C + 1), st),
            "cub::DeviceScan::ExclusiveSum (size)");
  Buf temp(std::max(sort_bytes, scan_bytes), device);
  check_cub(cub::DeviceRadixSort::SortPairs(temp.as<void>(), sort_bytes, keys_in, keys_out,
                                            rows_in, rows_out, int(HN), 0, end_bit, st),
            "cub::DeviceRadixSort::SortPairs");

  segments_kernel<<<grid_for(C + 1), 256, 0, st>>>(seg, keys_out, HN, C);
  check_launch("code_stats_segments_kernel");
  chunk_counts_kernel<<<grid_for(C + 1), 256, 0, st>>>(nchunks, seg, C);
  check_launch("code_stats_chunk_counts_kernel");
  check_cub(cub::DeviceScan::ExclusiveSum(temp.as<void>(), scan_bytes, nchunks, chunk_off,
                                          int(C + 1), st),
            "cub::DeviceScan::ExclusiveSum");

  // at most HN / kChunk + C chunks (each code adds at most one partial chunk)
  const int64_t max_chunks = (HN + kChunk - 1) / kChunk + C;
  Buf part(sizeof(float) * size_t(max_chunks * (D + 1)), device);
  float* partial = part.as<float>();
  float* partial_count = partial + max_chunks * D;
  const int threads = int(std::min<int64_t>(256, std::max<int64_t>(32, (D + 31) / 32 * 32)));
  vq::check<ShapeError>(max_chunks <= INT_MAX, "cuda code_stats: too many chunks");
  chunk_sums_kernel<<<unsigned(max_chunks), threads, 0, st>>>(
      partial, partial_count, chunk_off, seg, rows_out, x, weights, C, N, D, x_hs, w_hs);
  check_launch("code_stats_chunk_sums_kernel");
  combine_kernel<<<grid_for(C * (D + 1)), 256, 0, st>>>(counts, sums, partial, partial_count,
                                                         chunk_off, C, D);
  check_launch("code_stats_combine_kernel");
}

}  // namespace vq::cuda
