// Error types of vqcpp. Library code throws one of these and never exits or aborts.
// Every message names the operation and the shapes, dtypes or options involved.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace vq {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};
class ShapeError : public Error { using Error::Error; };
class DTypeError : public Error { using Error::Error; };
class DeviceError : public Error { using Error::Error; };
class CudaError : public Error { using Error::Error; };
class CommError : public Error { using Error::Error; };
class IoError : public Error { using Error::Error; };
class ConfigError : public Error { using Error::Error; };
class AutogradError : public Error { using Error::Error; };

namespace detail {
inline void format_into(std::ostringstream&) {}
template <typename T, typename... Rest>
void format_into(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  format_into(os, rest...);
}
}  // namespace detail

// Concatenates its arguments with operator<< into one string.
template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  detail::format_into(os, args...);
  return os.str();
}

// Throws ErrorT with the concatenated message when cond is false.
template <typename ErrorT = Error, typename... Args>
void check(bool cond, const Args&... args) {
  if (!cond) throw ErrorT(str_cat(args...));
}

}  // namespace vq

// VQ_CHECK(ErrT, cond, parts...): throws ErrT(str_cat(parts...)) when cond is false.
// Unlike vq::check, the message parts are evaluated only on failure, so hot paths can
// name shapes (shape_str, Tensor::str) at no cost when the check passes.
#define VQ_CHECK(ErrT, cond, ...)                    \
  do {                                               \
    if (!(cond)) throw ErrT(::vq::str_cat(__VA_ARGS__)); \
  } while (0)
