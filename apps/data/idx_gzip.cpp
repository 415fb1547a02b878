// gzip decompression (zlib inflate with gzip framing, whole file in memory) and the
// IDX u8 parser used by the Fashion-MNIST reader.
#include "apps/data/idx_gzip.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>

namespace vq::data {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& msg) {
  throw IoError(str_cat("'", what, "': ", msg));
}

std::vector<uint8_t> read_file(const std::string& path, const std::string& missing_hint) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) {
    int err = errno;
    std::string msg = str_cat("cannot open: ", std::strerror(err));
    if (err == ENOENT && !missing_hint.empty()) msg += "; " + missing_hint;
    fail(path, msg);
  }
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) out.insert(out.end(), buf, buf + n);
  if (std::ferror(f.get())) fail(path, str_cat("read error: ", std::strerror(errno)));
  return out;
}

uint32_t read_be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

}  // namespace

std::vector<uint8_t> read_gzip_file(const std::string& path, size_t max_bytes,
                                    const std::string& missing_hint) {
  std::vector<uint8_t> in = read_file(path, missing_hint);
  if (in.size() < 2 || in[0] != 0x1f || in[1] != 0x8b)
    fail(path, "not a gzip file (missing the 1f 8b signature)");
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) fail(path, "zlib inflateInit2 failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, &inflateEnd);
  std::vector<uint8_t> out;
  if (in.size() > UINT32_MAX) fail(path, "compressed file larger than 4 GiB");
  zs.next_in = in.data();
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (out.size() >= max_bytes)
      fail(path, str_cat("decompresses to more than ", max_bytes, " bytes"));
    size_t chunk = std::min<size_t>(size_t(1) << 22, max_bytes - out.size());
    size_t old = out.size();
    out.resize(old + chunk);
    zs.next_out = out.data() + old;
    zs.avail_out = static_cast<uInt>(chunk);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(old + (chunk - zs.avail_out));
    if (rc == Z_STREAM_END) break;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0)
      fail(path, "gzip stream is truncated (the file ends before the compressed data does)");
    if (rc != Z_OK && rc != Z_BUF_ERROR)
      fail(path, str_cat("corrupt gzip data (zlib: ", zs.msg ? zs.msg : zError(rc), ")"));
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out > 0)
      fail(path, "gzip stream is truncated (the file ends before the compressed data does)");
  }
  if (zs.avail_in != 0)
    fail(path, str_cat(zs.avail_in, " unexpected bytes after the end of the gzip stream"));
  return out;
}

Tensor parse_idx_u8(const uint8_t* data, size_t size, int expected_rank, const std::string& what) {
  if (size < 4) fail(what, str_cat("IDX data is ", size, " bytes, too short for the magic number"));
  if (data[0] != 0 || data[1] != 0)
    fail(what, "bad IDX magic number (first two bytes must be zero): not an IDX file");
  if (data[2] != 0x08)
    fail(what, str_cat("IDX element type code ", int(data[2]),
                       " is not 8 (0x08, unsigned byte)"));
  if (data[3] != expected_rank)
    fail(what, str_cat("IDX rank is ", int(data[3]), ", expected ", expected_rank));
  size_t header = 4 + 4 * size_t(expected_rank);
  if (size < header)
    fail(what, str_cat("IDX data is ", size, " bytes, too short for its ", header,
                       "-byte header (truncated)"));
  Shape shape;
  uint64_t count = 1;
  for (int d = 0; d < expected_rank; ++d) {
    uint32_t n = read_be32(data + 4 + 4 * d);
    if (n == 0) fail(what, str_cat("IDX dimension ", d, " is zero"));
    count *= n;  // at most 2^32 per factor; guarded below
    if (count > (uint64_t(1) << 40)) fail(what, "IDX dimensions describe more than 2^40 bytes");
    shape.push_back(n);
  }
  if (size - header < count)
    fail(what, str_cat("IDX payload is ", size - header, " bytes but dimensions ",
                       shape_str(shape), " need ", count, " (truncated)"));
  if (size - header > count)
    fail(what, str_cat("IDX payload is ", size - header, " bytes but dimensions ",
                       shape_str(shape), " need only ", count, " (trailing data)"));
  return Tensor::from_bytes(data + header, count, shape, DType::u8, cpu_device());
}

}  // namespace vq::data
