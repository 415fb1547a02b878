// `vq bench vq`: times VectorQuantize on one device against the sgemm of the same
// shape (X[N, D] C[K, D]^T, the one GEMM a distance computation needs), so every
// figure can be read as a ratio measured in the same process (PERF.md C1-C3, G1).
//
// Rows (each the median of `repeats` calls after `warmup` calls):
//   sgemm         cblas_sgemm / cuBLAS sgemm into an N x K buffer (allocated once)
//   sgemm_argmin  the same plus an argmin over |c|^2 - 2 x.c per row (the unfused
//                 baseline PERF.md C2 compares with)
//   search        ops::nearest_code, the fused nearest-code search alone
//   forward       VectorQuantize eval-mode forward under no-grad
//   step          one training step: train-mode forward (rotation trick, commitment loss,
//                 EMA update of the codebook), then backward of (quantized, loss) with
//                 gradients (g, 1) down to the input
// Module: VectorQuantize(dim, codebook_size, decay = 0.8), every other option at the
// reference's default, input x and gradient g of shape (1, N, dim), standard normal.
// Peak memory per row comes from MemProbe (apps/bench/mem_probe.h).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/device.h"

namespace vq::app {

struct VqBenchOptions {
  int64_t n = 16384, dim = 256, codebook_size = 1024;
  Device device;    // cpu by default
  int threads = 0;  // CPU threads for OpenMP and OpenBLAS; 0 keeps the defaults
  int repeats = 7;  // timed calls per row (median reported)
  int warmup = 1;   // untimed calls first
  uint64_t seed = 0;
  // Rows to run (names above); empty runs all. Without sgemm, ratio_to_sgemm is 0.
  std::vector<std::string> rows;
};

struct VqBenchRow {
  std::string name;
  double ms = 0;         // median wall time of one call
  double ms_min = 0;     // fastest call
  double cpu_ms = 0;     // median process CPU time of one call (CPU device; 0 on CUDA)
  double gflops_eq = 0;  // 2 N K D / ms
  double ratio_to_sgemm = 0;
  std::optional<int64_t> peak_mem_bytes;  // nullopt: not measurable here
};

struct VqBenchResult {
  VqBenchOptions options;
  int threads = 0;         // threads in effect (CPU)
  std::string simd;        // nearest-code SIMD level (CPU)
  std::string mem_method;  // how peak memory was measured
  std::vector<VqBenchRow> rows;
  const VqBenchRow& row(const std::string& name) const;
};

// Runs the requested rows (all by default). Throws ConfigError when N, D or K is not
// positive or does not fit BLAS's 32-bit int, or for an unknown row name; DeviceError
// when the device is not available; vq::Error when memory runs out (the sgemm rows
// allocate an N x K buffer).
VqBenchResult run_vq_bench(const VqBenchOptions& opts);

}  // namespace vq::app
