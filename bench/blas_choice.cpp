// blas_choice: a standalone sgemm timing program used to pick the CPU BLAS (OpenBLAS
// or BLIS, see docs/blas-choice.md). Not part of the CMake build (its name does not
// match bench_*.cpp): compile it by hand once per library and run each binary.
//
//   g++ -O2 -std=c++17 bench/blas_choice.cpp -o /tmp/bc_openblas -I/usr/include/x86_64-linux-gnu/openblas-pthread -L/usr/lib/x86_64-linux-gnu/openblas-pthread -lopenblas
//   g++ -O2 -std=c++17 bench/blas_choice.cpp -o /tmp/bc_blis -fopenmp -I/usr/include/x86_64-linux-gnu/blis-openmp -L/usr/lib/x86_64-linux-gnu/blis-openmp -lblis
//   OPENBLAS_NUM_THREADS=2 /tmp/bc_openblas
//   OPENBLAS_NUM_THREADS=2 OPENBLAS_CORETYPE=SkylakeX /tmp/bc_openblas
//   BLIS_NUM_THREADS=2 OMP_NUM_THREADS=2 /tmp/bc_blis
//
// It times out[N, K] = X[N, D] * C[K, D]^T (the distance GEMM of nearest-code search:
// row-major, B transposed), best of 5 repetitions per shape, and prints GFLOP/s from the
// wall clock and GFLOP per core-second from the process CPU time (all BLAS threads,
// spin-waiting included). On a machine shared with other jobs the wall figure follows
// the load; the CPU-time figure stays close to the uncontended speed per core (for one
// thread it is the uncontended speed), so both are printed.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <time.h>

#if defined(OPENBLAS_VERSION)
extern "C" char* openblas_get_corename(void);
extern "C" int openblas_get_num_threads(void);
#else
#include <blis.h>  // only for the name of the kernel set BLIS picked (bli_arch_string)
#endif

namespace {

struct Case {
  int n, d, k;
};

double seconds_now() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

// CPU time of the whole process (all BLAS threads, spinning included).
double cpu_seconds_now() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct Rep {
  double wall, cpu;  // seconds per call
};

// One timed repetition: enough sgemm calls to last >= 0.2 s.
Rep time_rep(const Case& c, const float* x, const float* cb, float* out) {
  int calls = 0;
  const double c0 = cpu_seconds_now();
  double t0 = seconds_now(), t1 = t0;
  do {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c.n, c.k, c.d, 1.f, x, c.d, cb, c.d,
                0.f, out, c.k);
    ++calls;
    t1 = seconds_now();
  } while (t1 - t0 < 0.2);
  return {(t1 - t0) / calls, (cpu_seconds_now() - c0) / calls};
}

}  // namespace

int main(int argc, char** argv) {
#if defined(OPENBLAS_VERSION)
  std::printf("library: %s core=%s threads=%d\n", OPENBLAS_VERSION, openblas_get_corename(),
              openblas_get_num_threads());
#else
  const char* bt = std::getenv("BLIS_NUM_THREADS");
  std::printf("library: BLIS %s arch=%s BLIS_NUM_THREADS=%s\n", bli_info_get_version_str(),
              bli_arch_string(bli_arch_query_id()), bt ? bt : "(unset)");
#endif
  const Case cases[] = {{16384, 1024, 256}, {12544, 256, 32}, {256, 784, 512}};
  for (const Case& c : cases) {
    std::vector<float> x(static_cast<size_t>(c.n) * c.d), cb(static_cast<size_t>(c.k) * c.d),
        out(static_cast<size_t>(c.n) * c.k);
    unsigned s = 12345;
    auto rnd = [&s] {
      s = s * 1664525u + 1013904223u;
      return static_cast<float>(s >> 8) / 16777216.f - 0.5f;
    };
    for (float& v : x) v = rnd();
    for (float& v : cb) v = rnd();
    time_rep(c, x.data(), cb.data(), out.data());  // warm-up (thread pool, page faults)
    double best = 1e30, best_cpu = 1e30;
    for (int r = 0; r < 5; ++r) {
      const Rep rep = time_rep(c, x.data(), cb.data(), out.data());
      best = std::min(best, rep.wall);
      best_cpu = std::min(best_cpu, rep.cpu);
    }
    const double flop = 2.0 * c.n * c.d * c.k;
    std::printf("N=%-6d D=%-5d K=%-4d  best %8.3f ms  %7.1f GFLOP/s  cpu %8.3f core-ms  %7.1f GFLOP/core-s\n",
                c.n, c.d, c.k, best * 1e3, flop / best * 1e-9, best_cpu * 1e3, flop / best_cpu * 1e-9);
  }
  return 0;
}
