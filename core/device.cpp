// Device parsing and CUDA availability (a driver error means "no devices").
#include "core/device.h"

#include "core/error.h"
#ifdef VQ_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace vq {

Device parse_device(const std::string& s) {
  if (s == "cpu") return cpu_device();
  if (s == "cuda") return cuda_device(0);
  if (s.rfind("cuda:", 0) == 0 && s.size() > 5) {
    int idx = 0;
    for (size_t i = 5; i < s.size(); ++i) {
      VQ_CHECK(ConfigError, s[i] >= '0' && s[i] <= '9' && idx < 1000, "device: expected cpu, cuda or cuda:N, got '", s, "'");
      idx = idx * 10 + (s[i] - '0');
    }
    return cuda_device(idx);
  }
  throw ConfigError("device: expected cpu, cuda or cuda:N, got '" + s + "'");
}

int cuda_device_count() {
#ifdef VQ_WITH_CUDA
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();
      return 0;
    }
    return n;
  }();
  return count;
#else
  return 0;
#endif
}

bool cuda_available() { return cuda_device_count() > 0; }

}  // namespace vq
