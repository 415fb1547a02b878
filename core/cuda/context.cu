// Per-device streams and error checks (see context.h).
#include "core/cuda/context.h"

#include <cstdlib>
#include <mutex>
#include <string>

#include "core/error.h"

namespace vq::cuda {

namespace {
constexpr int kMaxDevices = 64;
cudaStream_t g_streams[kMaxDevices] = {};
std::mutex g_mu;
}  // namespace

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear sticky-free errors
    throw CudaError(std::string(what) + ": " + cudaGetErrorString(err));
  }
}

cudaStream_t stream(int device) {
  vq::check<DeviceError>(device >= 0 && device < kMaxDevices, "cuda: bad device index ", device);
  check(cudaSetDevice(device), "cudaSetDevice");
  std::lock_guard<std::mutex> lk(g_mu);
  if (!g_streams[device]) {
    check(cudaStreamCreateWithFlags(&g_streams[device], cudaStreamNonBlocking),
          "cudaStreamCreate");
  }
  return g_streams[device];
}

void check_launch(const char* kernel) {
  check(cudaGetLastError(), kernel);
  static const bool sync_debug = [] {
    const char* e = std::getenv("VQ_CUDA_SYNC_DEBUG");
    return e && e[0] == '1';
  }();
  if (sync_debug) check(cudaDeviceSynchronize(), kernel);
}

void synchronize(int device) { check(cudaStreamSynchronize(stream(device)), "cudaStreamSynchronize"); }

}  // namespace vq::cuda
