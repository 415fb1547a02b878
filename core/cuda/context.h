// The per-device CUDA context: one stream per device (created lazily, never during
// static initialization), error checking for runtime calls and kernel launches.
// Included only by code compiled with VQ_WITH_CUDA.
#pragma once
#include <cuda_runtime.h>

namespace vq::cuda {

// The stream all vqcpp work on `device` is queued on. Sets the current device.
cudaStream_t stream(int device);
// Throws CudaError("<what>: <cuda error string>") when err != cudaSuccess.
void check(cudaError_t err, const char* what);
// Checks the last launch; with VQ_CUDA_SYNC_DEBUG=1 in the environment also
// synchronizes so an asynchronous fault is reported at the kernel that caused it.
void check_launch(const char* kernel);
// Blocks until all work on the device's stream is done.
void synchronize(int device);

// Grid size for n elements with `block` threads per block (capped for grid-stride loops).
inline unsigned grid_for(long long n, int block = 256) {
  long long g = (n + block - 1) / block;
  if (g < 1) g = 1;
  if (g > 65535LL * 8) g = 65535LL * 8;
  return static_cast<unsigned>(g);
}

}  // namespace vq::cuda
