// `vq bench`: benchmarks run by the `vq` program.
//   vq bench vq [--n 16384] [--dim 256] [--codebook-size 1024] [--device cpu|cuda]
//               [--threads T] [--repeats R] [--warmup W] [--seed S] [--rows a,b] [--json]
// times VectorQuantize (fused search, eval forward, training step) against the
// same-shape sgemm on one device (apps/bench/vq_bench.h) and prints a table, or one
// JSON object with --json. bench/compare_vq_step.sh runs it beside the PyTorch reference.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "apps/args.h"
#include "apps/bench/vq_bench.h"
#include "apps/commands.h"

namespace vq::app {

namespace {

const char* kBenchUsage =
    "usage: vq bench vq [--n 16384] [--dim 256] [--codebook-size 1024] [--device cpu|cuda] "
    "[--threads T] [--repeats 7] [--warmup 1] [--seed 0] [--rows sgemm,sgemm_argmin,search,forward,step] "
    "[--json]";

// OMP_WAIT_POLICY as set in the environment ("default" when unset): on a shared machine
// it decides what each OpenMP region costs (docs/performance.md, VectorQuantize step).
std::string omp_wait_policy() {
  const char* p = std::getenv("OMP_WAIT_POLICY");
  return p && *p ? p : "default";
}

double mib(int64_t b) { return double(b) / double(1 << 20); }

nlohmann::json to_json(const VqBenchResult& r) {
  const auto& o = r.options;
  nlohmann::json j;
  j["implementation"] = "vqcpp";
  j["benchmark"] = "vq";
  j["device"] = o.device.str();
  j["n"] = o.n;
  j["dim"] = o.dim;
  j["codebook_size"] = o.codebook_size;
  j["threads"] = r.threads;
  j["repeats"] = o.repeats;
  j["warmup"] = o.warmup;
  j["seed"] = o.seed;
  j["simd"] = r.simd;
  j["peak_mem_method"] = r.mem_method;
  j["omp_wait_policy"] = omp_wait_policy();
  nlohmann::json rows = nlohmann::json::object();
  const double pairs = double(o.n) * double(o.codebook_size);
  for (const auto& row : r.rows) {
    nlohmann::json e;
    e["ms"] = row.ms;
    e["ms_min"] = row.ms_min;
    e["cpu_ms"] = row.cpu_ms;
    e["gflops_eq"] = row.gflops_eq;
    if (row.ratio_to_sgemm > 0)
      e["ratio_to_sgemm"] = row.ratio_to_sgemm;
    else
      e["ratio_to_sgemm"] = nullptr;
    if (row.peak_mem_bytes) {
      e["peak_mem_bytes"] = *row.peak_mem_bytes;
      e["bytes_per_pair"] = double(*row.peak_mem_bytes) / pairs;
    } else {
      e["peak_mem_bytes"] = nullptr;
      e["bytes_per_pair"] = nullptr;
    }
    rows[row.name] = e;
  }
  j["results"] = rows;
  return j;
}

void print_table(const VqBenchResult& r) {
  const auto& o = r.options;
  std::printf(
      "vq bench vq: N=%lld D=%lld K=%lld device=%s threads=%d simd=%s OMP_WAIT_POLICY=%s, median of %d (+%d "
      "warm-up)\n",
      static_cast<long long>(o.n), static_cast<long long>(o.dim), static_cast<long long>(o.codebook_size),
      o.device.str().c_str(), r.threads, r.simd.c_str(), omp_wait_policy().c_str(), o.repeats, o.warmup);
  std::printf("%-13s %10s %10s %9s %10s %12s\n", "row", "ms", "cpu ms", "x sgemm", "GF/s-eq", "peak MiB");
  for (const auto& row : r.rows) {
    char mem[32];
    if (row.peak_mem_bytes)
      std::snprintf(mem, sizeof mem, "%.1f", mib(*row.peak_mem_bytes));
    else
      std::snprintf(mem, sizeof mem, "n/a");
    char cpu[32];
    if (o.device.is_cuda())
      std::snprintf(cpu, sizeof cpu, "-");
    else
      std::snprintf(cpu, sizeof cpu, "%.2f", row.cpu_ms);
    char ratio[32];
    if (row.ratio_to_sgemm > 0)
      std::snprintf(ratio, sizeof ratio, "%.2f", row.ratio_to_sgemm);
    else
      std::snprintf(ratio, sizeof ratio, "-");
    std::printf("%-13s %10.2f %10s %9s %10.1f %12s\n", row.name.c_str(), row.ms, cpu, ratio, row.gflops_eq,
                mem);
  }
  std::printf("GF/s-eq = 2 N K D / time; peak = %s\n", r.mem_method.c_str());
  std::printf("step = train forward (rotation trick, commitment loss, EMA) + backward to the input\n");
}

int bench_vq(Args& args) {
  VqBenchOptions o;
  o.n = args.integer("n", o.n, 1, 1LL << 30);
  o.dim = args.integer("dim", o.dim, 1, 1LL << 20);
  o.codebook_size = args.integer("codebook-size", o.codebook_size, 1, 1LL << 30);
  const std::string dev = args.str("device", "cpu");
  if (dev != "cpu" && dev != "cuda" && dev.rfind("cuda:", 0) != 0)
    throw UsageError("vq bench vq: --device must be cpu or cuda (or cuda:N), got '" + dev + "'");
  o.device = parse_device(dev);
  o.threads = static_cast<int>(args.integer("threads", 0, 0, 4096));
  o.repeats = static_cast<int>(args.integer("repeats", o.repeats, 1, 1000));
  o.warmup = static_cast<int>(args.integer("warmup", o.warmup, 0, 1000));
  o.seed = static_cast<uint64_t>(args.integer("seed", 0, 0, 1LL << 62));
  const std::string rows = args.str("rows", "");
  for (size_t at = 0; at < rows.size();) {
    size_t comma = rows.find(',', at);
    if (comma == std::string::npos) comma = rows.size();
    std::string r = rows.substr(at, comma - at);
    if (r != "sgemm" && r != "sgemm_argmin" && r != "search" && r != "forward" && r != "step")
      throw UsageError(
          "vq bench vq: --rows takes a comma-separated list of sgemm, sgemm_argmin, search, "
          "forward, step; got '" +
          r + "'");
    o.rows.push_back(r);
    at = comma + 1;
  }
  const bool json = args.flag("json");
  args.finish();
  VqBenchResult r = run_vq_bench(o);
  if (json)
    std::cout << to_json(r).dump() << "\n";
  else
    print_table(r);
  return 0;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  if (argc < 3 || std::string(argv[2]).rfind("--", 0) == 0)
    throw UsageError(std::string("vq bench: name a benchmark (available: vq); ") + kBenchUsage);
  const std::string which = argv[2];
  if (which == "help") {
    std::cout << kBenchUsage << "\n";
    return 0;
  }
  if (which != "vq") throw UsageError("vq bench: unknown benchmark '" + which + "' (available: vq)");
  Args args(argc, argv, 3, "bench vq");
  return bench_vq(args);
}

}  // namespace vq::app
