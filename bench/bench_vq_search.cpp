// Nearest-code search and code statistics on CPU against same-process baselines
// (PERF.md targets C1, C2, C4): for each shape (N, K, D) it times
//   sgemm          cblas_sgemm X[N, D] C[K, D]^T into a warm N x K buffer (OpenBLAS threads)
//   sgemm_argmin   the same plus an argmin pass over N x K (the unfused baseline)
//   search/<path>  vq::cpu::nearest_code (automatic, small_d, blocked)
//   code_stats     vq::cpu::code_stats with random indices, against memcpy of x
// Counters: ms (median-style per-iteration wall time), GF_eq = 2 N K D / time,
// ratio_vs_sgemm = time / sgemm time (measured in this process, median of 7 runs),
// speedup_vs_sgemm_argmin, stats_vs_memcpy and stats_pct_of_search.
// Run: bench_vq_search --benchmark_min_time=0.3 --benchmark_repetitions=3
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <tuple>
#include <vector>

#include "kernels/cpu/code_stats.h"
#include "kernels/cpu/nearest_code.h"

namespace {

using Clock = std::chrono::steady_clock;
using Shape3 = std::tuple<int64_t, int64_t, int64_t>;

const Shape3 kShapes[] = {{16384, 1024, 256}, {65536, 1024, 8}, {12544, 256, 32}, {8192, 8192, 32}};

struct Data {
  std::vector<float> x, c, nk;
  std::vector<int64_t> idx;
  std::vector<float> score;
};

Data& data_for(const Shape3& s) {
  static std::map<Shape3, Data> cache;
  auto it = cache.find(s);
  if (it != cache.end()) return it->second;
  const auto [N, K, D] = s;
  Data d;
  std::mt19937 rng(42);
  std::normal_distribution<float> nd;
  d.x.resize(N * D);
  d.c.resize(K * D);
  for (auto& v : d.x) v = nd(rng);
  for (auto& v : d.c) v = nd(rng);
  d.idx.resize(N);
  d.score.resize(N);
  d.nk.assign(static_cast<size_t>(N * K), 0.f);  // the baselines' N x K buffer, touched once
  return cache.emplace(s, std::move(d)).first->second;
}

template <typename F>
double median_seconds(F f, int reps = 7) {
  f();  // warm-up
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void run_sgemm(Data& d, const Shape3& s) {
  const auto [N, K, D] = s;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(N), int(K), int(D), 1.f, d.x.data(),
              int(D), d.c.data(), int(D), 0.f, d.nk.data(), int(K));
}

void run_sgemm_argmin(Data& d, const Shape3& s) {
  const auto [N, K, D] = s;
  run_sgemm(d, s);
  std::vector<float> cn(K);
  vq::cpu::row_sq_norms(cn.data(), d.c.data(), K, D);
#pragma omp parallel for
  for (int64_t n = 0; n < N; ++n) {
    const float* r = d.nk.data() + n * K;
    float best = cn[0] - 2.f * r[0];
    int64_t bi = 0;
    for (int64_t k = 1; k < K; ++k) {
      const float v = cn[k] - 2.f * r[k];
      if (v < best) { best = v; bi = k; }
    }
    d.idx[n] = bi;
  }
}

vq::cpu::NcShape nc_shape(const Shape3& s) {
  const auto [N, K, D] = s;
  vq::cpu::NcShape ns;
  ns.N = N;
  ns.K = K;
  ns.D = D;
  ns.x_head_stride = N * D;
  ns.codes_head_stride = K * D;
  return ns;
}

double sgemm_seconds(const Shape3& s) {
  static std::map<Shape3, double> m;
  if (!m.count(s)) m[s] = median_seconds([&] { run_sgemm(data_for(s), s); });
  return m[s];
}
double sgemm_argmin_seconds(const Shape3& s) {
  static std::map<Shape3, double> m;
  if (!m.count(s)) m[s] = median_seconds([&] { run_sgemm_argmin(data_for(s), s); });
  return m[s];
}
double search_seconds(const Shape3& s) {
  static std::map<Shape3, double> m;
  if (!m.count(s)) {
    Data& d = data_for(s);
    m[s] = median_seconds([&] {
      vq::cpu::nearest_code(d.idx.data(), d.score.data(), d.x.data(), d.c.data(), nc_shape(s), false);
    });
  }
  return m[s];
}

void report(benchmark::State& st, const Shape3& s, double total_s) {
  const auto [N, K, D] = s;
  const double t = total_s / double(st.iterations());
  st.counters["ms"] = t * 1e3;
  st.counters["GF_eq"] = 2.0 * N * K * D / t * 1e-9;
  st.counters["ratio_vs_sgemm"] = t / sgemm_seconds(s);
}

template <typename F>
double timed_loop(benchmark::State& st, F f) {
  double total = 0;
  for (auto _ : st) {
    auto t0 = Clock::now();
    f();
    total += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  return total;
}

void BM_sgemm(benchmark::State& st, Shape3 s) {
  Data& d = data_for(s);
  report(st, s, timed_loop(st, [&] { run_sgemm(d, s); }));
}

void BM_sgemm_argmin(benchmark::State& st, Shape3 s) {
  Data& d = data_for(s);
  report(st, s, timed_loop(st, [&] { run_sgemm_argmin(d, s); }));
}

void BM_search(benchmark::State& st, Shape3 s, vq::cpu::NcPath path) {
  Data& d = data_for(s);
  const auto ns = nc_shape(s);
  const double total = timed_loop(st, [&] {
    vq::cpu::nearest_code(d.idx.data(), d.score.data(), d.x.data(), d.c.data(), ns, false, path);
  });
  report(st, s, total);
  st.counters["speedup_vs_sgemm_argmin"] =
      sgemm_argmin_seconds(s) / (total / double(st.iterations()));
  st.SetLabel(vq::cpu::simd_level_name(vq::cpu::simd_level()));
}

void BM_code_stats(benchmark::State& st, Shape3 s) {
  const auto [N, K, D] = s;
  Data& d = data_for(s);
  std::vector<int64_t> idx(N);
  std::mt19937 rng(7);
  for (auto& i : idx) i = static_cast<int64_t>(rng() % uint32_t(K));
  std::vector<float> counts(K), sums(K * D), copy(N * D);
  vq::cpu::CsShape cs;
  cs.N = N;
  cs.K = K;
  cs.D = D;
  cs.idx_head_stride = N;
  cs.x_head_stride = N * D;
  const double memcpy_s = median_seconds(
      [&] { std::memcpy(copy.data(), d.x.data(), sizeof(float) * size_t(N * D)); });
  const double total = timed_loop(st, [&] {
    vq::cpu::code_stats(counts.data(), sums.data(), idx.data(), d.x.data(), nullptr, nullptr, cs);
  });
  const double t = total / double(st.iterations());
  st.counters["ms"] = t * 1e3;
  st.counters["GB_per_s"] = double(N) * (D * 4 + 8) / t * 1e-9;
  st.counters["stats_vs_memcpy"] = t / memcpy_s;
  st.counters["stats_pct_of_search"] = 100.0 * t / search_seconds(s);
}

std::string shape_name(const Shape3& s) {
  return std::to_string(std::get<0>(s)) + "x" + std::to_string(std::get<1>(s)) + "x" +
         std::to_string(std::get<2>(s));
}

int register_all() {
  for (const Shape3& s : kShapes) {
    const std::string n = shape_name(s);
    benchmark::RegisterBenchmark(("sgemm/" + n).c_str(), BM_sgemm, s)->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("sgemm_argmin/" + n).c_str(), BM_sgemm_argmin, s)->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("search_auto/" + n).c_str(), BM_search, s, vq::cpu::NcPath::automatic)->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("search_blocked/" + n).c_str(), BM_search, s, vq::cpu::NcPath::blocked)->UseRealTime()->Unit(benchmark::kMillisecond);
    if (std::get<2>(s) <= 64)
      benchmark::RegisterBenchmark(("search_small_d/" + n).c_str(), BM_search, s, vq::cpu::NcPath::small_d)->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("code_stats/" + n).c_str(), BM_code_stats, s)->UseRealTime()->Unit(benchmark::kMillisecond);
  }
  return 0;
}
const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
