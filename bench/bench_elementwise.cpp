// Elementwise throughput against a same-process copy baseline: add and mul (out of
// place and in place) on 16M f32 elements vs std::memcpy of the same bytes on CPU,
// and, when a GPU answers, the same ops vs a device-to-device Tensor::copy_ on CUDA.
// Counters: bytes_per_second (bytes an op must move: 3 x 64 MiB for a binary op,
// 2 x 64 MiB for a copy) and vs_copy = the op's bytes/s over the copy's bytes/s
// (1.0 = as fast as moving memory can be).
//   bench_elementwise --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "core/device.h"
#include "kernels/ops.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kN = int64_t(1) << 24;  // 16M elements, 64 MiB per f32 tensor
constexpr double kTensorBytes = double(kN) * sizeof(float);

const vq::Device kCpu{vq::DeviceType::CPU, 0};

// Waits for queued device work (a 1-element read-back synchronizes the stream).
void sync(const vq::Tensor& t) {
  if (t.device().is_cuda()) benchmark::DoNotOptimize(t.flatten().narrow(0, 0, 1).item<float>());
}

// Best-of-5 bytes/s of the baseline copy on `dev`, measured once per device.
double copy_bandwidth(vq::Device dev) {
  static double cpu_bw = 0, gpu_bw = 0;
  double& bw = dev.is_cpu() ? cpu_bw : gpu_bw;
  if (bw > 0) return bw;
  vq::Tensor src = vq::Tensor::ones({kN}, vq::DType::f32, dev);
  vq::Tensor dst = vq::Tensor::zeros({kN}, vq::DType::f32, dev);
  double best = 1e30;
  for (int r = 0; r < 6; ++r) {
    auto t0 = Clock::now();
    if (dev.is_cpu()) std::memcpy(dst.raw_data(), src.raw_data(), kN * sizeof(float));
    else dst.copy_(src);
    sync(dst);
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (r > 0) best = std::min(best, s);  // first pass warms pages / caches
  }
  bw = 2 * kTensorBytes / best;
  return bw;
}

enum class Kind { copy, add, mul, add_inplace, mul_inplace };

void run(benchmark::State& state, Kind kind, vq::Device dev) {
  vq::Generator gen(0);
  vq::Tensor a = vq::Tensor::rand({kN}, gen, dev, 0.5f, 1.5f);
  vq::Tensor b = vq::Tensor::rand({kN}, gen, dev, 0.5f, 1.5f);
  vq::Tensor dst = vq::Tensor::zeros({kN}, vq::DType::f32, dev);
  vq::Tensor ones = vq::Tensor::ones({kN}, vq::DType::f32, dev);
  const double baseline = copy_bandwidth(dev);
  const double bytes = (kind == Kind::copy ? 2 : 3) * kTensorBytes;
  double seconds = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    vq::Tensor out;
    switch (kind) {
      case Kind::copy:
        if (dev.is_cpu()) std::memcpy(dst.raw_data(), a.raw_data(), kN * sizeof(float));
        else dst.copy_(a);
        out = dst;
        break;
      case Kind::add: out = vq::ops::add(a, b); break;
      case Kind::mul: out = vq::ops::mul(a, b); break;
      case Kind::add_inplace: vq::ops::add_(a, b, 1e-7); out = a; break;
      case Kind::mul_inplace: vq::ops::mul_(a, ones); out = a; break;  // values stay put
    }
    sync(out);
    benchmark::DoNotOptimize(out.raw_data());
    benchmark::ClobberMemory();
    seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["bytes_per_second"] =
      benchmark::Counter(bytes * iters, benchmark::Counter::kIsRate);
  state.counters["vs_copy"] = (bytes * iters / seconds) / baseline;
  state.counters["copy_GBps"] = baseline / 1e9;
}

void register_all(vq::Device dev, const char* tag) {
  const struct { const char* name; Kind kind; } cases[] = {
      {"copy", Kind::copy}, {"add", Kind::add}, {"mul", Kind::mul},
      {"add_inplace", Kind::add_inplace}, {"mul_inplace", Kind::mul_inplace}};
  for (const auto& c : cases) {
    const Kind kind = c.kind;
    benchmark::RegisterBenchmark((std::string(c.name) + "_16M_f32/" + tag).c_str(),
                                 [kind, dev](benchmark::State& s) { run(s, kind, dev); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all(kCpu, "cpu");
  if (vq::cuda_available()) register_all(vq::cuda_device(0), "cuda");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
