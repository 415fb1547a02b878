// Safetensors I/O: save and load named tensors plus a string->string metadata map in
// the format of huggingface/safetensors (8-byte little-endian header length, a JSON
// header, then one contiguous byte buffer). Files written here load in Python's
// safetensors and torch; theirs load here. Every file read is treated as untrusted:
// each malformed input is a vq::IoError naming the file and the tensor, never a crash
// or an out-of-bounds read. Supported dtypes: F32, F16, BF16, F64, I64, I32, U8, BOOL.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace vq {

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;            // contiguous CPU tensors
  std::map<std::string, std::string> metadata;      // the "__metadata__" object
};

// Largest JSON header accepted (the same limit as the Rust safetensors crate).
constexpr uint64_t kSafetensorsMaxHeader = 100ull * 1000 * 1000;

// Reads a .safetensors file. Tensors come back as contiguous CPU tensors; a bool
// tensor must hold only bytes 0 and 1. Throws IoError (naming `path` and, where one
// is involved, the tensor) on a missing/unreadable file or any malformed content.
SafetensorsFile load_safetensors(const std::string& path);

// Parses an in-memory safetensors image of `size` bytes. `what` names the source in
// error messages (a path, "buffer", ...). Same checks and errors as load_safetensors.
SafetensorsFile parse_safetensors(const uint8_t* data, size_t size, const std::string& what);

// Serializes tensors (any device, any strides: copied to contiguous host memory) and
// metadata into a safetensors image. The header is padded with spaces to a multiple
// of 8 bytes; data is laid out by decreasing element size, then by name (like the Rust
// writer), so every tensor is aligned to its element size. Throws IoError on an
// undefined tensor, the reserved name "__metadata__", or a name that is not UTF-8.
std::vector<uint8_t> serialize_safetensors(
    const std::map<std::string, Tensor>& tensors,
    const std::map<std::string, std::string>& metadata = {});

// Writes serialize_safetensors(...) to `path` through a temporary file in the same
// directory that is flushed and then renamed over `path`, so a crash never leaves a
// half-written checkpoint. Throws IoError naming the path on any I/O failure.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// The safetensors dtype name ("F32", "BF16", ...) of a DType, and the reverse.
const char* safetensors_dtype_name(DType t);
// Returns false when `name` is not one of the eight supported dtype names.
bool safetensors_dtype_from_name(const std::string& name, DType* out);

}  // namespace vq
