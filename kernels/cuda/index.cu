// CUDA gather, index_select, bincount, masked_fill, one_hot, cumsum and the index
// min/max reduction (launchers declared in kernels/cuda/index.h). No CUB here: the
// sort-based pieces live in sort.cu / index_segment.cu. Every kernel is a grid-stride
// loop; every launch is checked.
#include <cuda_runtime.h>

#include <climits>
#include <cstring>

#include "core/cuda/context.h"
#include "kernels/cuda/index.h"

namespace vq::cuda {

namespace {

constexpr int kBlock = 256;

__device__ __forceinline__ int64_t first_index() {
  return blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() { return (int64_t)gridDim.x * blockDim.x; }

__global__ void minmax_init_kernel(int64_t* o) {
  o[0] = LLONG_MAX;
  o[1] = LLONG_MIN;
}

__global__ void minmax_kernel(int64_t* o, const int64_t* idx, int64_t n) {
  long long lo = LLONG_MAX, hi = LLONG_MIN;
  for (int64_t p = first_index(); p < n; p += grid_stride()) {
    long long v = idx[p];
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  for (int off = 16; off > 0; off >>= 1) {
    long long a = __shfl_down_sync(0xffffffffu, lo, off);
    long long b = __shfl_down_sync(0xffffffffu, hi, off);
    lo = a < lo ? a : lo;
    hi = b > hi ? b : hi;
  }
  __shared__ long long slo[kBlock / 32], shi[kBlock / 32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    slo[warp] = lo;
    shi[warp] = hi;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < kBlock / 32; ++w) {
      lo = slo[w] < lo ? slo[w] : lo;
      hi = shi[w] > hi ? shi[w] : hi;
    }
    atomicMin(reinterpret_cast<long long*>(o), lo);
    atomicMax(reinterpret_cast<long long*>(o + 1), hi);
  }
}

template <typename E>
__global__ void gather_kernel(E* out, const E* x, const int64_t* idx, int64_t O, int64_t Kx,
                              int64_t J, int64_t I) {
  const int64_t n = O * J * I;
  for (int64_t p = first_index(); p < n; p += grid_stride()) {
    const int64_t o = p / (J * I), i = p % I;
    out[p] = x[(o * Kx + idx[p]) * I + i];
  }
}

template <typename E>
__global__ void index_select_kernel(E* out, const E* x, const int64_t* idx, int64_t O, int64_t Kx,
                                    int64_t N, int64_t I) {
  const int64_t n = O * N * I;
  for (int64_t p = first_index(); p < n; p += grid_stride()) {
    const int64_t r = p / I, i = p % I;
    const int64_t o = r / N, j = r % N;
    out[p] = x[(o * Kx + idx[j]) * I + i];
  }
}

// Wide rows (codebook lookup): one block-stride loop over output rows, threads along the
// row, so there is no per-element 64-bit division and reads/writes are coalesced.
template <typename E>
__global__ void index_select_rows_kernel(E* out, const E* x, const int64_t* idx, int64_t O,
                                         int64_t Kx, int64_t N, int64_t I) {
  const int64_t rows = O * N;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t o = r / N, j = r % N;
    const E* src = x + (o * Kx + idx[j]) * I;
    E* dst = out + r * I;
    for (int64_t i = threadIdx.x; i < I; i += blockDim.x) dst[i] = src[i];
  }
}

template <typename E>
void index_select_launch(E* out, const E* x, const int64_t* idx, int64_t O, int64_t Kx, int64_t N,
                         int64_t I, cudaStream_t s) {
  if (I >= 32) {
    const int64_t rows = O * N;
    const unsigned g = static_cast<unsigned>(rows < 65535LL * 8 ? rows : 65535LL * 8);
    const int block = I >= 256 ? 256 : (I >= 128 ? 128 : (I >= 64 ? 64 : 32));
    index_select_rows_kernel<<<g, block, 0, s>>>(out, x, idx, O, Kx, N, I);
    check_launch("index_select_rows_kernel");
  } else {
    index_select_kernel<<<grid_for(O * N * I), kBlock, 0, s>>>(out, x, idx, O, Kx, N, I);
    check_launch("index_select_kernel");
  }
}

// Small M: per-block shared histogram, then one global add per non-empty bin.
__global__ void bincount_shared_kernel(int64_t* counts, const int64_t* idx, int64_t n, int M) {
  extern __shared__ unsigned int hist[];
  for (int k = threadIdx.x; k < M; k += blockDim.x) hist[k] = 0;
  __syncthreads();
  for (int64_t p = first_index(); p < n; p += grid_stride()) atomicAdd(&hist[idx[p]], 1u);
  __syncthreads();
  for (int k = threadIdx.x; k < M; k += blockDim.x)
    if (hist[k])
      atomicAdd(reinterpret_cast<unsigned long long*>(counts + k), (unsigned long long)hist[k]);
}

__global__ void bincount_global_kernel(int64_t* counts, const int64_t* idx, int64_t n) {
  for (int64_t p = first_index(); p < n; p += grid_stride())
    atomicAdd(reinterpret_cast<unsigned long long*>(counts + idx[p]), 1ull);
}

template <typename E>
__global__ void masked_fill_kernel(E* out, const E* x, const uint8_t* mask, E value, int64_t n) {
  for (int64_t p = first_index(); p < n; p += grid_stride()) out[p] = mask[p] ? value : x[p];
}

template <typename T>
__global__ void one_hot_kernel(T* out, const int64_t* idx, int64_t n, int64_t C) {
  const int64_t total = n * C;
  for (int64_t p = first_index(); p < total; p += grid_stride())
    out[p] = (idx[p / C] == p % C) ? T(1) : T(0);
}

// One thread per line (o, i): sequential scan, coalesced across i.
template <typename T, typename A>
__global__ void cumsum_line_kernel(T* out, const T* x, int64_t O, int64_t L, int64_t I) {
  const int64_t lines = O * I;
  for (int64_t line = first_index(); line < lines; line += grid_stride()) {
    const int64_t o = line / I, i = line % I;
    const T* xp = x + o * L * I + i;
    T* op = out + o * L * I + i;
    A acc = A(0);
    for (int64_t l = 0; l < L; ++l) {
      acc += static_cast<A>(xp[l * I]);
      op[l * I] = static_cast<T>(acc);
    }
  }
}

// One block per line for few long lines: each thread scans a fixed contiguous range,
// thread 0 scans the range totals in order, then each range is rescanned with its
// prefix. Fixed association, so deterministic.
template <typename T, typename A>
__global__ void cumsum_block_kernel(T* out, const T* x, int64_t O, int64_t L, int64_t I) {
  __shared__ A part[kBlock];
  const int64_t chunk = (L + kBlock - 1) / kBlock;
  for (int64_t line = blockIdx.x; line < O * I; line += gridDim.x) {
    const int64_t o = line / I, i = line % I;
    const T* xp = x + o * L * I + i;
    T* op = out + o * L * I + i;
    const int64_t l0 = threadIdx.x * chunk;
    const int64_t l1 = (l0 + chunk < L) ? l0 + chunk : L;
    A s = A(0);
    for (int64_t l = l0; l < l1; ++l) s += static_cast<A>(xp[l * I]);
    part[threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
      A run = A(0);
      for (int t = 0; t < kBlock; ++t) {
        A v = part[t];
        part[t] = run;
        run += v;
      }
    }
    __syncthreads();
    A acc = part[threadIdx.x];
    for (int64_t l = l0; l < l1; ++l) {
      acc += static_cast<A>(xp[l * I]);
      op[l * I] = static_cast<T>(acc);
    }
    __syncthreads();
  }
}

template <typename T, typename A>
void cumsum_launch(T* out, const T* x, int64_t O, int64_t L, int64_t I, int device) {
  if (O * L * I == 0) return;
  cudaStream_t s = stream(device);
  const int64_t lines = O * I;
  if (lines >= 4096 || L < 2048) {
    cumsum_line_kernel<T, A><<<grid_for(lines), kBlock, 0, s>>>(out, x, O, L, I);
    check_launch("cumsum_line_kernel");
  } else {
    cumsum_block_kernel<T, A><<<static_cast<unsigned>(lines), kBlock, 0, s>>>(out, x, O, L, I);
    check_launch("cumsum_block_kernel");
  }
}

}  // namespace

void index_minmax(int64_t* out2, const int64_t* idx, int64_t n, int device) {
  cudaStream_t s = stream(device);
  minmax_init_kernel<<<1, 1, 0, s>>>(out2);
  check_launch("minmax_init_kernel");
  if (n == 0) return;
  unsigned g = grid_for(n);
  if (g > 1024) g = 1024;
  minmax_kernel<<<g, kBlock, 0, s>>>(out2, idx, n);
  check_launch("minmax_kernel");
}

void gather_forward(void* out, const void* x, const int64_t* idx, int64_t O, int64_t Kx, int64_t J,
                    int64_t I, size_t elem, int device) {
  const int64_t n = O * J * I;
  if (n == 0) return;
  cudaStream_t s = stream(device);
  const unsigned g = grid_for(n);
  switch (elem) {
    case 1:
      gather_kernel<<<g, kBlock, 0, s>>>((uint8_t*)out, (const uint8_t*)x, idx, O, Kx, J, I);
      break;
    case 2:
      gather_kernel<<<g, kBlock, 0, s>>>((uint16_t*)out, (const uint16_t*)x, idx, O, Kx, J, I);
      break;
    case 4:
      gather_kernel<<<g, kBlock, 0, s>>>((uint32_t*)out, (const uint32_t*)x, idx, O, Kx, J, I);
      break;
    default:
      gather_kernel<<<g, kBlock, 0, s>>>((uint64_t*)out, (const uint64_t*)x, idx, O, Kx, J, I);
      break;
  }
  check_launch("gather_kernel");
}

void index_select_forward(void* out, const void* x, const int64_t* idx, int64_t O, int64_t Kx,
                          int64_t N, int64_t I, size_t elem, int device) {
  if (O * N * I == 0) return;
  cudaStream_t s = stream(device);
  switch (elem) {
    case 1:
      index_select_launch((uint8_t*)out, (const uint8_t*)x, idx, O, Kx, N, I, s);
      break;
    case 2:
      index_select_launch((uint16_t*)out, (const uint16_t*)x, idx, O, Kx, N, I, s);
      break;
    case 4:
      index_select_launch((uint32_t*)out, (const uint32_t*)x, idx, O, Kx, N, I, s);
      break;
    default:
      index_select_launch((uint64_t*)out, (const uint64_t*)x, idx, O, Kx, N, I, s);
      break;
  }
}

void bincount(int64_t* counts, const int64_t* idx, int64_t n, int64_t M, int device) {
  if (M == 0) return;
  cudaStream_t s = stream(device);
  check(cudaMemsetAsync(counts, 0, static_cast<size_t>(M) * sizeof(int64_t), s), "bincount memset");
  if (n == 0) return;
  if (M <= 8192) {
    unsigned g = grid_for(n);
    if (g > 256) g = 256;
    bincount_shared_kernel<<<g, kBlock, static_cast<size_t>(M) * sizeof(unsigned), s>>>(
        counts, idx, n, static_cast<int>(M));
    check_launch("bincount_shared_kernel");
  } else {
    bincount_global_kernel<<<grid_for(n), kBlock, 0, s>>>(counts, idx, n);
    check_launch("bincount_global_kernel");
  }
}

void masked_fill(void* out, const void* x, const uint8_t* mask, const void* value_host, int64_t n,
                 size_t elem, int device) {
  if (n == 0) return;
  cudaStream_t s = stream(device);
  const unsigned g = grid_for(n);
  switch (elem) {
    case 1: {
      uint8_t v;
      std::memcpy(&v, value_host, 1);
      masked_fill_kernel<<<g, kBlock, 0, s>>>((uint8_t*)out, (const uint8_t*)x, mask, v, n);
      break;
    }
    case 2: {
      uint16_t v;
      std::memcpy(&v, value_host, 2);
      masked_fill_kernel<<<g, kBlock, 0, s>>>((uint16_t*)out, (const uint16_t*)x, mask, v, n);
      break;
    }
    case 4: {
      uint32_t v;
      std::memcpy(&v, value_host, 4);
      masked_fill_kernel<<<g, kBlock, 0, s>>>((uint32_t*)out, (const uint32_t*)x, mask, v, n);
      break;
    }
    default: {
      uint64_t v;
      std::memcpy(&v, value_host, 8);
      masked_fill_kernel<<<g, kBlock, 0, s>>>((uint64_t*)out, (const uint64_t*)x, mask, v, n);
      break;
    }
  }
  check_launch("masked_fill_kernel");
}

void one_hot(int64_t* out, const int64_t* idx, int64_t n, int64_t C, int device) {
  if (n * C == 0) return;
  one_hot_kernel<<<grid_for(n * C), kBlock, 0, stream(device)>>>(out, idx, n, C);
  check_launch("one_hot_kernel");
}
void one_hot(float* out, const int64_t* idx, int64_t n, int64_t C, int device) {
  if (n * C == 0) return;
  one_hot_kernel<<<grid_for(n * C), kBlock, 0, stream(device)>>>(out, idx, n, C);
  check_launch("one_hot_kernel");
}

void cumsum(float* out, const float* x, int64_t O, int64_t L, int64_t I, int device) {
  cumsum_launch<float, double>(out, x, O, L, I, device);
}
void cumsum(int64_t* out, const int64_t* x, int64_t O, int64_t L, int64_t I, int device) {
  cumsum_launch<int64_t, int64_t>(out, x, O, L, I, device);
}

}  // namespace vq::cuda
