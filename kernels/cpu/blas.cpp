// CPU GEMM wrappers over OpenBLAS cblas_sgemm (see blas.h for the layout conventions and
// the threading policy).
#include "kernels/cpu/blas.h"

#include <cblas.h>
#include <omp.h>

#include <climits>

#include "core/error.h"

namespace vq::cpu {

namespace {

// Per-matrix work (M*N*K) below which a batch runs as an OpenMP loop of single-threaded
// GEMMs instead of one (internally threaded) GEMM after another, provided the whole
// batch is worth a parallel region (a tiny batch takes microseconds sequentially).
constexpr int64_t kSmallGemm = 64 * 64 * 64;
constexpr int64_t kParallelBatchWork = int64_t(1) << 22;

void check_sizes(int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb, int64_t ldc) {
  const int64_t lim = INT_MAX;
  VQ_CHECK(ShapeError, M <= lim && N <= lim && K <= lim && lda <= lim && ldb <= lim && ldc <= lim,
                    "sgemm: sizes exceed the BLAS int range: M=", M, " N=", N, " K=", K,
                    " lda=", lda, " ldb=", ldb, " ldc=", ldc);
}

// C = beta * C for the K == 0 / alpha == 0 cases (beta == 0 writes zeros, never reads C).
void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    float* row = C + i * ldc;
    if (beta == 0.f) {
      for (int64_t j = 0; j < N; ++j) row[j] = 0.f;
    } else if (beta != 1.f) {
      for (int64_t j = 0; j < N; ++j) row[j] *= beta;
    }
  }
}

inline void call_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                       float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(M), static_cast<blasint>(N), static_cast<blasint>(K), alpha,
              A, static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C,
              static_cast<blasint>(ldc));
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.f) return scale_c(M, N, beta, C, ldc);
  check_sizes(M, N, K, lda, ldb, ldc);
  call_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                   const float* A, int64_t lda, const int64_t* off_a, const float* B,
                   int64_t ldb, const int64_t* off_b, float beta, float* C, int64_t ldc,
                   int64_t stride_c, int64_t batch) {
  if (M == 0 || N == 0 || batch == 0) return;
  if (K == 0 || alpha == 0.f) {
    for (int64_t i = 0; i < batch; ++i) scale_c(M, N, beta, C + i * stride_c, ldc);
    return;
  }
  check_sizes(M, N, K, lda, ldb, ldc);
  const int threads = omp_get_max_threads();
  if (threads > 1 && batch >= 2 * threads && M * N * K <= kSmallGemm &&
      batch * M * N * K >= kParallelBatchWork && !omp_in_parallel()) {
    // Many small GEMMs: one per OpenMP iteration, OpenBLAS single-threaded meanwhile.
    const int saved = openblas_get_num_threads();
    openblas_set_num_threads(1);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < batch; ++i) {
      call_sgemm(trans_a, trans_b, M, N, K, alpha, A + off_a[i], lda, B + off_b[i], ldb, beta,
                 C + i * stride_c, ldc);
    }
    openblas_set_num_threads(saved);
    return;
  }
  for (int64_t i = 0; i < batch; ++i) {
    call_sgemm(trans_a, trans_b, M, N, K, alpha, A + off_a[i], lda, B + off_b[i], ldb, beta,
               C + i * stride_c, ldc);
  }
}

}  // namespace vq::cpu
