// Scatter-based codebook statistics (PERF.md §2.4, contract C4/G4): ops::index_add_ of
// N rows of D floats into a [K, D] table, against a memcpy of the same source bytes in
// the same process. Cases: codes spread uniformly over K, and collapsed onto 3 codes
// (a dead codebook: long segments). After the runs the program prints, per case, the
// ratio time(index_add_) / time(memcpy of N * D * 4 bytes). With a GPU the same cases
// run on CUDA against a device-to-device copy of the source.
//   bench_scatter [--benchmark_min_time=0.2s] [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "kernels/ops.h"

using namespace vq;

namespace {

struct Case {
  int64_t N, K, D;
};
const Case kCases[] = {{16384, 1024, 256}, {65536, 4096, 64}, {65536, 1024, 8}};

Tensor make_index(int64_t N, int64_t ncodes, Device dev) {
  std::mt19937 rng(1);
  std::uniform_int_distribution<int64_t> d(0, ncodes - 1);
  std::vector<int64_t> v(static_cast<size_t>(N));
  for (auto& x : v) x = d(rng);
  return Tensor::from_vector(v, {N}, dev);
}

// Forces completion of queued device work (a tiny read-back synchronizes).
void sync(const Tensor& t) {
  if (t.device().is_cuda()) (void)t.reshape({-1}).narrow(0, 0, 1).to(cpu_device());
}

void BM_memcpy(benchmark::State& st, Case c, Device dev) {
  Generator g(0);
  Tensor src = Tensor::rand({c.N, c.D}, g, dev);
  Tensor dst = Tensor::zeros({c.N, c.D}, DType::f32, dev);
  const size_t bytes = src.nbytes();
  for (auto _ : st) {
    if (dev.is_cpu())
      std::memcpy(dst.raw_data(), src.raw_data(), bytes);
    else
      dst.copy_(src);
    sync(dst);
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * bytes));
}

void BM_index_add(benchmark::State& st, Case c, int64_t ncodes, Device dev) {
  Generator g(0);
  Tensor src = Tensor::rand({c.N, c.D}, g, dev);
  Tensor index = make_index(c.N, ncodes, dev);
  Tensor table = Tensor::zeros({c.K, c.D}, DType::f32, dev);
  for (auto _ : st) {
    ops::index_add_(table, 0, index, src);
    sync(table);
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * src.nbytes()));
  st.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(c.N), benchmark::Counter::kIsIterationInvariantRate);
}

std::string case_name(const char* what, Case c, const char* dev) {
  return std::string(what) + "/" + dev + "/N" + std::to_string(c.N) + "_K" + std::to_string(c.K) +
         "_D" + std::to_string(c.D);
}

// Console output plus seconds per iteration of every run, for the ratios.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> seconds;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs)
      if (r.iterations > 0 && r.run_type == Run::RT_Iteration) {
        std::string name = r.benchmark_name();
        const std::string suffix = "/real_time";
        if (name.size() > suffix.size() &&
            name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
          name.resize(name.size() - suffix.size());
        seconds[name] = r.real_accumulated_time / static_cast<double>(r.iterations);
      }
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::pair<Device, const char*>> devices = {{cpu_device(), "cpu"}};
  if (cuda_available()) devices.push_back({cuda_device(0), "cuda"});
  for (auto [dev, dname] : devices) {
    for (Case c : kCases) {
      benchmark::RegisterBenchmark(case_name("memcpy", c, dname).c_str(), BM_memcpy, c, dev)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(case_name("index_add_uniform", c, dname).c_str(), BM_index_add,
                                   c, c.K, dev)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(case_name("index_add_collapsed", c, dname).c_str(), BM_index_add,
                                   c, int64_t(3), dev)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
  }
  benchmark::Initialize(&argc, argv);
  RatioReporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  std::printf(
      "\nratio = time(index_add_) / time(memcpy of the N*D*4 source bytes), same process\n");
  for (auto [dev, dname] : devices) {
    for (Case c : kCases) {
      auto base = rep.seconds.find(case_name("memcpy", c, dname));
      if (base == rep.seconds.end()) continue;
      for (const char* what : {"index_add_uniform", "index_add_collapsed"}) {
        auto it = rep.seconds.find(case_name(what, c, dname));
        if (it == rep.seconds.end()) continue;
        std::printf("%-44s %9.1f us   memcpy %9.1f us   ratio %5.2f\n",
                    case_name(what, c, dname).c_str(), it->second * 1e6, base->second * 1e6,
                    it->second / base->second);
      }
    }
  }
  benchmark::Shutdown();
  return 0;
}
