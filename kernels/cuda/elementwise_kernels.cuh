// CUDA loop machinery of the elementwise kernels (included only by
// kernels/cuda/elementwise_*.cu): grid-stride kernels that apply a functor of
// kernels/cpu/elementwise_defs.h over a broadcast EwLayout, a flat fast path when
// every operand is contiguous, and launch helpers on the device's stream.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/cuda/context.h"
#include "kernels/cpu/elementwise_defs.h"

namespace vq::cuda::ew_detail {

using cpu::EwLayout;

constexpr int kBlock = 256;

// Element offsets of flat index i for the N operands of layout l.
template <int N>
__device__ __forceinline__ void layout_offsets(const EwLayout& l, int64_t i, int64_t (&off)[N]) {
#pragma unroll
  for (int k = 0; k < N; ++k) off[k] = 0;
  for (int d = l.ndim - 1; d >= 0; --d) {
    const int64_t c = i % l.shape[d];
    i /= l.shape[d];
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] += c * l.strides[k][d];
  }
}

#define VQ_EW_GRID_STRIDE(i, n)                                                          \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

template <typename F>
__global__ void unary_contig(typename F::out_type* o, const typename F::in_type* x, int64_t n,
                             F f) {
  VQ_EW_GRID_STRIDE(i, n) o[i] = f(x[i]);
}
template <typename F>
__global__ void unary_strided(typename F::out_type* o, const typename F::in_type* x, EwLayout l,
                              F f) {
  VQ_EW_GRID_STRIDE(i, l.numel) {
    int64_t off[2];
    layout_offsets<2>(l, i, off);
    o[off[0]] = f(x[off[1]]);
  }
}

template <typename F>
__global__ void binary_contig(typename F::out_type* o, const typename F::in_type* a,
                              const typename F::in_type* b, int64_t n, F f) {
  VQ_EW_GRID_STRIDE(i, n) o[i] = f(a[i], b[i]);
}
template <typename F>
__global__ void binary_strided(typename F::out_type* o, const typename F::in_type* a,
                               const typename F::in_type* b, EwLayout l, F f) {
  VQ_EW_GRID_STRIDE(i, l.numel) {
    int64_t off[3];
    layout_offsets<3>(l, i, off);
    o[off[0]] = f(a[off[1]], b[off[2]]);
  }
}

template <typename To, typename Ta, typename Tb, typename Tc, typename F>
__global__ void ternary_contig(To* o, const Ta* a, const Tb* b, const Tc* c, int64_t n, F f) {
  VQ_EW_GRID_STRIDE(i, n) o[i] = f(a[i], b[i], c[i]);
}
template <typename To, typename Ta, typename Tb, typename Tc, typename F>
__global__ void ternary_strided(To* o, const Ta* a, const Tb* b, const Tc* c, EwLayout l, F f) {
  VQ_EW_GRID_STRIDE(i, l.numel) {
    int64_t off[4];
    layout_offsets<4>(l, i, off);
    o[off[0]] = f(a[off[1]], b[off[2]], c[off[3]]);
  }
}

#undef VQ_EW_GRID_STRIDE

// Launchers: no-op for an empty layout; every launch is checked.
template <typename F>
void launch_unary(const EwLayout& l, void* o, const void* x, F f, int device) {
  if (l.numel == 0) return;
  using To = typename F::out_type;
  using Ti = typename F::in_type;
  cudaStream_t s = stream(device);
  const unsigned grid = grid_for(l.numel, kBlock);
  if (l.contiguous())
    unary_contig<<<grid, kBlock, 0, s>>>(static_cast<To*>(o), static_cast<const Ti*>(x), l.numel,
                                         f);
  else
    unary_strided<<<grid, kBlock, 0, s>>>(static_cast<To*>(o), static_cast<const Ti*>(x), l, f);
  check_launch("elementwise unary kernel");
}

template <typename F>
void launch_binary(const EwLayout& l, void* o, const void* a, const void* b, F f, int device) {
  if (l.numel == 0) return;
  using To = typename F::out_type;
  using Ti = typename F::in_type;
  cudaStream_t s = stream(device);
  const unsigned grid = grid_for(l.numel, kBlock);
  if (l.contiguous())
    binary_contig<<<grid, kBlock, 0, s>>>(static_cast<To*>(o), static_cast<const Ti*>(a),
                                          static_cast<const Ti*>(b), l.numel, f);
  else
    binary_strided<<<grid, kBlock, 0, s>>>(static_cast<To*>(o), static_cast<const Ti*>(a),
                                           static_cast<const Ti*>(b), l, f);
  check_launch("elementwise binary kernel");
}

template <typename To, typename Ta, typename Tb, typename Tc, typename F>
void launch_ternary(const EwLayout& l, To* o, const Ta* a, const Tb* b, const Tc* c, F f,
                    int device) {
  if (l.numel == 0) return;
  cudaStream_t s = stream(device);
  const unsigned grid = grid_for(l.numel, kBlock);
  if (l.contiguous())
    ternary_contig<<<grid, kBlock, 0, s>>>(o, a, b, c, l.numel, f);
  else
    ternary_strided<<<grid, kBlock, 0, s>>>(o, a, b, c, l, f);
  check_launch("elementwise ternary kernel");
}

}  // namespace vq::cuda::ew_detail
