// Launcher of the CUDA code-statistics kernel (plain C++ header). Same contract as
// vq::cpu::code_stats (kernels/cpu/code_stats.h) except that rows whose index is outside
// [0, K) are skipped silently. Deterministic: rows are stably sorted by (head, code)
// (CUB radix sort), each code's rows are cut into fixed chunks of 256 that are summed in
// row order, and the chunk partials are added in chunk order. No float atomics. Device
// pointers on `device`; queued on vq::cuda::stream(device); no host synchronization.
#pragma once
#include <cstdint>

namespace vq::cuda {

void code_stats(float* counts, float* sums, const int64_t* idx, const float* x,
                const float* weights, const uint8_t* mask, int64_t H, int64_t N, int64_t K,
                int64_t D, int64_t idx_hs, int64_t x_hs, int64_t w_hs, int64_t m_hs,
                int device);

}  // namespace vq::cuda
