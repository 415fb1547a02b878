// CUDA deterministic keyed sums: segment_sum (index_add, weighted bincount) and
// scatter_add (launchers in kernels/cuda/index.h). No float atomics:
//   1. counts[k] by integer atomics (exact), seg = exclusive scan of counts;
//   2. perm = stable radix sort of the keys, so rows of a key sit in source order;
//   3. each key's rows are cut into fixed pieces of kPiece rows; one thread per
//      (piece, outer, column) sums its piece in double (i64 for i64) — a key with a
//      single piece is finished in place, otherwise the piece sum goes to a partial;
//   4. one thread per (key, outer, column) adds that key's partials in piece order.
// The pieces depend only on the keys, so the result is the same on every run. The sort
// and scans come from sort.cu (the one CUB translation unit).
#include <cuda_runtime.h>

#include "core/cuda/context.h"
#include "kernels/cuda/index.h"
#include "kernels/cuda/index_workspace.h"
#include "kernels/cuda/sort.h"

namespace vq::cuda {

namespace {

constexpr int kBlock = 256;
constexpr int64_t kPiece = 32;

__device__ __forceinline__ int64_t first_index() {
  return blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() { return (int64_t)gridDim.x * blockDim.x; }

template <typename T>
struct AccOf {
  using type = double;
  using alpha = double;
};
template <>
struct AccOf<int64_t> {
  using type = int64_t;
  using alpha = int64_t;
};

// dst + alpha * acc without FMA contraction (matches the CPU's separate operations).
__device__ __forceinline__ float finish(float d, double alpha, double acc) {
  return static_cast<float>(__dadd_rn(static_cast<double>(d), __dmul_rn(alpha, acc)));
}
__device__ __forceinline__ int64_t finish(int64_t d, int64_t alpha, int64_t acc) {
  return d + alpha * acc;
}

__global__ void histogram_kernel(int64_t* counts, const int64_t* keys, int64_t n) {
  for (int64_t p = first_index(); p < n; p += grid_stride())
    atomicAdd(reinterpret_cast<unsigned long long*>(counts + keys[p]), 1ull);
}

__global__ void pieces_kernel(int64_t* np, const int64_t* counts, int64_t n) {
  for (int64_t k = first_index(); k < n; k += grid_stride())
    np[k] = (counts[k] + kPiece - 1) / kPiece;
}

// Key owning piece pc: the last k with poff[k] <= pc (poff[M] > pc).
__device__ __forceinline__ int64_t key_of_piece(const int64_t* poff, int64_t M, int64_t pc) {
  int64_t lo = 0, hi = M;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (poff[mid] <= pc)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

template <typename T, typename A, typename Alpha>
__global__ void piece_sum_kernel(T* dst, A* partial, const T* src, const int64_t* perm,
                                 const int64_t* seg, const int64_t* poff, int64_t N, int64_t M,
                                 int64_t O, int64_t I, int64_t bound, Alpha alpha) {
  const int64_t total = bound * O * I;
  const int64_t pieces = poff[M];
  for (int64_t p = first_index(); p < total; p += grid_stride()) {
    const int64_t t = p % I, rest = p / I;
    const int64_t o = rest % O, pc = rest / O;
    if (pc >= pieces) continue;
    const int64_t k = key_of_piece(poff, M, pc);
    const int64_t j0 = seg[k] + (pc - poff[k]) * kPiece;
    const int64_t j1 = (j0 + kPiece < seg[k + 1]) ? j0 + kPiece : seg[k + 1];
    const T* sb = src + o * N * I + t;
    A acc = A(0);
    for (int64_t j = j0; j < j1; ++j) acc += static_cast<A>(sb[perm[j] * I]);
    if (poff[k + 1] - poff[k] == 1) {
      T* d = dst + (o * M + k) * I + t;
      *d = finish(*d, alpha, acc);
    } else {
      partial[(o * bound + pc) * I + t] = acc;
    }
  }
}

template <typename T, typename A, typename Alpha>
__global__ void combine_kernel(T* dst, const A* partial, const int64_t* poff, int64_t M, int64_t O,
                               int64_t I, int64_t bound, Alpha alpha) {
  const int64_t total = M * O * I;
  for (int64_t p = first_index(); p < total; p += grid_stride()) {
    const int64_t t = p % I, rest = p / I;
    const int64_t o = rest % O, k = rest / O;
    const int64_t q0 = poff[k], q1 = poff[k + 1];
    if (q1 - q0 <= 1) continue;
    A acc = A(0);
    for (int64_t q = q0; q < q1; ++q) acc += partial[(o * bound + q) * I + t];
    T* d = dst + (o * M + k) * I + t;
    *d = finish(*d, alpha, acc);
  }
}

template <typename T>
void segment_sum_t(T* dst, const T* src, const int64_t* keys, int64_t N, int64_t M, int64_t O,
                   int64_t I, double alpha, int device) {
  using A = typename AccOf<T>::type;
  using Alpha = typename AccOf<T>::alpha;
  if (N == 0 || M == 0 || O == 0 || I == 0) return;
  cudaStream_t s = stream(device);
  const size_t m1 = static_cast<size_t>(M + 1) * sizeof(int64_t);
  Workspace counts(m1, device), seg(m1, device), np(m1, device), poff(m1, device);
  Workspace perm(static_cast<size_t>(N) * sizeof(int64_t), device);
  check(cudaMemsetAsync(counts.get(), 0, m1, s), "segment_sum memset");
  histogram_kernel<<<grid_for(N), kBlock, 0, s>>>(counts.as<int64_t>(), keys, N);
  check_launch("histogram_kernel");
  exclusive_sum_i64(seg.as<int64_t>(), counts.as<int64_t>(), M + 1, device);
  pieces_kernel<<<grid_for(M + 1), kBlock, 0, s>>>(np.as<int64_t>(), counts.as<int64_t>(), M + 1);
  check_launch("pieces_kernel");
  exclusive_sum_i64(poff.as<int64_t>(), np.as<int64_t>(), M + 1, device);
  stable_argsort_keys(perm.as<int64_t>(), keys, N, M, device);

  // Every non-empty key has at least one piece; pieces beyond one per key cover kPiece rows.
  const int64_t bound = (N + kPiece - 1) / kPiece + (M < N ? M : N);
  Workspace partial(static_cast<size_t>(bound * O * I) * sizeof(A), device);
  const Alpha a = static_cast<Alpha>(alpha);
  piece_sum_kernel<T, A, Alpha><<<grid_for(bound * O * I), kBlock, 0, s>>>(
      dst, partial.as<A>(), src, perm.as<int64_t>(), seg.as<int64_t>(), poff.as<int64_t>(), N, M, O,
      I, bound, a);
  check_launch("piece_sum_kernel");
  combine_kernel<T, A, Alpha><<<grid_for(M * O * I), kBlock, 0, s>>>(
      dst, partial.as<A>(), poff.as<int64_t>(), M, O, I, bound, a);
  check_launch("combine_kernel");
}

__global__ void scatter_keys_kernel(int64_t* keys, const int64_t* idx, int64_t O, int64_t K,
                                    int64_t J, int64_t I) {
  const int64_t n = O * J * I;
  for (int64_t p = first_index(); p < n; p += grid_stride()) {
    const int64_t o = p / (J * I), i = p % I;
    keys[p] = (o * K + idx[p]) * I + i;
  }
}

template <typename T>
void scatter_add_t(T* out, const int64_t* idx, const T* src, int64_t O, int64_t K, int64_t J,
                   int64_t I, int device) {
  const int64_t n = O * J * I;
  if (n == 0) return;
  Workspace keys(static_cast<size_t>(n) * sizeof(int64_t), device);
  scatter_keys_kernel<<<grid_for(n), kBlock, 0, stream(device)>>>(keys.as<int64_t>(), idx, O, K, J,
                                                                  I);
  check_launch("scatter_keys_kernel");
  segment_sum_t(out, src, keys.as<int64_t>(), n, O * K * I, 1, 1, 1.0, device);
}

}  // namespace

void segment_sum(float* dst, const float* src, const int64_t* keys, int64_t N, int64_t M, int64_t O,
                 int64_t I, double alpha, int device) {
  segment_sum_t(dst, src, keys, N, M, O, I, alpha, device);
}
void segment_sum(int64_t* dst, const int64_t* src, const int64_t* keys, int64_t N, int64_t M,
                 int64_t O, int64_t I, double alpha, int device) {
  segment_sum_t(dst, src, keys, N, M, O, I, alpha, device);
}

void scatter_add(float* out, const int64_t* idx, const float* src, int64_t O, int64_t K, int64_t J,
                 int64_t I, int device) {
  scatter_add_t(out, idx, src, O, K, J, I, device);
}
void scatter_add(int64_t* out, const int64_t* idx, const int64_t* src, int64_t O, int64_t K,
                 int64_t J, int64_t I, int device) {
  scatter_add_t(out, idx, src, O, K, J, I, device);
}

}  // namespace vq::cuda
