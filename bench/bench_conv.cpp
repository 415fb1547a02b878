// Conv2d forward + backward at the reference example's shapes (Fashion-MNIST
// autoencoder: batch 256, 3x3 kernels, padding 1): 1 -> 16 channels at 28x28 and
// 16 -> 32 at 14x14, through nn::conv2d and the autograd engine (the path a training
// step takes: forward, then dx, dW and dbias). Same-process baseline: one sgemm of
// the equivalent im2col GEMM shape (M = out channels, N = batch * output pixels,
// K = in channels * 9), which has exactly the forward's FLOPs; the backward's two
// GEMMs have the same count again each, so
//   vs_sgemm = (3 x sgemm time) / (conv forward + backward time)
// is the conv's efficiency relative to the raw BLAS on the same FLOPs (1.0 = as fast
// as three big GEMMs). Counters: GFLOP/s over 3 x 2 M N K flops, ms per iteration.
// cpu_ms is the process CPU time per iteration (all threads): on a shared, loaded
// machine, run single-threaded (OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1) and compare
// cpu_ms, which the load barely changes. CUDA rows (cuBLAS baseline) appear when a
// GPU answers. The CPU path is chosen by shape (kernels/cpu/conv.cpp: Winograd for L2,
// the direct kernels for L1); the *_isa rows force the instruction set of those kernels
// (0 = plain C++, 1 = AVX2, 2 = AVX-512; capped to what the CPU has).
//   bench_conv --benchmark_min_time=0.5
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <chrono>
#include <ctime>
#include <string>

#include "autograd/functions.h"
#include "core/device.h"
#include "kernels/cpu/conv_direct.h"
#include "kernels/ops.h"
#include "nn/functional.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Shape4 {
  int64_t B, C, H, W, O;
};
constexpr Shape4 kLayer1{256, 1, 28, 28, 16};
constexpr Shape4 kLayer2{256, 16, 14, 14, 32};

double gemm_flops(const Shape4& s) { return 2.0 * s.O * (s.B * s.H * s.W) * (s.C * 9); }

// Waits for queued device work (a 1-element read-back synchronizes the stream).
void sync(const vq::Tensor& t) {
  if (t.device().is_cuda()) benchmark::DoNotOptimize(t.flatten().narrow(0, 0, 1).item<float>());
}

// Process CPU seconds (all threads).
double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

void set_counters(benchmark::State& state, double flops_per_iter, double seconds,
                  double cpu_secs) {
  const double n = static_cast<double>(state.iterations());
  const double per_iter = seconds / n;
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_iter / per_iter / 1e9);
  state.counters["ms"] = benchmark::Counter(per_iter * 1e3);
  state.counters["cpu_ms"] = benchmark::Counter(cpu_secs / n * 1e3);
}

// Best sgemm time for the forward-equivalent GEMM on dev (measured once per shape/device).
double sgemm_seconds(const Shape4& s, vq::Device dev) {
  const int64_t M = s.O, N = s.B * s.H * s.W, K = s.C * 9;
  vq::Generator gen(1);
  vq::Tensor a = vq::Tensor::randn({M, K}, gen, dev), b = vq::Tensor::randn({K, N}, gen, dev);
  vq::Tensor c = vq::Tensor::empty({M, N}, vq::DType::f32, dev);
  double best = 1e30;
  for (int r = 0; r < 8; ++r) {
    auto t0 = Clock::now();
    if (dev.is_cpu())
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.f, a.data<float>(), K,
                  b.data<float>(), N, 0.f, c.data<float>(), N);
    else
      vq::ops::gemm(a, false, b, false, c);
    sync(c);
    const double t = std::chrono::duration<double>(Clock::now() - t0).count();
    if (r > 0) best = std::min(best, t);
  }
  return best;
}

void BM_conv_fwd_bwd(benchmark::State& state, Shape4 s, vq::Device dev) {
  if (dev.is_cuda() && !vq::cuda_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  vq::Generator gen(0);
  vq::Variable x(vq::Tensor::randn({s.B, s.C, s.H, s.W}, gen, dev), true);
  vq::Variable w(vq::Tensor::randn({s.O, s.C, 3, 3}, gen, dev, 0.f, 0.1f), true);
  vq::Variable b(vq::Tensor::randn({s.O}, gen, dev), true);
  vq::Tensor gy = vq::Tensor::randn({s.B, s.O, s.H, s.W}, gen, dev);
  double seconds = 0;
  const double c0 = cpu_seconds();
  for (auto _ : state) {
    auto t0 = Clock::now();
    vq::Variable y = vq::nn::conv2d(x, w, b, {1, 1}, {1, 1});
    y.backward(gy);
    sync(x.grad());
    seconds += std::chrono::duration<double>(Clock::now() - t0).count();
    x.zero_grad();
    w.zero_grad();
    b.zero_grad();
  }
  const double cpu_secs = cpu_seconds() - c0;
  const double flops = 3 * gemm_flops(s);
  set_counters(state, flops, seconds, cpu_secs);
  state.counters["vs_sgemm"] =
      benchmark::Counter(3 * sgemm_seconds(s, dev) / (seconds / static_cast<double>(state.iterations())));
}

// BM_conv_fwd_bwd on the CPU with the direct / Winograd kernels' instruction set forced.
void BM_conv_fwd_bwd_isa(benchmark::State& state, Shape4 s, int isa) {
  vq::cpu::conv_force_isa(isa);
  state.SetLabel(std::string("isa ") + std::to_string(static_cast<int>(vq::cpu::conv_isa())));
  BM_conv_fwd_bwd(state, s, vq::Device{vq::DeviceType::CPU, 0});
  vq::cpu::conv_force_isa(-1);
}

void BM_conv_fwd(benchmark::State& state, Shape4 s, vq::Device dev) {
  if (dev.is_cuda() && !vq::cuda_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  vq::Generator gen(0);
  vq::Variable x(vq::Tensor::randn({s.B, s.C, s.H, s.W}, gen, dev));
  vq::Variable w(vq::Tensor::randn({s.O, s.C, 3, 3}, gen, dev, 0.f, 0.1f));
  vq::Variable b(vq::Tensor::randn({s.O}, gen, dev));
  double seconds = 0;
  const double c0 = cpu_seconds();
  for (auto _ : state) {
    auto t0 = Clock::now();
    vq::Variable y = vq::nn::conv2d(x, w, b, {1, 1}, {1, 1});
    sync(y.value());
    seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  set_counters(state, gemm_flops(s), seconds, cpu_seconds() - c0);
  state.counters["vs_sgemm"] =
      benchmark::Counter(sgemm_seconds(s, dev) / (seconds / static_cast<double>(state.iterations())));
}

void BM_sgemm_baseline(benchmark::State& state, Shape4 s, vq::Device dev) {
  if (dev.is_cuda() && !vq::cuda_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const int64_t M = s.O, N = s.B * s.H * s.W, K = s.C * 9;
  vq::Generator gen(1);
  vq::Tensor a = vq::Tensor::randn({M, K}, gen, dev), bm = vq::Tensor::randn({K, N}, gen, dev);
  vq::Tensor c = vq::Tensor::empty({M, N}, vq::DType::f32, dev);
  double seconds = 0;
  const double c0 = cpu_seconds();
  for (auto _ : state) {
    auto t0 = Clock::now();
    if (dev.is_cpu())
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.f, a.data<float>(), K,
                  bm.data<float>(), N, 0.f, c.data<float>(), N);
    else
      vq::ops::gemm(a, false, bm, false, c);
    sync(c);
    seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  set_counters(state, gemm_flops(s), seconds, cpu_seconds() - c0);
}

const vq::Device kCpu{vq::DeviceType::CPU, 0};
const vq::Device kGpu{vq::DeviceType::CUDA, 0};

}  // namespace

BENCHMARK_CAPTURE(BM_conv_fwd_bwd, cpu_b256_28x28_1to16, kLayer1, kCpu)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_conv_fwd_bwd, cpu_b256_14x14_16to32, kLayer2, kCpu)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_conv_fwd_bwd_isa, cpu_b256_28x28_1to16_avx2, kLayer1, 1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_conv_fwd_bwd_isa, cpu_b256_28x28_1to16_base, kLayer1, 0)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_conv_fwd_bwd_isa, cpu_b256_14x14_16to32_avx2, kLayer2, 1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_conv_fwd_bwd_isa, cpu_b256_14x14_16to32_base, kLayer2, 0)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_conv_fwd, cpu_b256_28x28_1to16, kLayer1, kCpu)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_conv_fwd, cpu_b256_14x14_16to32, kLayer2, kCpu)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_sgemm_baseline, cpu_M16_N200704_K9, kLayer1, kCpu)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_sgemm_baseline, cpu_M32_N50176_K144, kLayer2, kCpu)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_conv_fwd_bwd, cuda_b256_28x28_1to16, kLayer1, kGpu)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_conv_fwd_bwd, cuda_b256_14x14_16to32, kLayer2, kGpu)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_conv_fwd, cuda_b256_28x28_1to16, kLayer1, kGpu)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_conv_fwd, cuda_b256_14x14_16to32, kLayer2, kGpu)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_sgemm_baseline, cuda_M16_N200704_K9, kLayer1, kGpu)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_sgemm_baseline, cuda_M32_N50176_K144, kLayer2, kGpu)->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
