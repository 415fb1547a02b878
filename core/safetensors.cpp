// Safetensors reading: the header parser and validator shared by load_safetensors
// (reads each tensor straight from the file into its storage) and parse_safetensors
// (copies from a memory image). All checks run on the header before any data byte is
// touched; see core/safetensors_write.cpp for the writer.
#include "core/safetensors.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "core/copy_kernels.h"
#include "core/safetensors_detail.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors stores little-endian data; big-endian hosts would need byte swaps");

namespace vq {
namespace {

using json = nlohmann::json;

// Deepest container nesting accepted in a header (root object = 0, a tensor entry = 1,
// its shape array = 2); a little slack for unknown fields other writers may add.
constexpr int kMaxJsonDepth = 8;

struct Entry {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  uint64_t begin = 0, end = 0;  // relative to the start of the data buffer
};

struct Header {
  std::vector<Entry> entries;  // sorted by (begin, end)
  std::map<std::string, std::string> metadata;
};

// What failed, where: "safetensors 'f.safetensors': tensor 'w': <msg>".
[[noreturn]] void fail(const std::string& what, const std::string& msg) {
  throw IoError(str_cat("safetensors '", what, "': ", msg));
}
[[noreturn]] void fail_tensor(const std::string& what, const std::string& name,
                              const std::string& msg) {
  fail(what, str_cat("tensor ", detail::quote_name(name), ": ", msg));
}

const char* json_kind(const json& v) {
  if (v.is_number_float()) return "a non-integer number";
  if (v.is_number_integer() && !v.is_number_unsigned()) return "a negative number";
  return v.type_name();
}

// Parses the JSON text; rejects duplicate keys at any level and absurd nesting.
json parse_json(const char* text, size_t n, const std::string& what) {
  std::vector<std::set<std::string>> open_objects;
  auto cb = [&](int depth, json::parse_event_t ev, json& parsed) -> bool {
    switch (ev) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth > kMaxJsonDepth)
          fail(what, str_cat("header nests JSON deeper than ", kMaxJsonDepth, " levels"));
        if (ev == json::parse_event_t::object_start) open_objects.emplace_back();
        break;
      case json::parse_event_t::key: {
        const std::string& k = parsed.get_ref<const std::string&>();
        if (!open_objects.empty() && !open_objects.back().insert(k).second) {
          if (depth == 1) fail_tensor(what, k, "name appears twice in the header");
          fail(what, str_cat("header repeats the key ", detail::quote_name(k)));
        }
        break;
      }
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(text, text + n, cb, /*allow_exceptions=*/true);
  } catch (const json::exception& e) {
    fail(what, str_cat("header is not valid JSON (", e.what(), ")"));
  }
}

DType parse_dtype(const json& v, const std::string& what, const std::string& name) {
  if (!v.is_string()) fail_tensor(what, name, str_cat("\"dtype\" is ", v.type_name(), ", not a string"));
  const std::string& s = v.get_ref<const std::string&>();
  DType t;
  if (safetensors_dtype_from_name(s, &t)) return t;
  static const std::set<std::string> known = {"I8", "I16", "U16", "U32", "U64", "F8_E4M3",
                                              "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2",
                                              "F4", "C64"};
  if (known.count(s))
    fail_tensor(what, name, str_cat("dtype ", s, " is not supported by vqcpp (supported: ",
                                    detail::kSupportedDtypes, ")"));
  fail_tensor(what, name, str_cat("unknown dtype ", detail::quote_name(s), " (supported: ",
                                  detail::kSupportedDtypes, ")"));
}

// Shape entries must be non-negative integers whose product (times the element size)
// fits in int64 even ignoring zero extents, so strides can never overflow.
Shape parse_shape(const json& v, DType dtype, const std::string& what, const std::string& name,
                  uint64_t* nbytes) {
  if (!v.is_array()) fail_tensor(what, name, str_cat("\"shape\" is ", v.type_name(), ", not an array"));
  if (v.size() > static_cast<size_t>(detail::kMaxDims))
    fail_tensor(what, name, str_cat("shape has rank ", v.size(), ", more than vqcpp's maximum of ",
                                    detail::kMaxDims));
  Shape shape;
  shape.reserve(v.size());
  uint64_t nonzero_product = 1;
  bool has_zero = false;
  for (size_t i = 0; i < v.size(); ++i) {
    const json& d = v[i];
    if (!d.is_number_unsigned())
      fail_tensor(what, name, str_cat("shape entry ", i, " is ", json_kind(d),
                                      ", not a non-negative integer"));
    uint64_t x = d.get<uint64_t>();
    if (x > static_cast<uint64_t>(INT64_MAX))
      fail_tensor(what, name, str_cat("shape entry ", i, " = ", x, " is too large"));
    if (x == 0) has_zero = true;
    else if (__builtin_mul_overflow(nonzero_product, x, &nonzero_product) ||
             nonzero_product > static_cast<uint64_t>(INT64_MAX) / 8)
      fail_tensor(what, name, str_cat("shape ", v.dump(), " has an element count that overflows"));
    shape.push_back(static_cast<int64_t>(x));
  }
  *nbytes = has_zero ? 0 : nonzero_product * dtype_size(dtype);
  return shape;
}

void parse_offsets(const json& v, const std::string& what, const std::string& name,
                   uint64_t buffer_size, Entry* e) {
  if (!v.is_array() || v.size() != 2)
    fail_tensor(what, name, str_cat("\"data_offsets\" must be an array [begin, end], got ",
                                    detail::clip(v.dump())));
  for (int i = 0; i < 2; ++i)
    if (!v[i].is_number_unsigned())
      fail_tensor(what, name, str_cat("data_offsets[", i, "] is ", json_kind(v[i]),
                                      ", not a non-negative integer"));
  e->begin = v[0].get<uint64_t>();
  e->end = v[1].get<uint64_t>();
  if (e->begin > e->end)
    fail_tensor(what, name, str_cat("data_offsets [", e->begin, ", ", e->end, "] are reversed"));
  if (e->end > buffer_size)
    fail_tensor(what, name, str_cat("data_offsets [", e->begin, ", ", e->end,
                                    "] are out of range: the data buffer holds ", buffer_size,
                                    " bytes"));
}

Entry parse_entry(const std::string& name, const json& v, const std::string& what,
                  uint64_t buffer_size) {
  if (!v.is_object()) fail_tensor(what, name, str_cat("entry is ", v.type_name(), ", not an object"));
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!v.contains(field)) fail_tensor(what, name, str_cat("entry lacks \"", field, "\""));
  Entry e;
  e.name = name;
  e.dtype = parse_dtype(v["dtype"], what, name);
  uint64_t nbytes = 0;
  e.shape = parse_shape(v["shape"], e.dtype, what, name, &nbytes);
  parse_offsets(v["data_offsets"], what, name, buffer_size, &e);
  if (e.end - e.begin != nbytes)
    fail_tensor(what, name, str_cat("shape ", shape_str(e.shape), " of dtype ",
                                    safetensors_dtype_name(e.dtype), " needs ", nbytes,
                                    " bytes but data_offsets [", e.begin, ", ", e.end,
                                    "] span ", e.end - e.begin));
  return e;
}

// Offsets must tile [0, buffer_size) exactly, as the safetensors format requires.
void check_coverage(const std::vector<Entry>& entries, const std::string& what,
                    uint64_t buffer_size) {
  uint64_t pos = 0;
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < pos)
      fail_tensor(what, e.name, str_cat("bytes [", e.begin, ", ", e.end, ") overlap tensor ",
                                        detail::quote_name(prev->name), " at [", prev->begin,
                                        ", ", prev->end, ")"));
    if (e.begin > pos)
      fail_tensor(what, e.name,
                  str_cat("data starts at ", e.begin, " leaving a gap of ", e.begin - pos,
                          " bytes after ", prev ? "tensor " + detail::quote_name(prev->name)
                                                 : std::string("the start of the buffer"),
                          ": safetensors requires contiguous data"));
    pos = e.end;
    prev = &e;
  }
  if (pos != buffer_size)
    fail(what, str_cat("the data buffer holds ", buffer_size, " bytes but the tensors cover only ",
                       pos, " (trailing bytes or a wrong header length)"));
}

Header parse_header(const char* text, size_t n, uint64_t buffer_size, const std::string& what) {
  json root = parse_json(text, n, what);
  if (!root.is_object()) fail(what, str_cat("header is a JSON ", root.type_name(), ", not an object"));
  Header h;
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object())
        fail(what, str_cat("\"__metadata__\" is ", it->type_name(), ", not an object"));
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string())
          fail(what, str_cat("metadata value of ", detail::quote_name(m.key()), " is ",
                             m->type_name(), ", not a string"));
        h.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    h.entries.push_back(parse_entry(it.key(), *it, what, buffer_size));
  }
  std::sort(h.entries.begin(), h.entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  check_coverage(h.entries, what, buffer_size);
  return h;
}

uint64_t read_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Header length from the 8-byte prefix, checked against the bytes that follow it.
uint64_t checked_header_len(const uint8_t* prefix, uint64_t size, const std::string& what) {
  uint64_t n = read_le64(prefix);
  if (n > kSafetensorsMaxHeader)
    fail(what, str_cat("header length ", n, " exceeds the limit of ", kSafetensorsMaxHeader,
                       " bytes (corrupt or not a safetensors file)"));
  if (n > size - 8)
    fail(what, str_cat("header length ", n, " is larger than the ", size - 8,
                       " bytes after the length prefix (truncated file?)"));
  if (n < 2) fail(what, str_cat("header length ", n, " is too small for a JSON object"));
  return n;
}

void check_bool_bytes(const Entry& e, const uint8_t* p, const std::string& what) {
  for (uint64_t i = 0; i < e.end - e.begin; ++i)
    if (p[i] > 1)
      fail_tensor(what, e.name, str_cat("BOOL element ", i, " holds byte ", int(p[i]),
                                        " (must be 0 or 1)"));
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

SafetensorsFile parse_safetensors(const uint8_t* data, size_t size, const std::string& what) {
  if (size < 8 || data == nullptr)
    fail(what, str_cat("only ", size, " bytes: too short for the 8-byte header length"));
  uint64_t n = checked_header_len(data, size, what);
  const uint8_t* buffer = data + 8 + n;
  Header h = parse_header(reinterpret_cast<const char*>(data + 8), n, size - 8 - n, what);
  SafetensorsFile out;
  out.metadata = std::move(h.metadata);
  for (const Entry& e : h.entries) {
    const uint8_t* p = buffer + e.begin;
    if (e.dtype == DType::boolean) check_bool_bytes(e, p, what);
    Tensor t = Tensor::empty(e.shape, e.dtype, cpu_device());
    if (e.end > e.begin) std::memcpy(t.raw_data(), p, e.end - e.begin);
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

SafetensorsFile load_safetensors(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    fail(path, str_cat("cannot open: ", std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) fail(path, "not a regular file");
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) fail(path, str_cat("cannot open: ", std::strerror(errno)));
  uint64_t size = static_cast<uint64_t>(st.st_size);
  auto read_exact = [&](void* dst, uint64_t n, const char* part) {
    if (n > 0 && std::fread(dst, 1, n, f.get()) != n)
      fail(path, str_cat("read error in the ", part, " (file changed or I/O error)"));
  };
  if (size < 8) fail(path, str_cat("only ", size, " bytes: too short for the 8-byte header length"));
  uint8_t prefix[8];
  read_exact(prefix, 8, "header length");
  uint64_t n = checked_header_len(prefix, size, path);
  std::string text(n, '\0');
  read_exact(&text[0], n, "header");
  Header h = parse_header(text.data(), n, size - 8 - n, path);
  SafetensorsFile out;
  out.metadata = std::move(h.metadata);
  // Entries tile the buffer in order, so the data is read sequentially.
  for (const Entry& e : h.entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype, cpu_device());
    read_exact(t.raw_data(), e.end - e.begin, "tensor data");
    if (e.dtype == DType::boolean && e.end > e.begin)
      check_bool_bytes(e, static_cast<const uint8_t*>(t.raw_data()), path);
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

}  // namespace vq
