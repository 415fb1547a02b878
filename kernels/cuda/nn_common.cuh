// Device helpers shared by the nn / optim CUDA kernels (conv.cu, nn_norm.cu,
// optim.cu): fixed-order warp and block sums (the result depends only on the block
// size, never on timing), and a grid-stride loop bound.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace vq::cuda::nn_detail {

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;  // lane 0 holds the sum
}

// Sum over the block (blockDim.x a multiple of 32, <= 1024); every thread gets the
// result. `shared` must hold 32 values. Contains __syncthreads(): call from all threads.
template <typename T>
__device__ __forceinline__ T block_sum(T v, T* shared) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // shared may still be read by a previous call
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  const int warps = blockDim.x >> 5;
  T t = lane < warps ? shared[lane] : T(0);
  if (warp == 0) t = warp_sum(t);
  if (threadIdx.x == 0) shared[0] = t;
  __syncthreads();
  return shared[0];
}

}  // namespace vq::cuda::nn_detail
