// Storage and the device allocators: CPU blocks are 64-byte aligned, large ones are
// advised to use transparent huge pages (a fresh 64 MiB costs ~200 ms in 4 KiB page
// faults on the build VM, ~6 ms with huge pages) and cached; CUDA blocks are cached
// per device.
#include "core/storage.h"

#include <sys/mman.h>

#include <cstdlib>
#include <new>

#include "core/caching_allocator.h"
#include "core/error.h"
#ifdef VQ_WITH_CUDA
#include <cuda_runtime.h>

#include "core/cuda/context.h"
#endif

namespace vq {
namespace {

constexpr size_t kHugeThreshold = size_t(2) << 20;

void* cpu_raw_alloc(size_t n) {
  size_t align = n >= kHugeThreshold ? kHugeThreshold : 64;
  size_t rounded = (n + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded);
  if (p && n >= kHugeThreshold) madvise(p, rounded, MADV_HUGEPAGE);
  return p;
}
void cpu_raw_free(void* p, size_t) { std::free(p); }

detail::CachingAllocator& cpu_allocator() {
  // Leaked on purpose: no destructor ordering issues at exit.
  static auto* a = new detail::CachingAllocator(cpu_raw_alloc, cpu_raw_free, size_t(1) << 20,
                                                size_t(4) << 30);
  return *a;
}

#ifdef VQ_WITH_CUDA
void* cuda_raw_alloc(size_t n) {
  void* p = nullptr;
  if (cudaMalloc(&p, n) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  return p;
}
void cuda_raw_free(void* p, size_t) { cudaFree(p); }

detail::CachingAllocator& cuda_allocator(int device) {
  static detail::CachingAllocator* a[64] = {};
  static std::mutex mu;
  std::lock_guard<std::mutex> lk(mu);
  if (!a[device])
    a[device] = new detail::CachingAllocator(cuda_raw_alloc, cuda_raw_free, 0, size_t(64) << 30);
  return *a[device];
}
#endif

}  // namespace

void* device_alloc(size_t nbytes, Device device) {
  if (nbytes == 0) nbytes = 1;
  if (device.is_cpu()) {
    void* p = cpu_allocator().allocate(nbytes);
    if (!p) throw Error(str_cat("out of host memory allocating ", nbytes, " bytes"));
    return p;
  }
#ifdef VQ_WITH_CUDA
  VQ_CHECK(DeviceError, cuda_available(), "no CUDA device available for ", device.str());
  cuda::stream(device.index);  // sets the device
  void* p = cuda_allocator(device.index).allocate(nbytes);
  if (!p) throw CudaError(str_cat("out of GPU memory allocating ", nbytes, " bytes on ", device.str()));
  return p;
#else
  throw DeviceError(str_cat("this build of vqcpp has no CUDA support (", device.str(),
                            " requested); rebuild with -DVQ_WITH_CUDA=ON"));
#endif
}

void device_free(void* p, size_t nbytes, Device device) {
  if (!p) return;
  if (nbytes == 0) nbytes = 1;
  if (device.is_cpu()) {
    cpu_allocator().deallocate(p, nbytes);
    return;
  }
#ifdef VQ_WITH_CUDA
  cuda_allocator(device.index).deallocate(p, nbytes);
#endif
}

void empty_cache() {
  cpu_allocator().empty();
#ifdef VQ_WITH_CUDA
  for (int d = 0; d < cuda_device_count(); ++d) cuda_allocator(d).empty();
#endif
}

Storage::Storage(size_t nbytes, Device device)
    : data_(device_alloc(nbytes, device)), nbytes_(nbytes), device_(device) {}

Storage::~Storage() {
  try {
    device_free(data_, nbytes_, device_);
  } catch (...) {
  }
}

}  // namespace vq
