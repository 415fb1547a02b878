// Internal helpers shared by the safetensors reader and writer (core/safetensors*.cpp):
// quoting untrusted names for error messages. Not part of the public API.
#pragma once
#include <cstdio>
#include <string>

namespace vq {
namespace detail {

constexpr const char* kSupportedDtypes = "F32, F16, BF16, F64, I64, I32, U8, BOOL";

// Cuts a string from an untrusted file to a length fit for an error message.
inline std::string clip(const std::string& s, size_t max_len = 120) {
  return s.size() <= max_len ? s : s.substr(0, max_len) + "...";
}

// 'name' in single quotes, control bytes escaped as \xNN, long names cut short.
inline std::string quote_name(const std::string& s) {
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < 120; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > 120) out += "...";
  return out + "'";
}

}  // namespace detail
}  // namespace vq
