// blas_choice: a standalone sgemm timing program used to pick the CPU BLAS (OpenBLAS
// or BLIS, see docs/blas-choice.md). Not part of the CMake build (its name does not
// match bench_*.cpp): compile it by hand once per library and run each binary.
//
//   g++ -O2 -std=c++17 bench/blas_choice.cpp -o /tmp/bc_openblas \
//       -I/usr/include/x86_64-linux-gnu/openblas-pthread \
//       -L/usr/lib/x86_64-linux-gnu/openblas-pthread -lopenblas
//   g++ -O2 -std=c++17 bench/blas_choice.cpp -o /tmp/bc_blis -fopenmp \
//       -I/usr/include/x86_64-linux-gnu/blis-openmp \
//       -L/usr/lib/x86_64-linux-gnu/blis-openmp -lblis
//   OPENBLAS_NUM_THREADS=2 /tmp/bc_openblas
//   OPENBLAS_NUM_THREADS=2 OPENBLAS_CORETYPE=SkylakeX /tmp/bc_openblas
//   BLIS_NUM_THREADS=2 OMP_NUM_THREADS=2 /tmp/bc_blis
//
// It times out[N, K] = X[N, D] * C[K, D]^T (the distance GEMM of nearest-code search:
// row-major, B transposed), best of 5 repetitions per shape, and prints GFLOP/s.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

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

// One timed repetition: enough sgemm calls to last >= 0.2 s, returns seconds per call.
double time_rep(const Case& c, const float* x, const float* cb, float* out) {
  int calls = 0;
  double t0 = seconds_now(), t1 = t0;
  do {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c.n, c.k, c.d, 1.f, x, c.d, cb, c.d,
                0.f, out, c.k);
    ++calls;
    t1 = seconds_now();
  } while (t1 - t0 < 0.2);
  return (t1 - t0) / calls;
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
    double best = 1e30;
    for (int r = 0; r < 5; ++r) best = std::min(best, time_rep(c, x.data(), cb.data(), out.data()));
    double gflops = 2.0 * c.n * c.d * c.k / best * 1e-9;
    std::printf("N=%-6d D=%-5d K=%-4d  best %8.3f ms  %7.1f GFLOP/s\n", c.n, c.d, c.k,
                best * 1e3, gflops);
  }
  return 0;
}
