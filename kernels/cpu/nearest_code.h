// Raw CPU kernels for nearest-code search (vector quantization): for each input row
// find the code with the smallest squared Euclidean distance (or the largest inner
// product), its top-k variant, and the materialized [N, K] similarity matrix for the
// losses that consume it. Pointers + sizes only (no Tensor); see kernels/ops_vq.h for
// the validated Tensor-level API.
//
// Layout (all row-major, contiguous, f32):
//   x     [H, N, D]  head h starts at x + h * x_head_stride      (stride 0: shared x)
//   codes [H, K, D]  head h starts at codes + h * codes_head_stride (stride 0: shared)
//   idx   [H, N] i64, score [H, N] f32 (top-k: [H, N, k]), similarity [H, N, K].
//
// Scores:
//   Euclidean:     score = max(|x|^2 + |c|^2 - 2 x.c, 0)  (squared distance, FAISS form;
//                  the naive oracle computes sum (x - c)^2 directly in double)
//   inner product: score = x.c  (cosine when the caller L2-normalized x and codes)
// Ties: the lowest code index wins (torch argmin / argmax). NaN inputs give
// unspecified indices.
//
// Paths (chosen by nearest_code_choose_path, or forced for tests and benchmarks):
//   naive    scalar double-precision loop; the test oracle and the fallback on CPUs
//            without AVX2.
//   small_d  direct register-tiled kernel for D <= kSmallDMax: the codebook is
//            transposed once per call into panels of 16 codes ([D][16] floats holding
//            -2c, or -c for inner product, plus a bias lane of |c|^2, or 0), and a tile
//            of R input rows (R = 8 with AVX-512, 4 with AVX2) against 16 (8) codes keeps
//            its running minimum and index in vector registers.
//   blocked  FAISS-style: |c|^2 once, then per-thread blocks of bs rows (bs * K * 4 B <=
//            1 MiB), a single-threaded cblas_sgemm into a thread-local scratch, and a
//            vectorized running argmin over |c|^2 - 2 ip; |x|^2 is added at the end. The
//            N x K matrix is never allocated.
// BLAS threading policy: while our OpenMP region runs more than one thread, OpenBLAS is
// set to 1 thread (openblas_set_num_threads) and restored afterwards, so BLAS never
// spawns threads inside our threads. Callers must not run two vq kernels concurrently
// from different host threads (the project runs ops from one host thread).
#pragma once
#include <cstdint>

namespace vq::cpu {

// Sizes and head strides (in elements) of a nearest-code problem.
struct NcShape {
  int64_t H = 1, N = 0, K = 0, D = 0;
  int64_t x_head_stride = 0;      // usually N * D; 0 when every head reads the same x
  int64_t codes_head_stride = 0;  // usually K * D; 0 when every head shares one codebook
};

enum class NcPath { automatic, naive, small_d, blocked };
enum class SimdLevel { scalar = 0, avx2 = 1, avx512 = 2 };

// Largest D handled by the small_d path when it is chosen automatically.
constexpr int64_t kSmallDMax = 32;

// The best SIMD level this CPU supports (cached; VQ_CPU_SIMD=scalar|avx2|avx512 in the
// environment lowers it, for testing).
SimdLevel simd_level();
const char* simd_level_name(SimdLevel s);

// Heuristic: naive without AVX2; small_d for D <= 32 with AVX-512 (D <= 16 with AVX2
// only, where 8-lane panels run out of registers sooner); blocked otherwise.
NcPath nearest_code_choose_path(int64_t N, int64_t K, int64_t D);

// Top-1 search. idx [H, N] i64, score [H, N] f32 (see scores above). K >= 1, K < 2^31.
// `simd` caps the instruction set used by the SIMD paths (tests exercise each level).
void nearest_code(int64_t* idx, float* score, const float* x, const float* codes,
                  const NcShape& s, bool inner_product, NcPath path = NcPath::automatic,
                  SimdLevel simd = simd_level());

// The scalar oracle: distances in double as sum (x - c)^2 (or sum x c), lowest index on
// ties; score is that double rounded to f32.
void nearest_code_naive(int64_t* idx, float* score, const float* x, const float* codes,
                        const NcShape& s, bool inner_product);

// Top-k search: idx [H, N, k] i64, score [H, N, k] f32, best first (ascending distance or
// descending similarity; equal scores in ascending index). 1 <= k <= K. Uses the blocked
// sgemm path for every D.
void nearest_code_topk(int64_t* idx, float* score, const float* x, const float* codes,
                       const NcShape& s, int64_t k, bool inner_product);
// Oracle for top-k (double precision, direct differences).
void nearest_code_topk_naive(int64_t* idx, float* score, const float* x, const float* codes,
                             const NcShape& s, int64_t k, bool inner_product);

// Materialized similarities out [H, N, K] f32:
//   Euclidean:     out = -sqrt(max((|x|^2 + |c|^2) - 2 x.c, 1e-8))   (the reference's
//                  cdist negated, SPEC 1.1: smallest distance 1e-4)
//   inner product: out = x.c
// |x|^2 and |c|^2 are f32 sums of squares; x.c comes from sgemm.
void code_similarity(float* out, const float* x, const float* codes, const NcShape& s,
                     bool inner_product);

// Row norms: out[i] = sum_d a[i, d]^2 (f32 accumulation), a [rows, D]. Parallel.
void row_sq_norms(float* out, const float* a, int64_t rows, int64_t D);

}  // namespace vq::cpu
