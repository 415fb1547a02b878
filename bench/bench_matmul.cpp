// Matmul benchmark: ops::matmul / ops::gemm / ops::bmm against the raw cblas_sgemm call
// at the same shapes in the same process (CPU). Counters: GFLOP/s, and vs_sgemm = (raw
// sgemm time) / (our time) from paired back-to-back rounds (see paired_ratio), so 1.0
// means no overhead and the figure survives a noisy machine. Shapes are the nearest-code
// distance GEMM out[N, K] = X[N, D] C[K, D]^T (Args: N, D, K) plus a batched multi-head one.
//
//   build/bench/bench_matmul --benchmark_min_time=0.2
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "kernels/ops.h"

namespace {

using vq::Tensor;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// vs_sgemm = raw time / our time, from 7 paired rounds (raw then ours, each repeated until
// it lasts >= 2 ms), median of the per-round ratios: pairing adjacent runs cancels the
// load drift of a shared machine better than comparing two separate benchmarks.
template <typename Raw, typename Ours>
double paired_ratio(Raw raw, Ours ours) {
  raw();
  ours();  // warm-up (allocator cache, BLAS threads)
  int reps = 1;
  for (;;) {
    const auto t0 = clock_type::now();
    for (int i = 0; i < reps; ++i) raw();
    if (seconds_since(t0) >= 2e-3 || reps >= (1 << 20)) break;
    reps *= 2;
  }
  std::vector<double> ratios;
  for (int round = 0; round < 7; ++round) {
    auto t0 = clock_type::now();
    for (int i = 0; i < reps; ++i) raw();
    const double r = seconds_since(t0);
    t0 = clock_type::now();
    for (int i = 0; i < reps; ++i) ours();
    ratios.push_back(r / seconds_since(t0));
  }
  std::sort(ratios.begin(), ratios.end());
  return ratios[ratios.size() / 2];
}

// One raw row-major sgemm per batch item: out[b] = x[b] c[b]^T.
void raw_sgemm(const float* x, const float* c, float* out, int n, int d, int k, int batch = 1) {
  for (int b = 0; b < batch; ++b) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, k, d, 1.f,
                x + static_cast<size_t>(b) * n * d, d, c + static_cast<size_t>(b) * k * d, d, 0.f,
                out + static_cast<size_t>(b) * n * k, k);
  }
}

void set_counters(benchmark::State& state, double flops, double ratio) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["vs_sgemm"] = ratio;
}

void BM_sgemm_raw(benchmark::State& state) {
  const int n = int(state.range(0)), d = int(state.range(1)), k = int(state.range(2));
  vq::Generator gen(1);
  const Tensor x = Tensor::randn({n, d}, gen), c = Tensor::randn({k, d}, gen);
  Tensor out = Tensor::empty({n, k});
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, k, d, 1.f, x.data<float>(), d,
                c.data<float>(), d, 0.f, out.data<float>(), k);
    benchmark::DoNotOptimize(out.data<float>());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * d * k * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// ops::matmul(x, c.t()): validation, a transposed view passed as trans_b, a fresh output.
void BM_ops_matmul(benchmark::State& state) {
  const int n = int(state.range(0)), d = int(state.range(1)), k = int(state.range(2));
  vq::Generator gen(1);
  const Tensor x = Tensor::randn({n, d}, gen), c = Tensor::randn({k, d}, gen);
  Tensor scratch = Tensor::empty({n, k});
  auto ours = [&] { benchmark::DoNotOptimize(vq::ops::matmul(x, c.t()).data<float>()); };
  const double ratio = paired_ratio(
      [&] { raw_sgemm(x.data<float>(), c.data<float>(), scratch.data<float>(), n, d, k); }, ours);
  for (auto _ : state) ours();
  set_counters(state, 2.0 * n * d * k, ratio);
}

// ops::gemm into a preallocated output (what a training step does in the steady state).
void BM_ops_gemm(benchmark::State& state) {
  const int n = int(state.range(0)), d = int(state.range(1)), k = int(state.range(2));
  vq::Generator gen(1);
  const Tensor x = Tensor::randn({n, d}, gen), c = Tensor::randn({k, d}, gen);
  Tensor out = Tensor::empty({n, k});
  auto ours = [&] {
    vq::ops::gemm(x, false, c, true, out);
    benchmark::DoNotOptimize(out.data<float>());
  };
  const double ratio = paired_ratio(
      [&] { raw_sgemm(x.data<float>(), c.data<float>(), out.data<float>(), n, d, k); }, ours);
  for (auto _ : state) ours();
  set_counters(state, 2.0 * n * d * k, ratio);
}

// ops::bmm over H heads: x [H, N, D], c [H, K, D] -> [H, N, K]; baseline = H raw calls.
void BM_ops_bmm(benchmark::State& state) {
  const int h = int(state.range(0)), n = int(state.range(1)), d = int(state.range(2)),
            k = int(state.range(3));
  vq::Generator gen(1);
  const Tensor x = Tensor::randn({h, n, d}, gen), c = Tensor::randn({h, k, d}, gen);
  Tensor scratch = Tensor::empty({h, n, k});
  auto ours = [&] { benchmark::DoNotOptimize(vq::ops::bmm(x, c, false, true).data<float>()); };
  const double ratio = paired_ratio(
      [&] { raw_sgemm(x.data<float>(), c.data<float>(), scratch.data<float>(), n, d, k, h); },
      ours);
  for (auto _ : state) ours();
  set_counters(state, 2.0 * h * n * d * k, ratio);
}

void nearest_code_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"N", "D", "K"});
  b->Args({16384, 1024, 256});
  b->Args({12544, 256, 32});
  b->Args({256, 784, 512});
  b->Args({4096, 256, 1024});
  b->Args({64, 64, 64});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(BM_sgemm_raw)->Apply(nearest_code_shapes);
BENCHMARK(BM_ops_matmul)->Apply(nearest_code_shapes);
BENCHMARK(BM_ops_gemm)->Apply(nearest_code_shapes);
BENCHMARK(BM_ops_bmm)
    ->ArgNames({"H", "N", "D", "K"})
    ->Args({8, 2048, 64, 512})
    ->Args({64, 16, 8, 8})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
