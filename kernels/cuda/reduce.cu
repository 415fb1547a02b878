// CUDA sums/moments (reduce_forward), max/min with indices and non-zero counts over the
// middle dim of [outer, R, inner]. Scheme and determinism: see kernels/cuda/reduce.h.
#include <cuda_runtime.h>

#include <algorithm>

#include "core/cuda/context.h"
#include "core/device.h"
#include "core/storage.h"
#include "kernels/cuda/reduce.h"
#include "kernels/cuda/reduce_common.cuh"

namespace vq::cuda {

namespace {

using reduce_detail::Geometry;
using reduce_detail::geometry;

// Device scratch from the caching allocator, returned on every exit (exceptions
// included). Stream-ordered reuse is safe: any later user of the block is queued on the
// same per-device stream.
struct Workspace {
  size_t bytes;
  Device dev;
  void* p;
  Workspace(size_t b, Device d) : bytes(b), dev(d), p(device_alloc(b, d)) {}
  ~Workspace() {
    try {
      device_free(p, bytes, dev);
    } catch (...) {  // destructors never throw; a failed free only leaks the block
    }
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
};

template <ReduceKind K>
__device__ __forceinline__ double term(float x, double p, float c) {
  if constexpr (K == ReduceKind::sum) return x;
  if constexpr (K == ReduceKind::abs_sum || K == ReduceKind::abs_max) return fabs(double(x));
  if constexpr (K == ReduceKind::sq_sum) return double(x) * double(x);
  if constexpr (K == ReduceKind::pow_sum) return pow(fabs(double(x)), p);
  if constexpr (K == ReduceKind::sq_dev_sum) {
    const double d = double(x) - double(c);
    return d * d;
  }
  return 0.0;
}

template <ReduceKind K>
__device__ __forceinline__ double combine(double a, double b) {
  if constexpr (K == ReduceKind::abs_max) return (b > a || b != b) ? b : a;
  return a + b;
}

__device__ __forceinline__ float finalize(double acc, double scale, double root) {
  double v = acc * scale;
  if (root == 2.0) {
    v = sqrt(v);
  } else if (root != 1.0) {
    v = pow(v, 1.0 / root);
  }
  return static_cast<float>(v);
}

// Block = TX columns x TY lanes (reduce_common.cuh); blockIdx.y = chunk c of R. Writes the
// chunk's fold to partial[(o * nchunks + c) * inner + j] when partial != null, else the
// finalized value to out[o * inner + j].
template <ReduceKind K>
__global__ void reduce_kernel(float* out, double* partial, const float* x, Geometry g,
                              int64_t R, int64_t inner, int64_t chunk, int64_t nchunks, double p,
                              const float* center, double scale, double root) {
  extern __shared__ double sm[];
  int tx, ty;
  reduce_detail::thread_role(g, &tx, &ty);
  const int TX = g.tx, TY = g.ty;
  const int64_t c = blockIdx.y;
  const int64_t r0 = c * chunk, r1 = min(R, r0 + chunk);
  for (int64_t blk = blockIdx.x; blk < g.blocks; blk += gridDim.x) {
    const int64_t col = blk * TX + tx;
    const int64_t o = col / inner, j = col % inner;
    double acc = 0.0;
    if (col < g.cols) {
      const float cv = center ? center[col] : 0.f;
      const float* base = x + o * R * inner + j;
      for (int64_t r = r0 + ty; r < r1; r += TY) acc = combine<K>(acc, term<K>(base[r * inner], p, cv));
    }
    sm[ty * TX + tx] = acc;
    __syncthreads();
    for (int s = TY / 2; s > 0; s >>= 1) {
      if (ty < s) sm[ty * TX + tx] = combine<K>(sm[ty * TX + tx], sm[(ty + s) * TX + tx]);
      __syncthreads();
    }
    if (ty == 0 && col < g.cols) {
      if (partial) {
        partial[(o * nchunks + c) * inner + j] = sm[tx];
      } else {
        out[col] = finalize(sm[tx], scale, root);
      }
    }
    __syncthreads();
  }
}

// Folds the chunk partials of each output in chunk order and finalizes.
template <ReduceKind K>
__global__ void reduce_partials_kernel(float* out, const double* partial, int64_t outer,
                                       int64_t inner, int64_t nchunks, double scale, double root) {
  const int64_t n = outer * inner;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = i / inner, j = i % inner;
    double acc = partial[(o * nchunks) * inner + j];
    for (int64_t c = 1; c < nchunks; ++c) acc = combine<K>(acc, partial[(o * nchunks + c) * inner + j]);
    out[i] = finalize(acc, scale, root);
  }
}

template <ReduceKind K>
void launch_reduce(float* out, const float* x, int64_t outer, int64_t R, int64_t inner,
                   const ReduceSpec& s, int device) {
  cudaStream_t st = stream(device);
  const Geometry g = geometry(outer, R, inner);
  const int64_t nchunks = reduce_detail::chunk_count(g.blocks, R);
  const int64_t chunk = nchunks > 1 ? (R + nchunks - 1) / nchunks : std::max<int64_t>(R, 1);
  const dim3 grid(reduce_detail::grid_x(g.blocks), static_cast<unsigned>(nchunks));
  const size_t smem = sizeof(double) * reduce_detail::kBlock;
  if (nchunks == 1) {
    reduce_kernel<K><<<grid, reduce_detail::kBlock, smem, st>>>(
        out, nullptr, x, g, R, inner, chunk, 1, s.p, s.center, s.scale, s.root);
    check_launch("reduce_kernel");
    return;
  }
  Workspace ws(sizeof(double) * static_cast<size_t>(outer * nchunks * inner), cuda_device(device));
  double* partial = static_cast<double*>(ws.p);
  reduce_kernel<K><<<grid, reduce_detail::kBlock, smem, st>>>(
      out, partial, x, g, R, inner, chunk, nchunks, s.p, s.center, s.scale, s.root);
  check_launch("reduce_kernel(partials)");
  reduce_partials_kernel<K><<<grid_for(outer * inner), 256, 0, st>>>(out, partial, outer, inner,
                                                                     nchunks, s.scale, s.root);
  check_launch("reduce_partials_kernel");
}

// ---- max / min with indices ----

// Does candidate (bv, bi) replace (av, ai)? Index -1 = empty. NaN beats numbers; among
// equals (or NaNs) the lower index wins.
__device__ __forceinline__ bool takes(float bv, int64_t bi, float av, int64_t ai, bool is_max) {
  if (bi < 0) return false;
  if (ai < 0) return true;
  const bool bn = bv != bv, an = av != av;
  if (bn || an) return bn && an ? bi < ai : bn;
  if (is_max ? bv > av : bv < av) return true;
  return bv == av && bi < ai;
}

__global__ void max_kernel(float* values, int64_t* indices, const float* x, Geometry g,
                           int64_t R, int64_t inner, bool is_max) {
  extern __shared__ double sm_raw[];
  int tx, ty;
  reduce_detail::thread_role(g, &tx, &ty);
  const int TX = g.tx, TY = g.ty;
  int64_t* si = reinterpret_cast<int64_t*>(sm_raw);
  float* sv = reinterpret_cast<float*>(si + reduce_detail::kBlock);
  for (int64_t blk = blockIdx.x; blk < g.blocks; blk += gridDim.x) {
    const int64_t col = blk * TX + tx;
    float best = 0.f;
    int64_t bi = -1;
    if (col < g.cols) {
      const float* base = x + (col / inner) * R * inner + col % inner;
      for (int64_t r = ty; r < R; r += TY) {
        const float v = base[r * inner];
        if (takes(v, r, best, bi, is_max)) {
          best = v;
          bi = r;
        }
      }
    }
    sv[ty * TX + tx] = best;
    si[ty * TX + tx] = bi;
    __syncthreads();
    for (int s = TY / 2; s > 0; s >>= 1) {
      if (ty < s) {
        const int a = ty * TX + tx, b = (ty + s) * TX + tx;
        if (takes(sv[b], si[b], sv[a], si[a], is_max)) {
          sv[a] = sv[b];
          si[a] = si[b];
        }
      }
      __syncthreads();
    }
    if (ty == 0 && col < g.cols) {
      if (values) values[col] = sv[tx];
      if (indices) indices[col] = si[tx];
    }
    __syncthreads();
  }
}

// ---- count_nonzero ----

template <typename T>
__device__ __forceinline__ bool nonzero(T v) {
  return v != T(0);
}

// HalfBits: T is the uint16 bit pattern of bf16/f16, non-zero unless +0 or -0.
template <typename T, bool HalfBits>
__global__ void count_kernel(unsigned long long* total, const T* x, int64_t n) {
  __shared__ unsigned long long sm[256];
  unsigned long long c = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    if constexpr (HalfBits) {
      c += (x[i] & 0x7fffu) != 0 ? 1 : 0;
    } else {
      c += nonzero(x[i]) ? 1 : 0;
    }
  }
  sm[threadIdx.x] = c;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sm[threadIdx.x] += sm[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) atomicAdd(total, sm[0]);  // integer: exact in any order
}

template <typename T, bool HalfBits = false>
void launch_count(unsigned long long* total, const void* x, int64_t n, cudaStream_t st) {
  count_kernel<T, HalfBits><<<grid_for(n, 256), 256, 0, st>>>(total, static_cast<const T*>(x), n);
  check_launch("count_kernel");
}

}  // namespace

void reduce_forward(float* out, const float* x, int64_t outer, int64_t R, int64_t inner,
                    const ReduceSpec& spec, int device) {
  if (outer == 0 || inner == 0) return;
  switch (spec.kind) {
    case ReduceKind::sum: return launch_reduce<ReduceKind::sum>(out, x, outer, R, inner, spec, device);
    case ReduceKind::abs_sum:
      return launch_reduce<ReduceKind::abs_sum>(out, x, outer, R, inner, spec, device);
    case ReduceKind::sq_sum:
      return launch_reduce<ReduceKind::sq_sum>(out, x, outer, R, inner, spec, device);
    case ReduceKind::pow_sum:
      return launch_reduce<ReduceKind::pow_sum>(out, x, outer, R, inner, spec, device);
    case ReduceKind::sq_dev_sum:
      return launch_reduce<ReduceKind::sq_dev_sum>(out, x, outer, R, inner, spec, device);
    case ReduceKind::abs_max:
      return launch_reduce<ReduceKind::abs_max>(out, x, outer, R, inner, spec, device);
  }
}

void max_forward(float* values, int64_t* indices, const float* x, int64_t outer, int64_t R,
                 int64_t inner, bool is_max, int device) {
  if (outer == 0 || inner == 0 || R == 0) return;
  cudaStream_t st = stream(device);
  const Geometry g = geometry(outer, R, inner);
  const size_t smem = (sizeof(int64_t) + sizeof(float)) * reduce_detail::kBlock;
  max_kernel<<<reduce_detail::grid_x(g.blocks), reduce_detail::kBlock, smem, st>>>(
      values, indices, x, g, R, inner, is_max);
  check_launch("max_kernel");
}

int64_t count_nonzero_forward(const void* x, DType dtype, int64_t n, int device) {
  if (n == 0) return 0;
  cudaStream_t st = stream(device);
  Workspace ws(sizeof(unsigned long long), cuda_device(device));
  auto* total = static_cast<unsigned long long*>(ws.p);
  check(cudaMemsetAsync(total, 0, sizeof(unsigned long long), st), "count_nonzero: memset");
  switch (dtype) {
    case DType::f32: launch_count<float>(total, x, n, st); break;
    case DType::f64: launch_count<double>(total, x, n, st); break;
    case DType::i64: launch_count<int64_t>(total, x, n, st); break;
    case DType::i32: launch_count<int32_t>(total, x, n, st); break;
    case DType::u8:
    case DType::boolean: launch_count<uint8_t>(total, x, n, st); break;
    case DType::bf16:
    case DType::f16: launch_count<uint16_t, true>(total, x, n, st); break;
  }
  unsigned long long host = 0;
  check(cudaMemcpyAsync(&host, total, sizeof(host), cudaMemcpyDeviceToHost, st),
        "count_nonzero: copy to host");
  check(cudaStreamSynchronize(st), "count_nonzero: synchronize");
  return static_cast<int64_t>(host);
}

}  // namespace vq::cuda
