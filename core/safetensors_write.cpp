// Safetensors writing: the header layout (dtype-size-then-name order, space padding to
// 8 bytes), serialize_safetensors into memory, and save_safetensors through a temporary
// file renamed into place. Also the DType <-> safetensors dtype-name mapping.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "core/safetensors_detail.h"

namespace vq {

const char* safetensors_dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
    case DType::f64: return "F64";
    case DType::i64: return "I64";
    case DType::i32: return "I32";
    case DType::u8: return "U8";
    case DType::boolean: return "BOOL";
  }
  return "?";
}

bool safetensors_dtype_from_name(const std::string& name, DType* out) {
  static const std::pair<const char*, DType> table[] = {
      {"F32", DType::f32}, {"F16", DType::f16}, {"BF16", DType::bf16}, {"F64", DType::f64},
      {"I64", DType::i64}, {"I32", DType::i32}, {"U8", DType::u8},     {"BOOL", DType::boolean}};
  for (const auto& [n, t] : table)
    if (name == n) {
      *out = t;
      return true;
    }
  return false;
}

namespace {

using json = nlohmann::json;

struct Layout {
  std::string header;  // JSON text padded with spaces to a multiple of 8 bytes
  std::vector<std::pair<const std::string*, Tensor>> items;  // contiguous CPU, file order
};

Layout make_layout(const std::map<std::string, Tensor>& tensors,
                   const std::map<std::string, std::string>& metadata, const std::string& what) {
  Layout L;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__")
      throw IoError(str_cat("save_safetensors '", what,
                            "': \"__metadata__\" is reserved and cannot name a tensor"));
    if (!t.defined())
      throw IoError(str_cat("save_safetensors '", what, "': tensor ", detail::quote_name(name),
                            " is undefined"));
    L.items.emplace_back(&name, t.to(cpu_device()).contiguous());
  }
  std::stable_sort(L.items.begin(), L.items.end(), [](const auto& a, const auto& b) {
    return dtype_size(a.second.dtype()) > dtype_size(b.second.dtype());
  });
  json h = json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  uint64_t pos = 0;
  for (const auto& [name, t] : L.items) {
    uint64_t n = t.nbytes();
    h[*name] = {{"dtype", safetensors_dtype_name(t.dtype())},
                {"shape", t.shape()},
                {"data_offsets", {pos, pos + n}}};
    pos += n;
  }
  try {
    L.header = h.dump();
  } catch (const json::exception& e) {
    throw IoError(str_cat("save_safetensors '", what,
                          "': a tensor name or metadata string is not valid UTF-8 (", e.what(),
                          ")"));
  }
  L.header.append((8 - L.header.size() % 8) % 8, ' ');
  return L;
}

void put_le64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// write(2) until done; false on error (errno set).
bool write_all(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

std::vector<uint8_t> serialize_safetensors(const std::map<std::string, Tensor>& tensors,
                                           const std::map<std::string, std::string>& metadata) {
  Layout L = make_layout(tensors, metadata, "<memory>");
  size_t total = 8 + L.header.size();
  for (const auto& it : L.items) total += it.second.nbytes();
  std::vector<uint8_t> out(total);
  put_le64(out.data(), L.header.size());
  std::memcpy(out.data() + 8, L.header.data(), L.header.size());
  size_t pos = 8 + L.header.size();
  for (const auto& [name, t] : L.items) {
    if (t.nbytes() > 0) std::memcpy(out.data() + pos, t.raw_data(), t.nbytes());
    pos += t.nbytes();
  }
  return out;
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  Layout L = make_layout(tensors, metadata, path);
  static std::atomic<unsigned> counter{0};
  const std::string tmp = str_cat(path, ".tmp.", ::getpid(), ".", counter++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    throw IoError(str_cat("save_safetensors '", path, "': cannot create ", tmp, ": ",
                          std::strerror(errno)));
  auto fail = [&](const char* step) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    throw IoError(str_cat("save_safetensors '", path, "': ", step, " failed: ",
                          std::strerror(err)));
  };
  uint8_t prefix[8];
  put_le64(prefix, L.header.size());
  if (!write_all(fd, prefix, 8) || !write_all(fd, L.header.data(), L.header.size())) fail("write");
  for (const auto& it : L.items)
    if (!write_all(fd, it.second.raw_data(), it.second.nbytes())) fail("write");
  if (::fsync(fd) != 0) fail("fsync");
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw IoError(str_cat("save_safetensors '", path, "': close failed: ", std::strerror(err)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw IoError(str_cat("save_safetensors '", path, "': rename from ", tmp, " failed: ",
                          std::strerror(err)));
  }
}

}  // namespace vq
