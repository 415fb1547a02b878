// OptionReader: builds a quantizer's options struct from a JSON object whose keys are
// the reference's keyword arguments. Each get() consumes a key with a type check;
// finish() rejects keys nobody consumed, naming the key and the module, so a typo
// in a config never passes silently.
#pragma once
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace vq {

class OptionReader {
 public:
  OptionReader(const nlohmann::json& j, std::string module) : j_(j), module_(std::move(module)) {
    check<ConfigError>(j_.is_object() || j_.is_null(), module_, ": config must be a JSON object, got ",
                       j_.dump());
  }

  // Reads key into out when present (JSON null leaves out unchanged). Throws
  // ConfigError naming the key when the value has the wrong type.
  template <typename T>
  void get(const char* key, T& out) {
    known_.insert(key);
    if (!j_.is_object() || !j_.contains(key) || j_.at(key).is_null()) return;
    try {
      out = j_.at(key).get<T>();
    } catch (const std::exception&) {
      throw ConfigError(str_cat(module_, ": option '", key, "' has the wrong type: ", j_.at(key).dump()));
    }
  }
  // std::optional fields: null or absent -> nullopt.
  template <typename T>
  void get(const char* key, std::optional<T>& out) {
    known_.insert(key);
    if (!j_.is_object() || !j_.contains(key) || j_.at(key).is_null()) return;
    T v{};
    get(key, v);
    out = v;
  }
  bool has(const char* key) const { return j_.is_object() && j_.contains(key) && !j_.at(key).is_null(); }
  // Marks keys as accepted without reading them (options that are parsed elsewhere).
  void accept(const char* key) { known_.insert(key); }

  // Throws ConfigError listing every key that no get()/accept() consumed.
  void finish() const {
    if (!j_.is_object()) return;
    std::string bad;
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (!known_.count(it.key())) bad += (bad.empty() ? "" : ", ") + std::string("'") + it.key() + "'";
    check<ConfigError>(bad.empty(), module_, ": unknown option ", bad);
  }

 private:
  const nlohmann::json& j_;
  std::string module_;
  std::set<std::string> known_;
};

}  // namespace vq
