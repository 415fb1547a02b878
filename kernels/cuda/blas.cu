// cuBLAS GEMM launchers: one lazily created handle per device, bound to the device's
// vq stream, FP32 math unless TF32 is opted in. The row-major <-> column-major
// transpose-swap is done here and only here (explained in kernels/cuda/blas.h).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <mutex>
#include <string>

#include "core/cuda/context.h"
#include "core/error.h"
#include "kernels/cuda/blas.h"

namespace vq::cuda {

namespace {

constexpr int kMaxDevices = 64;
cublasHandle_t g_handles[kMaxDevices] = {};
std::mutex g_mu;

std::atomic<int>& tf32_flag() {
  // -1: not decided yet (read VQ_CUBLAS_TF32 on first use), 0 / 1 afterwards.
  static std::atomic<int> flag{-1};
  return flag;
}

bool tf32_allowed() {
  int f = tf32_flag().load();
  if (f < 0) {
    const char* e = std::getenv("VQ_CUBLAS_TF32");
    f = (e && e[0] == '1') ? 1 : 0;
    int expected = -1;
    tf32_flag().compare_exchange_strong(expected, f);
    f = tf32_flag().load();
  }
  return f == 1;
}

void check_cublas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw CudaError(std::string(what) + ": " + cublasGetStatusString(s));
}

// The handle of `device`, bound to vq::cuda::stream(device), with the current math mode.
// Handles are never destroyed: destroying them at exit can run after the driver is
// gone; the process end releases them.
cublasHandle_t handle(int device) {
  cudaStream_t st = stream(device);  // also validates the index and sets the device
  std::lock_guard<std::mutex> lk(g_mu);
  cublasHandle_t& h = g_handles[device];
  if (!h) {
    check_cublas(cublasCreate(&h), "cublasCreate");
    check_cublas(cublasSetStream(h, st), "cublasSetStream");
  }
  check_cublas(cublasSetMathMode(h, tf32_allowed() ? CUBLAS_TF32_TENSOR_OP_MATH
                                                   : CUBLAS_DEFAULT_MATH),
               "cublasSetMathMode");
  return h;
}

void check_sizes(int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb, int64_t ldc) {
  const int64_t lim = INT_MAX;
  vq::check<ShapeError>(M <= lim && N <= lim && K <= lim && lda <= lim && ldb <= lim && ldc <= lim,
                    "cuda sgemm: sizes exceed cuBLAS's int range: M=", M, " N=", N, " K=", K,
                    " lda=", lda, " ldb=", ldb, " ldc=", ldc);
}

// C[i, j] = beta * C[i, j] over `batch` [M, N] blocks (K == 0 or alpha == 0); beta == 0
// writes zeros without reading C.
__global__ void scale_kernel(float* C, int64_t M, int64_t N, int64_t ldc, int64_t stride_c,
                             int64_t batch, float beta) {
  const int64_t n = batch * M * N;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < n;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = t / (M * N), i = (t / N) % M, j = t % N;
    float* c = C + b * stride_c + i * ldc + j;
    *c = beta == 0.f ? 0.f : beta * *c;
  }
}

void scale_c(float* C, int64_t M, int64_t N, int64_t ldc, int64_t stride_c, int64_t batch,
             float beta, int device) {
  if (beta == 1.f) return;
  cudaStream_t st = stream(device);
  scale_kernel<<<grid_for(batch * M * N), 256, 0, st>>>(C, M, N, ldc, stride_c, batch, beta);
  check_launch("gemm_scale_kernel");
}

inline cublasOperation_t op(bool t) { return t ? CUBLAS_OP_T : CUBLAS_OP_N; }

}  // namespace

void set_tf32_allowed(bool allowed) { tf32_flag().store(allowed ? 1 : 0); }

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc, int device) {
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.f) return scale_c(C, M, N, ldc, 0, 1, beta, device);
  check_sizes(M, N, K, lda, ldb, ldc);
  // Transpose-swap: column-major C^T[N, M] = op(B)^T[N, K] op(A)^T[K, M].
  check_cublas(cublasSgemm(handle(device), op(trans_b), op(trans_a), int(N), int(M), int(K),
                           &alpha, B, int(ldb), A, int(lda), &beta, C, int(ldc)),
               "cublasSgemm");
}

void sgemm_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                   const float* A, int64_t lda, const int64_t* off_a, const float* B,
                   int64_t ldb, const int64_t* off_b, float beta, float* C, int64_t ldc,
                   int64_t stride_c, int64_t batch, int device) {
  if (M == 0 || N == 0 || batch == 0) return;
  if (K == 0 || alpha == 0.f) return scale_c(C, M, N, ldc, stride_c, batch, beta, device);
  check_sizes(M, N, K, lda, ldb, ldc);
  // Uniform offsets (item i at i * s, s >= 0; s = 0 shares one matrix) -> one strided call.
  const int64_t sa = batch > 1 ? off_a[1] - off_a[0] : 0;
  const int64_t sb = batch > 1 ? off_b[1] - off_b[0] : 0;
  bool uniform = off_a[0] == 0 && off_b[0] == 0 && sa >= 0 && sb >= 0 && batch <= INT_MAX;
  for (int64_t i = 0; uniform && i < batch; ++i)
    uniform = off_a[i] == i * sa && off_b[i] == i * sb;
  cublasHandle_t h = handle(device);
  if (uniform) {
    check_cublas(cublasSgemmStridedBatched(h, op(trans_b), op(trans_a), int(N), int(M), int(K),
                                           &alpha, B, int(ldb), sb, A, int(lda), sa, &beta, C,
                                           int(ldc), stride_c, int(batch)),
                 "cublasSgemmStridedBatched");
    return;
  }
  for (int64_t i = 0; i < batch; ++i) {
    check_cublas(cublasSgemm(h, op(trans_b), op(trans_a), int(N), int(M), int(K), &alpha,
                             B + off_b[i], int(ldb), A + off_a[i], int(lda), &beta,
                             C + i * stride_c, int(ldc)),
                 "cublasSgemm (batch item)");
  }
}

}  // namespace vq::cuda
