// `vq bench vq` measurements (see vq_bench.h): sgemm baselines, fused search,
// VectorQuantize eval forward and training step, each with its peak memory.
#include "apps/bench/vq_bench.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <limits>

#include "apps/bench/mem_probe.h"
#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "core/error.h"
#include "core/generator.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/nearest_code.h"
#include "kernels/ops.h"
#include "kernels/ops_vq.h"
#include "quantizers/vector_quantize.h"
#ifdef VQ_WITH_CUDA
#include "kernels/cuda/blas.h"
#endif

// OpenBLAS's thread-count setter (the BLAS vq_kernels links, docs/blas-choice.md).
extern "C" void openblas_set_num_threads(int num_threads);

namespace vq::app {

namespace {

using Clock = std::chrono::steady_clock;

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// Waits for queued device work (CUDA: a read-back on the vqcpp stream, which all of
// vqcpp's work and its cuBLAS calls use). No-op on CPU.
void sync(const Tensor& probe) {
  if (probe.device().is_cuda()) (void)probe.item<float>();
}

// Times f (warm-up, then `repeats` calls), measuring peak memory over all of them.
template <typename F>
VqBenchRow time_row(const std::string& name, const VqBenchOptions& o, const Tensor& probe,
                    std::string& mem_method, F&& f) {
  MemProbe mem(o.device);
  mem.start();
  for (int i = 0; i < o.warmup; ++i) f();
  sync(probe);
  std::vector<double> wall, cpu;
  for (int i = 0; i < o.repeats; ++i) {
    const double c0 = process_cpu_seconds();
    const auto t0 = Clock::now();
    f();
    sync(probe);
    wall.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    cpu.push_back((process_cpu_seconds() - c0) * 1e3);
  }
  VqBenchRow r;
  r.name = name;
  r.peak_mem_bytes = mem.stop();
  mem_method = mem.method();
  r.ms = median(wall);
  r.ms_min = *std::min_element(wall.begin(), wall.end());
  r.cpu_ms = o.device.is_cuda() ? 0.0 : median(cpu);
  const double flops = 2.0 * double(o.n) * double(o.codebook_size) * double(o.dim);
  r.gflops_eq = flops / (r.ms * 1e6);
  return r;
}

// ip[N, K] = x[N, D] codes[K, D]^T on the tensors' device (row-major, beta = 0).
void sgemm_nt(Tensor& ip, const Tensor& x, const Tensor& codes, float alpha) {
  const int64_t N = x.size(0), D = x.size(1), K = codes.size(0);
  if (x.device().is_cuda()) {
#ifdef VQ_WITH_CUDA
    cuda::sgemm(false, true, N, K, D, alpha, x.data<float>(), D, codes.data<float>(), D, 0.f,
                ip.data<float>(), K, x.device().index);
#endif
    return;
  }
  cpu::sgemm(false, true, N, K, D, alpha, x.data<float>(), D, codes.data<float>(), D, 0.f, ip.data<float>(),
             K);
}

// The unfused baseline's second pass: idx[n] = argmin_k (cn[k] + s[n, k]) where
// s = -2 x.c (sgemm with alpha = -2). CPU: one OpenMP pass over the rows, lowest index
// on ties; CUDA: the library's elementwise add and argmin ops.
void argmin_pass(Tensor& idx, const Tensor& s, const Tensor& cn) {
  const int64_t N = s.size(0), K = s.size(1);
  if (s.device().is_cuda()) {
    idx = ops::argmin(ops::add(s, cn.unsqueeze(0)), 1);
    return;
  }
  const float* sp = s.data<float>();
  const float* c = cn.data<float>();
  int64_t* out = idx.data<int64_t>();
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    const float* r = sp + n * K;
    float best = c[0] + r[0];
    int64_t bi = 0;
    for (int64_t k = 1; k < K; ++k) {
      const float v = c[k] + r[k];
      if (v < best) {
        best = v;
        bi = k;
      }
    }
    out[n] = bi;
  }
}

}  // namespace

const VqBenchRow& VqBenchResult::row(const std::string& name) const {
  for (const auto& r : rows)
    if (r.name == name) return r;
  throw Error("vq bench: no row named '" + name + "'");
}

VqBenchResult run_vq_bench(const VqBenchOptions& o) {
  constexpr int64_t kIntMax = std::numeric_limits<int>::max();
  check<ConfigError>(o.n > 0 && o.dim > 0 && o.codebook_size > 0,
                     "vq bench vq: --n, --dim and --codebook-size must be positive, got ", o.n, ", ", o.dim,
                     ", ", o.codebook_size);
  check<ConfigError>(o.n <= kIntMax && o.codebook_size <= kIntMax && o.dim <= kIntMax,
                     "vq bench vq: sizes must fit BLAS's 32-bit int, got n=", o.n, " dim=", o.dim,
                     " codebook_size=", o.codebook_size);
  check<ConfigError>(o.repeats > 0 && o.warmup >= 0, "vq bench vq: --repeats must be >= 1 and --warmup >= 0");
  if (o.device.is_cuda())
    check<DeviceError>(cuda_available(), "vq bench vq: --device ", o.device.str(),
                       " requested but no CUDA device is available", " (built without CUDA or no GPU)");
  if (o.threads > 0) {
    omp_set_num_threads(o.threads);
    openblas_set_num_threads(o.threads);
  }

  VqBenchResult res;
  res.options = o;
  res.threads = o.device.is_cuda() ? 0 : omp_get_max_threads();
  res.simd = o.device.is_cuda() ? "cuda" : cpu::simd_level_name(cpu::simd_level());

  const int64_t N = o.n, D = o.dim, K = o.codebook_size;
  Generator gen(o.seed);
  Tensor x = Tensor::randn({1, N, D}, gen, o.device);
  Tensor g = Tensor::randn({1, N, D}, gen, o.device);
  Tensor probe = Tensor::zeros({1}, DType::f32, o.device);

  VectorQuantizeOptions vo;
  vo.dim = D;
  vo.codebook_size = K;
  vo.decay = 0.8;
  VectorQuantize vq(vo, nullptr, gen);
  vq.to(o.device);
  Tensor codes = vq.codebook().contiguous();  // [K, D]
  Tensor x2 = x.reshape({N, D});

  auto wanted = [&](const char* name) {
    return o.rows.empty() || std::find(o.rows.begin(), o.rows.end(), name) != o.rows.end();
  };
  for (const auto& r : o.rows)
    check<ConfigError>(r == "sgemm" || r == "sgemm_argmin" || r == "search" || r == "forward" || r == "step",
                       "vq bench vq: unknown row '", r,
                       "' (rows: sgemm, sgemm_argmin, search, forward, step)");
  std::string method;
  // Module rows first: the sgemm baselines allocate the N x K buffer, which would
  // otherwise sit in the caches while the module rows run.
  {
    autograd::NoGradGuard ng;
    if (wanted("search"))
      res.rows.push_back(time_row("search", o, probe, method, [&] { (void)ops::nearest_code(x2, codes); }));
    vq.eval();
    if (wanted("forward"))
      res.rows.push_back(time_row("forward", o, probe, method, [&] { (void)vq.forward(Variable(x)); }));
  }
  vq.train();
  Tensor one = Tensor::ones({}, DType::f32, o.device);
  if (wanted("step"))
    res.rows.push_back(time_row("step", o, probe, method, [&] {
      Variable xv(x, true);
      QuantizerOutput out = vq.forward(xv);
      // torch.autograd.backward([q, loss], [g, 1]) as two passes: the graphs of q and of
      // the loss share the input's layout nodes, so the first pass keeps the graph.
      backward(out.quantized, g, /*retain_graph=*/true);
      backward(out.loss, one);
    }));

  codes = vq.codebook().contiguous();  // after the EMA updates
  Tensor cn = ops::sum(ops::mul(codes, codes), {1});
  MemProbe mem(o.device);
  if (wanted("sgemm_argmin")) {
    mem.start();
    Tensor s = Tensor::empty({N, K}, DType::f32, o.device);
    Tensor idx = Tensor::empty({N}, DType::i64, o.device);
    VqBenchRow ra = time_row("sgemm_argmin", o, probe, method, [&] {
      sgemm_nt(s, x2, codes, -2.f);
      argmin_pass(idx, s, cn);
    });
    if (auto grown = mem.stop()) ra.peak_mem_bytes = grown;
    res.rows.insert(res.rows.begin(), ra);
  }
  if (wanted("sgemm")) {
    mem.start();
    Tensor ip = Tensor::empty({N, K}, DType::f32, o.device);
    VqBenchRow r = time_row("sgemm", o, probe, method, [&] { sgemm_nt(ip, x2, codes, 1.f); });
    // time_row's own probe starts after the buffer exists (CUDA allocates eagerly).
    if (auto grown = mem.stop()) r.peak_mem_bytes = grown;
    res.rows.insert(res.rows.begin(), r);
    for (auto& row : res.rows) row.ratio_to_sgemm = row.ms / r.ms;
  }
  res.mem_method = method;
  return res;
}

}  // namespace vq::app
