// CUDA launchers of the FSQ kernels and the soft clamp: the twins of kernels/cpu/fsq.h,
// running the same element math (kernels/cpu/fsq_math.h), so results are bitwise equal
// to the CPU's. Plain C++ header (no CUDA types); pointers are device pointers; work is
// queued on vq::cuda::stream(device), nothing synchronizes.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/cpu/fsq_math.h"

namespace vq::cuda {

// As cpu::fsq_forward / cpu::fsq_backward (codes, dz, z, dcodes: [N, H*c]; indices [N, H]
// or nullptr).
void fsq_forward(float* codes, int64_t* indices, const float* z, int64_t N, int64_t H,
                 const cpu::FsqTables& t, bool exact, const cpu::FsqNoise& noise, int device);
void fsq_backward(float* dz, const float* dcodes, const float* z, int64_t N, int64_t H,
                  const cpu::FsqTables& t, bool exact, const cpu::FsqNoise& noise, int device);
// As cpu::fsq_indices_to_codes / fsq_codes_to_indices / fsq_indices_to_levels.
void fsq_indices_to_codes(float* codes, const int64_t* indices, int64_t M,
                          const cpu::FsqTables& t, int device);
void fsq_codes_to_indices(int64_t* indices, const float* codes, int64_t M,
                          const cpu::FsqTables& t, int device);
void fsq_indices_to_levels(int64_t* levels, const int64_t* indices, int64_t M,
                           const cpu::FsqTables& t, int device);
// As cpu::fsq_soft_clamp / fsq_soft_clamp_backward; values (host) has 1 or D <= 64 entries.
void fsq_soft_clamp(float* y, const float* x, int64_t N, int64_t D,
                    const std::vector<float>& values, bool exact, int device);
void fsq_soft_clamp_backward(float* dx, const float* g, const float* x, int64_t N, int64_t D,
                             const std::vector<float>& values, bool exact, int device);

}  // namespace vq::cuda
