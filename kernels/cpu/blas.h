// Row-major single-precision GEMM on the CPU through OpenBLAS's cblas_sgemm (why
// OpenBLAS: docs/blas-choice.md). Pointers + sizes only; kernels/ops.h has the Tensor API
// (matmul, gemm, bmm).
//
// Conventions (all row-major, element strides):
//   C[M, N] = alpha * op(A) op(B) + beta * C,  op(A) [M, K], op(B) [K, N]
//   A is stored [M, K] with row stride lda >= max(1, K), or [K, M] with lda >= max(1, M)
//   when trans_a; likewise B ([K, N] / [N, K] when trans_b, ldb); C [M, N], ldc >= max(1, N).
//   beta == 0 never reads C (NaN in C is overwritten). K == 0 or alpha == 0 gives beta * C.
//   Sizes must fit BLAS's 32-bit int (throws ShapeError otherwise).
//
// Threading policy (avoid oversubscription): Debian's libopenblas0-pthread runs its own
// pthread pool (OPENBLAS_NUM_THREADS, default = cores); our kernels use OpenMP with
// its own pool. The two never run at once: the ops layer calls sgemm from the calling
// (main) thread, outside any OpenMP parallel region, so OpenBLAS may use every core.
// The one exception is sgemm_batched with many small matrices, which runs the batch in
// an OpenMP loop after setting OpenBLAS to 1 thread (restored afterwards), the same
// scheme as kernels/cpu/nearest_code_blocked.cpp. Never call these functions from inside
// your own OpenMP parallel region; call cblas_sgemm there with OpenBLAS at 1 thread.
// Environment variables OPENBLAS_NUM_THREADS / OPENBLAS_CORETYPE are respected (read by
// OpenBLAS when it loads).
#pragma once
#include <cstdint>

namespace vq::cpu {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc);

// batch independent GEMMs of the same sizes: matrix i of A starts at A + off_a[i], of B
// at B + off_b[i] (offsets in elements, host arrays; equal offsets share a matrix), and
// of C at C + i * stride_c (C blocks must not overlap).
void sgemm_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                   const float* A, int64_t lda, const int64_t* off_a, const float* B,
                   int64_t ldb, const int64_t* off_b, float beta, float* C, int64_t ldc,
                   int64_t stride_c, int64_t batch);

}  // namespace vq::cpu
