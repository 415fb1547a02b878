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
#include <string>
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

// The baseline: copy n f32 elements from src to dst (std::memcpy on CPU, a
// device-to-device Tensor::copy_ on CUDA), finished before it returns.
void copy_baseline(vq::Tensor& dst, const vq::Tensor& src) {
  if (dst.device().is_cpu()) std::memcpy(dst.raw_data(), src.raw_data(), src.nbytes());
  else dst.copy_(src);
  sync(dst);
}

enum class Kind { copy, add, mul, add_inplace, mul_inplace };

void run(benchmark::State& state, Kind kind, vq::Device dev) {
  vq::Generator gen(0);
  vq::Tensor a = vq::Tensor::rand({kN}, gen, dev, 0.5f, 1.5f);
  vq::Tensor b = vq::Tensor::rand({kN}, gen, dev, 0.5f, 1.5f);
  vq::Tensor dst = vq::Tensor::zeros({kN}, vq::DType::f32, dev);
  vq::Tensor ones = vq::Tensor::ones({kN}, vq::DType::f32, dev);
  vq::Tensor copy_dst = vq::Tensor::zeros({kN}, vq::DType::f32, dev);
  copy_baseline(copy_dst, b);  // touch the pages once
  const double bytes = (kind == Kind::copy ? 2 : 3) * kTensorBytes;
  // The op and the baseline copy alternate inside one loop, so both see the same
  // machine load; vs_copy compares their bandwidths.
  auto op = [&]() -> vq::Tensor {
    switch (kind) {
      case Kind::copy: copy_baseline(dst, a); return dst;
      case Kind::add: return vq::ops::add(a, b);
      case Kind::mul: return vq::ops::mul(a, b);
      case Kind::add_inplace: vq::ops::add_(a, b, 1e-7); return a;
      case Kind::mul_inplace: vq::ops::mul_(a, ones); return a;  // values stay put
    }
    return a;
  };
  sync(op());  // warm-up: the output block enters the allocator cache, pages are touched
  double op_s = 0, copy_s = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    vq::Tensor out = op();
    sync(out);
    benchmark::DoNotOptimize(out.raw_data());
    benchmark::ClobberMemory();
    op_s += std::chrono::duration<double>(Clock::now() - t0).count();
    state.PauseTiming();
    auto t1 = Clock::now();
    copy_baseline(copy_dst, b);
    copy_s += std::chrono::duration<double>(Clock::now() - t1).count();
    state.ResumeTiming();
  }
  const double iters = static_cast<double>(state.iterations());
  const double op_bw = bytes * iters / op_s, copy_bw = 2 * kTensorBytes * iters / copy_s;
  state.counters["bytes_per_second"] =
      benchmark::Counter(bytes * iters, benchmark::Counter::kIsRate);
  state.counters["copy_GBps"] = copy_bw / 1e9;
  state.counters["vs_copy"] = op_bw / copy_bw;
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
