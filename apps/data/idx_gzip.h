// Readers for gzip-compressed IDX files (the MNIST / Fashion-MNIST container format):
// strict gzip decompression through zlib and an IDX parser that checks the magic
// number, element type, rank and that the payload size matches the dimensions exactly.
// Files are untrusted: every problem is a vq::IoError naming the file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace vq::data {

// Decompresses the whole gzip file at `path`. Throws IoError when the file is missing
// (the message ends with `missing_hint` when one is given), unreadable, not gzip,
// corrupt (bad deflate data or CRC), truncated, followed by trailing bytes, or when
// it inflates to more than `max_bytes` (a guard against decompression bombs).
std::vector<uint8_t> read_gzip_file(const std::string& path, size_t max_bytes = size_t(1) << 30,
                                    const std::string& missing_hint = "");

// Parses an IDX image of unsigned bytes (type code 0x08) of rank `expected_rank`.
// Returns a u8 CPU tensor of the stored dimensions. `what` names the source in
// errors. Throws IoError on a bad magic, another element type, another rank, a zero
// or oversized dimension, or a payload shorter or longer than the dimensions need.
Tensor parse_idx_u8(const uint8_t* data, size_t size, int expected_rank, const std::string& what);

}  // namespace vq::data
