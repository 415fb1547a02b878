// The quantizer registry: reference class name -> factory.
#include <map>
#include <mutex>

#include "quantizers/builtin.h"
#include "quantizers/quantizer.h"

namespace vq {

namespace {
std::mutex& registry_mutex() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, QuantizerFactory>& registry() {
  static std::map<std::string, QuantizerFactory> r;
  return r;
}
void ensure_builtins() {
  static std::once_flag once;
  std::call_once(once, register_builtin_quantizers);
}
}  // namespace

void register_quantizer(const std::string& name, QuantizerFactory factory) {
  std::lock_guard<std::mutex> lk(registry_mutex());
  check<ConfigError>(!registry().count(name), "register_quantizer: '", name, "' registered twice");
  registry()[name] = std::move(factory);
}

std::vector<std::string> registered_quantizers() {
  ensure_builtins();
  std::lock_guard<std::mutex> lk(registry_mutex());
  std::vector<std::string> out;
  for (const auto& kv : registry()) out.push_back(kv.first);
  return out;
}

std::shared_ptr<Quantizer> make_quantizer(const std::string& name, const nlohmann::json& config) {
  ensure_builtins();
  QuantizerFactory f;
  {
    std::lock_guard<std::mutex> lk(registry_mutex());
    auto it = registry().find(name);
    if (it == registry().end()) {
      std::string known;
      for (const auto& kv : registry()) known += (known.empty() ? "" : ", ") + kv.first;
      throw ConfigError("unknown module '" + name + "'; known modules: " + known);
    }
    f = it->second;
  }
  return f(config);
}

}  // namespace vq
