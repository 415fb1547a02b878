// Command-line parsing for `vq` (see args.h).
#include "apps/args.h"

#include <cerrno>
#include <cstdlib>

namespace vq::app {

Args::Args(int argc, char** argv, int first, std::string command) : command_(std::move(command)) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || a.size() < 3)
      throw UsageError("vq " + command_ + ": unexpected argument '" + a + "' (options look like --name value)");
    std::string name = a.substr(2), value;
    auto eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      values_[name] = value;
    } else if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
      values_[name] = argv[++i];
    } else {
      flags_present_.insert(name);
      values_[name] = "";
    }
  }
}

std::string Args::str(const std::string& name, const std::string& def) {
  consumed_.insert(name);
  auto it = values_.find(name);
  if (it == values_.end()) return def;
  if (flags_present_.count(name))
    throw UsageError("vq " + command_ + ": --" + name + " needs a value");
  return it->second;
}

std::string Args::required(const std::string& name) {
  if (!has(name)) throw UsageError("vq " + command_ + ": --" + name + " is required");
  return str(name);
}

long long Args::integer(const std::string& name, long long def, long long lo, long long hi) {
  if (!has(name)) {
    consumed_.insert(name);
    return def;
  }
  std::string s = str(name);
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno == ERANGE || v < lo || v > hi)
    throw UsageError(str_cat("vq ", command_, ": --", name, " must be an integer in [", lo, ", ", hi,
                             "], got '", s, "'"));
  return v;
}

double Args::number(const std::string& name, double def, double lo, double hi) {
  if (!has(name)) {
    consumed_.insert(name);
    return def;
  }
  std::string s = str(name);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !(v >= lo && v <= hi))
    throw UsageError(str_cat("vq ", command_, ": --", name, " must be a number in [", lo, ", ", hi,
                             "], got '", s, "'"));
  return v;
}

bool Args::flag(const std::string& name) {
  consumed_.insert(name);
  if (!values_.count(name)) return false;
  if (!flags_present_.count(name))
    throw UsageError("vq " + command_ + ": --" + name + " takes no value");
  return true;
}

void Args::finish() const {
  for (const auto& kv : values_)
    if (!consumed_.count(kv.first))
      throw UsageError("vq " + command_ + ": unknown option --" + kv.first + " (see vq help)");
}

}  // namespace vq::app
