// Peak-memory probes for `vq bench` (see mem_probe.h).
#include "apps/bench/mem_probe.h"

#include <malloc.h>
#include <sys/resource.h>

#include <fstream>
#include <sstream>

#include "core/storage.h"

#ifdef VQ_WITH_CUDA
// The one CUDA runtime call this file needs. apps/ is compiled without the CUDA include
// path (cuda_runtime.h stays inside core/ and kernels/); the runtime library itself is
// linked through vq_core. Declared as in cuda_runtime_api.h (cudaError_t is an int enum).
extern "C" int cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
extern "C" int cudaSetDevice(int device);
#endif

namespace vq::app {

namespace {

// A "Name:   123 kB" field of /proc/self/status in bytes, or -1.
int64_t status_field_bytes(const char* name) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string key = std::string(name) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    std::istringstream ss(line.substr(key.size()));
    int64_t kb = -1;
    ss >> kb;
    return kb < 0 ? -1 : kb * 1024;
  }
  return -1;
}

int64_t lifetime_peak_rss_bytes() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;  // Linux reports kB
}

#ifdef VQ_WITH_CUDA
int64_t cuda_used_bytes(int device) {
  size_t free_b = 0, total_b = 0;
  if (cudaSetDevice(device) != 0 || cudaMemGetInfo(&free_b, &total_b) != 0) return -1;
  return static_cast<int64_t>(total_b - free_b);
}
#endif

}  // namespace

int64_t current_rss_bytes() { return status_field_bytes("VmRSS"); }

void MemProbe::start() {
  empty_cache();
  if (device_.is_cuda()) {
#ifdef VQ_WITH_CUDA
    base_ = cuda_used_bytes(device_.index);
    method_ = base_ >= 0 ? "device memory in use growth (cudaMemGetInfo)" : "n/a";
#else
    base_ = -1;
#endif
    return;
  }
  malloc_trim(0);
  std::ofstream clear("/proc/self/clear_refs");
  reset_ok_ = static_cast<bool>(clear << "5" << std::flush);
  base_ = current_rss_bytes();
  base_peak_ = lifetime_peak_rss_bytes();
  if (base_ < 0)
    method_ = "n/a";
  else if (reset_ok_)
    method_ = "peak RSS growth (VmHWM reset via /proc/self/clear_refs)";
  else
    method_ = "peak RSS growth above the earlier lifetime peak (getrusage)";
}

std::optional<int64_t> MemProbe::stop() {
  if (base_ < 0) return std::nullopt;
  int64_t now = -1;
  if (device_.is_cuda()) {
#ifdef VQ_WITH_CUDA
    now = cuda_used_bytes(device_.index);
#endif
    if (now < 0) return std::nullopt;
    return now > base_ ? now - base_ : 0;
  }
  if (reset_ok_) {
    now = status_field_bytes("VmHWM");
    if (now < 0) return std::nullopt;
    return now > base_ ? now - base_ : 0;
  }
  now = lifetime_peak_rss_bytes();
  if (now < 0) return std::nullopt;
  const int64_t floor = base_ > base_peak_ ? base_ : base_peak_;
  return now > floor ? now - floor : 0;
}

}  // namespace vq::app
