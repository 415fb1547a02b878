// Device: where a tensor's memory lives. CPU or one CUDA device by index.
#pragma once
#include <string>

namespace vq {

enum class DeviceType : unsigned char { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
};

// NOTE: named cpu_device (not cpu) because vq::cpu is the namespace of CPU kernels.
inline Device cpu_device() { return Device{DeviceType::CPU, 0}; }
// NOTE: named cuda_device (not cuda) because vq::cuda is the namespace of CUDA kernels.
inline Device cuda_device(int index = 0) { return Device{DeviceType::CUDA, index}; }

// Parses "cpu", "cuda", "cuda:N"; throws ConfigError otherwise.
Device parse_device(const std::string& s);

// True when this build has CUDA and at least one device answers. Never throws; a
// driver error (no GPU, old driver) means false. Safe to call at any time after main().
bool cuda_available();
int cuda_device_count();

}  // namespace vq
