// Storage: one reference-counted block of device memory, plus a version counter
// that in-place ops bump (autograd uses it to detect a saved tensor modified before
// backward). Memory comes from a caching allocator so training steps do not hit
// malloc/cudaMalloc in their steady state.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/device.h"

namespace vq {

class Storage {
 public:
  // Allocates nbytes on device (uninitialized). Throws CudaError / Error on failure.
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  uint64_t version_ = 0;
};

// Raw allocation through the caching allocators (CPU: 64-byte aligned, huge pages
// for large blocks; CUDA: cached per device). Exposed for kernel workspaces.
void* device_alloc(size_t nbytes, Device device);
void device_free(void* p, size_t nbytes, Device device);
// Returns cached blocks to the system (CPU and CUDA).
void empty_cache();

}  // namespace vq
