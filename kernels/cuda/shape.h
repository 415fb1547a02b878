// CUDA launcher for the shape ops' row copies (plain C++ declaration; see shape.cu).
#pragma once
#include <cstddef>

namespace vq::cuda {

// Copies `height` rows of `width` bytes from src (row pitch spitch bytes) to dst (row
// pitch dpitch bytes), device to device, on the device's stream.
void copy_rows(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
               size_t height, int device);

}  // namespace vq::cuda
