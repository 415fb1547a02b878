// The one CUB translation unit: stable radix / segmented sorts, integer scans, and the
// sort-based ops built on them (sort, topk, unique). Keys come from
// kernels/cpu/sort_keys.h so orders match the CPU twins exactly. Declared in
// kernels/cuda/sort.h. Keep new CUB users in this file: each CUB include costs ~20 s of
// nvcc time.
#include <cuda_runtime.h>

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>
#include <cub/device/device_segmented_sort.cuh>

#include "core/cuda/context.h"
#include "core/error.h"
#include "kernels/cpu/sort_keys.h"
#include "kernels/cuda/index_workspace.h"
#include "kernels/cuda/sort.h"

namespace vq::cuda {

namespace {

constexpr int kBlock = 256;

__device__ __forceinline__ int64_t first_index() {
  return blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() { return (int64_t)gridDim.x * blockDim.x; }

template <typename K>
__global__ void narrow_keys_kernel(K* out, const int64_t* keys, int64_t n) {
  for (int64_t p = first_index(); p < n; p += grid_stride()) out[p] = static_cast<K>(keys[p]);
}

// iota modulo L (L = n gives 0 .. n-1).
__global__ void iota_kernel(int64_t* out, int64_t n, int64_t L) {
  for (int64_t p = first_index(); p < n; p += grid_stride()) out[p] = p % L;
}

__global__ void offsets_kernel(int64_t* off, int64_t R, int64_t L) {
  for (int64_t p = first_index(); p <= R; p += grid_stride()) off[p] = p * L;
}

template <typename T, typename K>
__global__ void line_keys_kernel(K* keys, const T* x, int64_t n, bool flip) {
  for (int64_t p = first_index(); p < n; p += grid_stride()) {
    K k;
    if constexpr (sizeof(T) == 4)
      k = sortkey::f32_key(x[p]);
    else
      k = sortkey::i64_key(x[p]);
    keys[p] = flip ? static_cast<K>(~k) : k;
  }
}

// values[r, j] = x[r, perm[r, j]], idx[r, j] = perm[r, j] for j < k (lines of length L).
template <typename T>
__global__ void take_sorted_kernel(T* values, int64_t* idx, const T* x, const int64_t* perm,
                                   int64_t R, int64_t L, int64_t k) {
  const int64_t n = R * k;
  for (int64_t p = first_index(); p < n; p += grid_stride()) {
    const int64_t r = p / k, j = p % k;
    const int64_t src = perm[r * L + j];
    idx[p] = src;
    values[p] = x[r * L + src];
  }
}

template <typename K>
__global__ void head_flags_kernel(int64_t* head, const K* sorted, int64_t n) {
  for (int64_t p = first_index(); p < n; p += grid_stride())
    head[p] = (p == 0 || sorted[p] != sorted[p - 1]) ? 1 : 0;
}

// rid = inclusive sum of head flags (1-based run ids).
template <typename T>
__global__ void unique_scatter_kernel(T* values, int64_t* inverse, int64_t* starts, const T* x,
                                      const int64_t* perm, const int64_t* head, const int64_t* rid,
                                      int64_t n) {
  for (int64_t p = first_index(); p < n; p += grid_stride()) {
    const int64_t u = rid[p] - 1;
    if (head[p]) {
      values[u] = x[perm[p]];
      starts[u] = p;
    }
    inverse[perm[p]] = u;
  }
}

__global__ void unique_counts_kernel(int64_t* counts, const int64_t* starts, int64_t u, int64_t n) {
  for (int64_t p = first_index(); p < u; p += grid_stride())
    counts[p] = (p + 1 < u ? starts[p + 1] : n) - starts[p];
}

template <typename K>
void argsort_pairs(int64_t* perm, K* keys_out, const K* keys, int64_t n, int end_bit, int device) {
  cudaStream_t s = stream(device);
  Workspace iota(static_cast<size_t>(n) * sizeof(int64_t), device);
  iota_kernel<<<grid_for(n), kBlock, 0, s>>>(iota.as<int64_t>(), n, n);
  check_launch("iota_kernel");
  size_t bytes = 0;
  check(cub::DeviceRadixSort::SortPairs(nullptr, bytes, keys, keys_out, iota.as<int64_t>(), perm, n,
                                        0, end_bit, s),
        "cub::DeviceRadixSort::SortPairs (size)");
  Workspace temp(bytes, device);
  check(cub::DeviceRadixSort::SortPairs(temp.get(), bytes, keys, keys_out, iota.as<int64_t>(), perm,
                                        n, 0, end_bit, s),
        "cub::DeviceRadixSort::SortPairs");
}

template <typename K>
void segmented_argsort(int64_t* perm, K* keys_out, const K* keys, int64_t R, int64_t L,
                       int device) {
  cudaStream_t s = stream(device);
  const int64_t n = R * L;
  Workspace iota(static_cast<size_t>(n) * sizeof(int64_t), device);
  Workspace off(static_cast<size_t>(R + 1) * sizeof(int64_t), device);
  iota_kernel<<<grid_for(n), kBlock, 0, s>>>(iota.as<int64_t>(), n, L);
  check_launch("iota_kernel");
  offsets_kernel<<<grid_for(R + 1), kBlock, 0, s>>>(off.as<int64_t>(), R, L);
  check_launch("offsets_kernel");
  const int64_t* o = off.as<int64_t>();
  size_t bytes = 0;
  check(cub::DeviceSegmentedSort::StableSortPairs(nullptr, bytes, keys, keys_out,
                                                  iota.as<int64_t>(), perm, n, R, o, o + 1, s),
        "cub::DeviceSegmentedSort::StableSortPairs (size)");
  Workspace temp(bytes, device);
  check(cub::DeviceSegmentedSort::StableSortPairs(temp.get(), bytes, keys, keys_out,
                                                  iota.as<int64_t>(), perm, n, R, o, o + 1, s),
        "cub::DeviceSegmentedSort::StableSortPairs");
}

template <typename T, typename K>
void topk_t(T* values, int64_t* idx, const T* x, int64_t R, int64_t L, int64_t k, bool largest,
            int device) {
  const int64_t n = R * L;
  if (n == 0 || k == 0) return;
  cudaStream_t s = stream(device);
  Workspace keys(static_cast<size_t>(n) * sizeof(K), device), keys_out(keys.size(), device);
  Workspace perm(static_cast<size_t>(n) * sizeof(int64_t), device);
  line_keys_kernel<T, K><<<grid_for(n), kBlock, 0, s>>>(keys.as<K>(), x, n, largest);
  check_launch("line_keys_kernel");
  segmented_argsort<K>(perm.as<int64_t>(), keys_out.as<K>(), keys.as<K>(), R, L, device);
  take_sorted_kernel<T>
      <<<grid_for(R * k), kBlock, 0, s>>>(values, idx, x, perm.as<int64_t>(), R, L, k);
  check_launch("take_sorted_kernel");
}

template <typename T, typename K>
int64_t unique_t(T* values, int64_t* inverse, int64_t* counts, const T* x, int64_t n, int device) {
  if (n == 0) return 0;
  cudaStream_t s = stream(device);
  Workspace keys(static_cast<size_t>(n) * sizeof(K), device), sorted(keys.size(), device);
  const size_t nb = static_cast<size_t>(n) * sizeof(int64_t);
  Workspace perm(nb, device), head(nb, device), rid(nb, device), starts(nb, device);
  line_keys_kernel<T, K><<<grid_for(n), kBlock, 0, s>>>(keys.as<K>(), x, n, false);
  check_launch("line_keys_kernel");
  argsort_pairs<K>(perm.as<int64_t>(), sorted.as<K>(), keys.as<K>(), n, 8 * sizeof(K), device);
  head_flags_kernel<K><<<grid_for(n), kBlock, 0, s>>>(head.as<int64_t>(), sorted.as<K>(), n);
  check_launch("head_flags_kernel");
  inclusive_sum_i64(rid.as<int64_t>(), head.as<int64_t>(), n, device);
  unique_scatter_kernel<T><<<grid_for(n), kBlock, 0, s>>>(values, inverse, starts.as<int64_t>(), x,
                                                          perm.as<int64_t>(), head.as<int64_t>(),
                                                          rid.as<int64_t>(), n);
  check_launch("unique_scatter_kernel");
  int64_t u = 0;
  check(
      cudaMemcpyAsync(&u, rid.as<int64_t>() + (n - 1), sizeof(int64_t), cudaMemcpyDeviceToHost, s),
      "unique: read count");
  check(cudaStreamSynchronize(s), "unique: synchronize");
  unique_counts_kernel<<<grid_for(u), kBlock, 0, s>>>(counts, starts.as<int64_t>(), u, n);
  check_launch("unique_counts_kernel");
  return u;
}

}  // namespace

void stable_argsort_keys(int64_t* perm, const int64_t* keys, int64_t n, int64_t key_bound,
                         int device) {
  if (n == 0) return;
  int bits = 1;
  while (bits < 63 && (int64_t(1) << bits) < key_bound) ++bits;
  cudaStream_t s = stream(device);
  if (bits <= 32) {
    Workspace k32(static_cast<size_t>(n) * 4, device), out(k32.size(), device);
    narrow_keys_kernel<uint32_t><<<grid_for(n), kBlock, 0, s>>>(k32.as<uint32_t>(), keys, n);
    check_launch("narrow_keys_kernel");
    argsort_pairs<uint32_t>(perm, out.as<uint32_t>(), k32.as<uint32_t>(), n, bits, device);
  } else {
    Workspace k64(static_cast<size_t>(n) * 8, device), out(k64.size(), device);
    narrow_keys_kernel<uint64_t><<<grid_for(n), kBlock, 0, s>>>(k64.as<uint64_t>(), keys, n);
    check_launch("narrow_keys_kernel");
    argsort_pairs<uint64_t>(perm, out.as<uint64_t>(), k64.as<uint64_t>(), n, bits, device);
  }
}

void stable_argsort_u64(int64_t* perm, const uint64_t* keys, int64_t n, int device) {
  if (n == 0) return;
  Workspace out(static_cast<size_t>(n) * 8, device);
  argsort_pairs<uint64_t>(perm, out.as<uint64_t>(), keys, n, 64, device);
}

void segmented_argsort_u64(int64_t* perm, const uint64_t* keys, int64_t R, int64_t L, int device) {
  if (R * L == 0) return;
  Workspace out(static_cast<size_t>(R * L) * 8, device);
  segmented_argsort<uint64_t>(perm, out.as<uint64_t>(), keys, R, L, device);
}

void exclusive_sum_i64(int64_t* out, const int64_t* in, int64_t n, int device) {
  if (n == 0) return;
  cudaStream_t s = stream(device);
  size_t bytes = 0;
  check(cub::DeviceScan::ExclusiveSum(nullptr, bytes, in, out, n, s), "cub::ExclusiveSum (size)");
  Workspace temp(bytes, device);
  check(cub::DeviceScan::ExclusiveSum(temp.get(), bytes, in, out, n, s), "cub::ExclusiveSum");
}

void inclusive_sum_i64(int64_t* out, const int64_t* in, int64_t n, int device) {
  if (n == 0) return;
  cudaStream_t s = stream(device);
  size_t bytes = 0;
  check(cub::DeviceScan::InclusiveSum(nullptr, bytes, in, out, n, s), "cub::InclusiveSum (size)");
  Workspace temp(bytes, device);
  check(cub::DeviceScan::InclusiveSum(temp.get(), bytes, in, out, n, s), "cub::InclusiveSum");
}

void sort_lines(void* values, int64_t* idx, const void* x, DType dtype, int64_t R, int64_t L,
                bool descending, int device) {
  topk_lines(values, idx, x, dtype, R, L, L, descending, device);
}

void topk_lines(void* values, int64_t* idx, const void* x, DType dtype, int64_t R, int64_t L,
                int64_t k, bool largest, int device) {
  if (dtype == DType::f32)
    topk_t<float, uint32_t>(static_cast<float*>(values), idx, static_cast<const float*>(x), R, L, k,
                            largest, device);
  else
    topk_t<int64_t, uint64_t>(static_cast<int64_t*>(values), idx, static_cast<const int64_t*>(x), R,
                              L, k, largest, device);
}

int64_t unique(void* values, int64_t* inverse, int64_t* counts, const void* x, DType dtype,
               int64_t n, int device) {
  if (dtype == DType::f32)
    return unique_t<float, uint32_t>(static_cast<float*>(values), inverse, counts,
                                     static_cast<const float*>(x), n, device);
  return unique_t<int64_t, uint64_t>(static_cast<int64_t*>(values), inverse, counts,
                                     static_cast<const int64_t*>(x), n, device);
}

}  // namespace vq::cuda
