// FSQ and LFQ kernels on the CPU against a same-process memcpy baseline (PERF.md
// target C5: >= 4 G elements/s on 2 threads), plus LFQ's entropy terms for a 2^16
// codebook (factorized and exact). Each kernel benchmark reports
//   Gelem_s     elements (input floats) per second
//   GB_s        bytes read + written per second
//   vs_memcpy   kernel time / time of a memcpy moving the same bytes (memcpy of
//               bytes/2: it reads and writes them), median of 7, measured in this process
//   cpu_vs_memcpy  the same ratio of the calling thread's CPU times (with
//               OMP_NUM_THREADS=1 the dependable figure on a shared machine)
// Sizes: 2^24 input floats (64 MiB, far beyond the caches), levels [8, 5, 5, 5] for FSQ,
// 16 bits x 1 codebook for LFQ. Entropy: T tokens of 16 bits (T = 2048 = the README's
// (1, 16, 32, 32) image and T = 16384), inv_temperature 100.
// Run: OMP_NUM_THREADS=2 bench_fsq_lfq --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <vector>

#include "autograd/functions.h"
#include "kernels/cpu/fsq.h"
#include "kernels/cpu/lfq.h"
#include "kernels/cpu/lfq_entropy.h"
#include "quantizers/lfq.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kElems = int64_t{1} << 24;

std::vector<float>& input(int which) {
  static std::vector<float> bufs[3];
  std::vector<float>& v = bufs[which];
  if (v.empty()) {
    v.resize(kElems);
    std::mt19937 rng(17 + which);
    std::normal_distribution<float> nd(0.f, 1.5f);
    for (auto& x : v) x = nd(rng);
  }
  return v;
}

std::vector<float>& scratch(int which) {
  static std::vector<float> bufs[3];
  if (bufs[which].empty()) bufs[which].assign(kElems, 0.f);
  return bufs[which];
}

double thread_cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Median of 7 memcpy runs of `bytes`: wall seconds, and the thread's CPU seconds in *cpu.
double memcpy_seconds(size_t bytes, double* cpu) {
  static std::vector<char> src, dst;
  if (src.size() < bytes) {
    src.assign(bytes, 1);
    dst.assign(bytes, 0);
  }
  std::vector<double> t, c;
  std::memcpy(dst.data(), src.data(), bytes);
  for (int i = 0; i < 7; ++i) {
    const auto t0 = Clock::now();
    const double c0 = thread_cpu_seconds();
    std::memcpy(dst.data(), src.data(), bytes);
    c.push_back(thread_cpu_seconds() - c0);
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  std::sort(c.begin(), c.end());
  *cpu = c[3];
  return t[3];
}

// Counters for a kernel that reads/writes `traffic` bytes per iteration over kElems.
void finish(benchmark::State& st, double wall_per_iter, double cpu_per_iter, double traffic) {
  const double it = static_cast<double>(st.iterations());
  st.counters["Gelem_s"] = benchmark::Counter(it * kElems * 1e-9, benchmark::Counter::kIsRate);
  st.counters["GB_s"] = benchmark::Counter(it * traffic * 1e-9, benchmark::Counter::kIsRate);
  double mcpu = 0;
  const double mwall = memcpy_seconds(static_cast<size_t>(traffic / 2), &mcpu);
  st.counters["memcpy_ms"] = mwall * 1e3;
  st.counters["vs_memcpy"] = wall_per_iter / mwall;
  st.counters["cpu_vs_memcpy"] = cpu_per_iter / mcpu;
}

template <typename F>
void timed(benchmark::State& st, F f, double traffic) {
  double wall = 0, cpu = 0;
  for (auto _ : st) {
    const auto t0 = Clock::now();
    const double c0 = thread_cpu_seconds();
    f();
    cpu += thread_cpu_seconds() - c0;
    wall += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  const double n = static_cast<double>(st.iterations());
  finish(st, wall / n, cpu / n, traffic);
}

const vq::cpu::FsqTables& fsq_tables(bool symmetric) {
  static const vq::cpu::FsqTables std_t = vq::cpu::fsq_make_tables({8, 5, 5, 5}, false, false);
  static const vq::cpu::FsqTables sym_t = vq::cpu::fsq_make_tables({8, 5, 5, 5}, true, false);
  return symmetric ? sym_t : std_t;
}

// arg 0: standard, 1: preserve_symmetry; arg 2 exact tanh (standard)
void BM_fsq_forward(benchmark::State& st) {
  const bool sym = st.range(0) == 1, exact = st.range(0) == 2;
  const int64_t N = kElems / 4;
  std::vector<int64_t> idx(N);
  const float* z = input(0).data();
  float* out = scratch(0).data();
  timed(st, [&] { vq::cpu::fsq_forward(out, idx.data(), z, N, 1, fsq_tables(sym), exact, {}); },
        kElems * 8.0 + N * 8.0);
}

void BM_fsq_backward(benchmark::State& st) {
  const int64_t N = kElems / 4;
  const float* z = input(0).data();
  const float* g = input(1).data();
  float* dz = scratch(1).data();
  timed(st, [&] { vq::cpu::fsq_backward(dz, g, z, N, 1, fsq_tables(st.range(0) == 1), false, {}); },
        kElems * 12.0);
}

void BM_fsq_forward_backward(benchmark::State& st) {
  const int64_t N = kElems / 4;
  std::vector<int64_t> idx(N);
  const float* z = input(0).data();
  const float* g = input(1).data();
  float* out = scratch(0).data();
  float* dz = scratch(1).data();
  const auto& t = fsq_tables(st.range(0) == 1);
  timed(st,
        [&] {
          vq::cpu::fsq_forward(out, idx.data(), z, N, 1, t, false, {});
          vq::cpu::fsq_backward(dz, g, z, N, 1, t, false, {});
        },
        kElems * 20.0 + N * 8.0);
}

vq::cpu::LfqParams lfq_params(bool spherical) {
  vq::cpu::LfqParams p;
  p.c = 16;
  p.spherical = spherical;
  return p;
}

void BM_lfq_forward(benchmark::State& st) {
  const bool sph = st.range(0) == 1;
  const int64_t N = kElems / 16;
  std::vector<int64_t> idx(N);
  const float* x = input(0).data();
  float* out = scratch(0).data();
  float* u = sph ? scratch(2).data() : nullptr;
  timed(st, [&] { vq::cpu::lfq_forward(out, idx.data(), u, x, nullptr, N, 1, lfq_params(sph), true); },
        kElems * (sph ? 12.0 : 8.0) + N * 8.0);
}

void BM_lfq_forward_backward(benchmark::State& st) {
  const bool sph = st.range(0) == 1;
  const int64_t N = kElems / 16;
  std::vector<int64_t> idx(N);
  const float* x = input(0).data();
  const float* g = input(1).data();
  float* out = scratch(0).data();
  float* dx = scratch(1).data();
  timed(st,
        [&] {
          vq::cpu::lfq_forward(out, idx.data(), nullptr, x, nullptr, N, 1, lfq_params(sph), true);
          vq::cpu::lfq_backward(dx, g, nullptr, x, 0.f, nullptr, N, 1, lfq_params(sph), true);
        },
        // forward: x in, codes out; backward: g in, dx out (+ x in when spherical)
        kElems * (sph ? 20.0 : 16.0) + N * 8.0);
}

// Entropy terms, forward + backward, 16 bits; arg 0 = T, arg 1 = exact.
void BM_lfq_entropy_2p16(benchmark::State& st) {
  const int64_t T = st.range(0);
  const bool exact = st.range(1) == 1;
  vq::cpu::LfqEntropyParams p;
  p.c = 16;
  p.H = 1;
  p.inv_temperature = 100.f;
  p.code_mag = 1.f;
  p.mode = exact ? vq::cpu::LfqEntropyMode::exact : vq::cpu::LfqEntropyMode::factorized;
  std::vector<float> u(input(2).begin(), input(2).begin() + T * 16);
  for (auto& v : u) v *= 0.02f;  // a spread of confident and uncertain bits at beta = 100
  std::vector<float> avg(size_t{1} << 16), G(size_t{1} << 16), du(u.size());
  double ps = 0;
  for (auto _ : st) {
    vq::cpu::lfq_entropy_forward(avg.data(), &ps, u.data(), nullptr, T, p);
    benchmark::DoNotOptimize(vq::cpu::lfq_batch_entropy(avg.data(), 1, 16));
    vq::cpu::lfq_batch_entropy_grad(G.data(), avg.data(), 1, 16, -1.f);
    std::fill(du.begin(), du.end(), 0.f);
    vq::cpu::lfq_entropy_backward(du.data(), u.data(), nullptr, T, G.data(), 1.f, p);
  }
  st.counters["tokens_s"] = benchmark::Counter(static_cast<double>(st.iterations()) * T,
                                               benchmark::Counter::kIsRate);
}

// The whole LFQ module as the reference's README trains it: LFQ(codebook_size=2^16,
// dim=16), training forward + backward of sum(quantized) + aux loss, x = (b, 16, 32, 32),
// inv_temperature 100; arg 0 = b, arg 1 = entropy mode (0 factorized, 1 exact).
// bench/compare_lfq_entropy.py times the reference on the same shapes.
void BM_lfq_module_2p16(benchmark::State& st) {
  const int64_t b = st.range(0);
  nlohmann::json cfg = {{"codebook_size", 65536}, {"dim", 16}, {"entropy_loss_weight", 0.1},
                        {"diversity_gamma", 1.0}, {"entropy_mode", st.range(1) == 1 ? "exact" : "factorized"}};
  vq::LFQ q(vq::LFQOptions::from_json(cfg));
  vq::Generator gen(3);
  const vq::Tensor x0 = vq::Tensor::randn({b, 16, 32, 32}, gen);
  for (auto _ : st) {
    vq::Variable x(x0, true);
    vq::QuantizerOutput o = q.forward(x);
    vq::ag::add(vq::ag::sum(o.quantized), o.loss).backward();
    benchmark::DoNotOptimize(x.grad().raw_data());
  }
  st.counters["tokens_s"] = benchmark::Counter(static_cast<double>(st.iterations()) * b * 1024,
                                               benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_lfq_module_2p16)->Args({1, 0})->Args({2, 0})->Args({1, 1})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_fsq_forward)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_fsq_backward)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_fsq_forward_backward)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_lfq_forward)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_lfq_forward_backward)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_lfq_entropy_2p16)
    ->Args({2048, 0})
    ->Args({16384, 0})
    ->Args({2048, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
