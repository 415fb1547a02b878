// Peak-memory probes for `vq bench`: how much memory one phase of a benchmark takes
// beyond what was resident when the phase started.
//   CPU:  peak RSS growth. Linux: the kernel's high-water mark VmHWM is reset to the
//         current RSS through /proc/self/clear_refs ("5") at start(); the result is
//         VmHWM - VmRSS(start). Without that reset the lifetime peak (getrusage) is used
//         and only growth above the earlier peak is visible (method says which).
//   CUDA: growth of the device memory in use (cudaMemGetInfo total - free) between
//         start() and stop(). vqcpp's caching allocator keeps freed blocks, so this is
//         the high-water mark of what the phase reserved (plus cuBLAS workspaces).
// start() first returns vqcpp's cached blocks (empty_cache) and trims the C heap, so a
// phase is not credited with memory an earlier phase left in the caches.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "core/device.h"

namespace vq::app {

class MemProbe {
 public:
  explicit MemProbe(Device device) : device_(device) {}
  void start();
  // Bytes (>= 0) grown since start(), or nullopt when this platform cannot tell.
  std::optional<int64_t> stop();
  // How the figure was obtained, e.g. "peak RSS growth (VmHWM reset via clear_refs)".
  std::string method() const { return method_; }

 private:
  Device device_;
  bool reset_ok_ = false;
  int64_t base_ = -1;       // RSS (CPU, bytes) or device bytes in use (CUDA) at start
  int64_t base_peak_ = -1;  // lifetime peak RSS at start (fallback)
  std::string method_ = "n/a";
};

// Current resident set size of this process in bytes (-1 when unknown).
int64_t current_rss_bytes();

}  // namespace vq::app
