// Launchers of the CUDA nearest-code kernels (plain C++ header: no CUDA types). All
// pointers are device pointers on `device`; work is queued on vq::cuda::stream(device)
// and nothing synchronizes. Layouts, scores and tie rules are those of the CPU kernels
// (kernels/cpu/nearest_code.h): x [H, N, D] with head stride x_hs (0 = shared), codes
// [H, K, D] with head stride c_hs (0 = shared), idx i64 / score f32 [H, N] ([H, N, k]
// for top-k), similarities [H, N, K]. Exact fp32 (FFMA; cuBLAS without TF32).
//
// Paths:
//   small_d  D <= 32: each thread keeps 2-4 rows of x in registers (pre-scaled by -2 or
//            -1), codes stream through shared memory, running (value, index) minimum in
//            registers. D is padded to a multiple of 4 at compile time.
//   tiled    fused SGEMM-style kernel: 128 x 128 (rows x codes) CTA tile, 8 x 8 per
//            thread, BK = 8 slices of x and codes in shared memory, epilogue
//            |c|^2 - 2 ip (or -ip) folded into a per-row running minimum in registers,
//            then a 16-lane shuffle reduction. No N x K buffer.
//   gemm     cuBLAS SGEMM into a row tile (<= 256 MiB) + a warp-per-row argmin kernel.
// Codes are split across CTAs when there are too few row tiles to fill the GPU; partial
// (value, index) pairs are merged by a lexicographic minimum, which is order-independent
// and therefore deterministic.
// Heuristic (nearest_code_choose_path): small_d for D <= 32, tiled for 32 < D < 512,
// gemm for D >= 512 (there the unfused traffic of 8 B per pair is small against 2D
// flops per pair and cuBLAS's tuned SGEMM beats our SIMT tile).
#pragma once
#include <cstdint>

namespace vq::cuda {

enum class NcCudaPath { automatic, small_d, tiled, gemm };

NcCudaPath nearest_code_choose_path(int64_t N, int64_t K, int64_t D);

void nearest_code(int64_t* idx, float* score, const float* x, const float* codes, int64_t H,
                  int64_t N, int64_t K, int64_t D, int64_t x_hs, int64_t c_hs,
                  bool inner_product, int device, NcCudaPath path = NcCudaPath::automatic);

// Top-k (1 <= k <= 32, k <= K), best first, equal scores in ascending index. cuBLAS
// SGEMM into a row tile + a warp-per-row selection kernel.
void nearest_code_topk(int64_t* idx, float* score, const float* x, const float* codes,
                       int64_t H, int64_t N, int64_t K, int64_t D, int64_t x_hs, int64_t c_hs,
                       int64_t k, bool inner_product, int device);

// Similarities out [H, N, K]: -sqrt(max((|x|^2 + |c|^2) - 2 x.c, 1e-8)) or x.c.
void code_similarity(float* out, const float* x, const float* codes, int64_t H, int64_t N,
                     int64_t K, int64_t D, int64_t x_hs, int64_t c_hs, bool inner_product,
                     int device);

}  // namespace vq::cuda
