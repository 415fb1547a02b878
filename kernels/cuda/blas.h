// cuBLAS GEMM launchers with the same row-major conventions as kernels/cpu/blas.h
// (C[M, N] = alpha * op(A) op(B) + beta * C; lda/ldb/ldc are row strides). Plain C++
// header (no CUDA types); pointers are device pointers; work is queued on
// vq::cuda::stream(device) through one cuBLAS handle per device, created lazily on first
// use (never during static initialization) and kept for the life of the process.
//
// Row-major via the transpose-swap trick (the one place it is done, in blas.cu): a
// row-major [R, C] matrix with row stride ld is, byte for byte, a column-major [C, R]
// matrix with leading dimension ld, i.e. its transpose. So the row-major product
//   C = op(A) op(B)              ([M, N] = [M, K] [K, N])
// is the column-major product
//   C^T = op(B)^T op(A)^T        ([N, M] = [N, K] [K, M])
// which is cublasSgemm(opB, opA, n = N, m = M, k = K, B, ldb, A, lda, C, ldc): swap the
// operands and the sizes M <-> N, keep each operand's own transpose flag and ld.
//
// Math mode: CUBLAS_DEFAULT_MATH (true FP32, no TF32) unless the process opts in with
// set_tf32_allowed(true) or the environment variable VQ_CUBLAS_TF32=1.
#pragma once
#include <cstdint>

namespace vq::cuda {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc, int device);

// As vq::cpu::sgemm_batched: off_a / off_b are host arrays of element offsets per batch
// item, C blocks at i * stride_c. Uniform offsets (i * s, s >= 0) become one
// cublasSgemmStridedBatched call; other layouts one cublasSgemm per item.
void sgemm_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                   const float* A, int64_t lda, const int64_t* off_a, const float* B,
                   int64_t ldb, const int64_t* off_b, float beta, float* C, int64_t ldc,
                   int64_t stride_c, int64_t batch, int device);

// TF32 tensor-core math for subsequent GEMMs on every device (default false).
void set_tf32_allowed(bool allowed);

}  // namespace vq::cuda
