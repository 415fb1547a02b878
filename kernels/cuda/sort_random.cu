// CUDA randperm and multinomial (launchers in kernels/cuda/sort.h). They evaluate the
// same Philox formulas as kernels/cpu/sort_random.cpp (kernels/cpu/sort_keys.h) and
// order with the stable sorts of sort.cu, so a seed gives identical results on both
// devices. No CUB include here.
#include <cuda_runtime.h>

#include <climits>

#include "core/cuda/context.h"
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

__global__ void randperm_keys_kernel(uint64_t* keys, int64_t n, uint64_t seed, uint64_t base) {
  for (int64_t p = first_index(); p < n; p += grid_stride())
    keys[p] = sortkey::randperm_key(seed, base, static_cast<uint64_t>(p));
}

__global__ void stats_init_kernel(int64_t* st, int64_t K) {
  st[0] = 0;
  st[1] = 0;
  st[2] = K;
}

// One thread per row: invalid entries, rows with a non-positive sum, min positive count.
__global__ void prob_stats_kernel(int64_t* st, const float* p, int64_t R, int64_t K) {
  for (int64_t r = first_index(); r < R; r += grid_stride()) {
    const float* pr = p + r * K;
    double sum = 0;
    long long bad = 0, nnz = 0;
    for (int64_t k = 0; k < K; ++k) {
      const float v = pr[k];
      if (!(v >= 0.f) || isinf(v))
        ++bad;
      else if (v > 0.f)
        ++nnz;
      sum += v;
    }
    if (bad) atomicAdd(reinterpret_cast<unsigned long long*>(st), (unsigned long long)bad);
    if (!(sum > 0)) atomicAdd(reinterpret_cast<unsigned long long*>(st + 1), 1ull);
    atomicMin(reinterpret_cast<long long*>(st + 2), nnz);
  }
}

// Sequential double CDF per row, exactly the CPU's summation order.
__global__ void cdf_kernel(double* cdf, const float* p, int64_t R, int64_t K) {
  for (int64_t r = first_index(); r < R; r += grid_stride()) {
    double acc = 0;
    for (int64_t k = 0; k < K; ++k) {
      acc += static_cast<double>(p[r * K + k]);
      cdf[r * K + k] = acc;
    }
  }
}

__global__ void sample_kernel(int64_t* out, const double* cdf, int64_t R, int64_t K, int64_t S,
                              uint64_t seed, uint64_t base) {
  const int64_t n = R * S;
  for (int64_t p = first_index(); p < n; p += grid_stride()) {
    const int64_t r = p / S;
    const double u = sortkey::uniform53(seed, base, static_cast<uint64_t>(p));
    const double* c = cdf + r * K;
    out[p] = sortkey::upper_bound_cdf(c, K, __dmul_rn(u, c[K - 1]));
  }
}

// Exponential race times -log(u) / p as ordered keys (zero weight: +inf).
__global__ void race_keys_kernel(uint64_t* keys, const float* p, int64_t n, uint64_t seed,
                                 uint64_t base) {
  for (int64_t q = first_index(); q < n; q += grid_stride()) {
    const double u = sortkey::uniform53_open0(seed, base, static_cast<uint64_t>(q));
    const float w = p[q];
    const double t = w > 0.f ? __ddiv_rn(-log(u), static_cast<double>(w))
                             : __longlong_as_double(0x7ff0000000000000LL);
    keys[q] = sortkey::f64_key(t);
  }
}

__global__ void first_s_kernel(int64_t* out, const int64_t* perm, int64_t R, int64_t K, int64_t S) {
  const int64_t n = R * S;
  for (int64_t p = first_index(); p < n; p += grid_stride()) out[p] = perm[(p / S) * K + p % S];
}

}  // namespace

void randperm(int64_t* out, int64_t n, uint64_t seed, uint64_t base, int device) {
  if (n == 0) return;
  Workspace keys(static_cast<size_t>(n) * 8, device);
  randperm_keys_kernel<<<grid_for(n), kBlock, 0, stream(device)>>>(keys.as<uint64_t>(), n, seed,
                                                                   base);
  check_launch("randperm_keys_kernel");
  stable_argsort_u64(out, keys.as<uint64_t>(), n, device);
}

void prob_stats(int64_t* bad, int64_t* zero_rows, int64_t* min_nonzero, const float* p, int64_t R,
                int64_t K, int device) {
  cudaStream_t s = stream(device);
  Workspace st(3 * sizeof(int64_t), device);
  stats_init_kernel<<<1, 1, 0, s>>>(st.as<int64_t>(), K);
  check_launch("stats_init_kernel");
  if (R > 0) {
    prob_stats_kernel<<<grid_for(R), kBlock, 0, s>>>(st.as<int64_t>(), p, R, K);
    check_launch("prob_stats_kernel");
  }
  int64_t h[3];
  check(cudaMemcpyAsync(h, st.get(), sizeof(h), cudaMemcpyDeviceToHost, s), "prob_stats: read");
  check(cudaStreamSynchronize(s), "prob_stats: synchronize");
  *bad = h[0];
  *zero_rows = h[1];
  *min_nonzero = h[2];
}

void multinomial(int64_t* out, const float* p, int64_t R, int64_t K, int64_t S, bool replacement,
                 uint64_t seed, uint64_t base, int device) {
  if (R * S == 0) return;
  cudaStream_t s = stream(device);
  if (replacement) {
    Workspace cdf(static_cast<size_t>(R * K) * sizeof(double), device);
    cdf_kernel<<<grid_for(R, 64), 64, 0, s>>>(cdf.as<double>(), p, R, K);
    check_launch("cdf_kernel");
    sample_kernel<<<grid_for(R * S), kBlock, 0, s>>>(out, cdf.as<double>(), R, K, S, seed, base);
    check_launch("sample_kernel");
    return;
  }
  Workspace keys(static_cast<size_t>(R * K) * 8, device);
  Workspace perm(static_cast<size_t>(R * K) * sizeof(int64_t), device);
  race_keys_kernel<<<grid_for(R * K), kBlock, 0, s>>>(keys.as<uint64_t>(), p, R * K, seed, base);
  check_launch("race_keys_kernel");
  segmented_argsort_u64(perm.as<int64_t>(), keys.as<uint64_t>(), R, K, device);
  first_s_kernel<<<grid_for(R * S), kBlock, 0, s>>>(out, perm.as<int64_t>(), R, K, S);
  check_launch("first_s_kernel");
}

}  // namespace vq::cuda
