// RAII device scratch for the CUDA index / sort launchers, taken from the caching
// allocator (core/storage.h) so steady-state calls never reach cudaMalloc. Blocks are
// reused in stream order, which is safe because all vqcpp work on a device runs on its
// one stream. Plain C++ (no CUDA types). Note: inside a TU that declares namespace
// vq::cuda the factory function vq::cuda(int) is hidden; spell Device{...} instead.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/storage.h"

namespace vq::cuda {

class Workspace {
 public:
  Workspace(size_t nbytes, int device)
      : n_(nbytes ? nbytes : 1),
        dev_(Device{DeviceType::CUDA, device}),
        p_(device_alloc(n_, dev_)) {}
  ~Workspace() { device_free(p_, n_, dev_); }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  void* get() const { return p_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(p_);
  }
  size_t size() const { return n_; }

 private:
  size_t n_;
  Device dev_;
  void* p_;
};

}  // namespace vq::cuda
