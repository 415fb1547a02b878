// libFuzzer target for the safetensors reader. parse_safetensors on arbitrary bytes
// must either succeed or throw vq::IoError; anything else (a crash, an ASan/UBSan
// report, another exception type, a leak) is a finding. With VQ_FUZZ_FILE=1 in the
// environment each input is also written to a temporary file and read back with
// load_safetensors (the stdio path; put TMPDIR on a tmpfs), and the two readers must agree: the same
// tensors and metadata, or an error with the same message. Built with -DVQ_FUZZ=ON
// and clang; see docs/fuzzing.md for how to run it and what it found.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/safetensors.h"

namespace {

// Outcome of one reader as comparable text: an error message (with the source name
// cut out) or a digest of every tensor's name, dtype, shape and bytes.
std::string outcome(const vq::SafetensorsFile* f, const std::string& error) {
  if (!f) return "error: " + error;
  std::string s;
  for (const auto& [k, v] : f->metadata) s += "meta " + k + "=" + v + "\n";
  for (const auto& [name, t] : f->tensors) {
    s += name + " " + t.str() + " ";
    s.append(static_cast<const char*>(t.raw_data()), t.nbytes());
    s += "\n";
  }
  return s;
}

std::string strip_source(std::string msg, const std::string& source) {
  std::string tag = "safetensors '" + source + "'";
  size_t p = msg.find(tag);
  if (p != std::string::npos) msg.replace(p, tag.size(), "safetensors '<src>'");
  return msg;
}

const bool kCompareFile = [] {
  const char* e = std::getenv("VQ_FUZZ_FILE");
  return e && *e == '1';
}();

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string mem;
  try {
    vq::SafetensorsFile f = vq::parse_safetensors(data, size, "fuzz");
    mem = outcome(&f, "");  // touches every loaded byte, so ASan sees bad sizes
  } catch (const vq::IoError& e) {
    mem = outcome(nullptr, strip_source(e.what(), "fuzz"));
  }
  if (!kCompareFile) return 0;

  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/fuzz_safetensors." + std::to_string(::getpid());
  }();
  static const bool cleanup = [] { return std::atexit([] { std::remove(path.c_str()); }) == 0; }();
  (void)cleanup;
  std::FILE* out = std::fopen(path.c_str(), "wb");
  if (!out || (size && std::fwrite(data, 1, size, out) != size) || std::fclose(out) != 0) std::abort();
  std::string file;
  try {
    vq::SafetensorsFile f = vq::load_safetensors(path);
    file = outcome(&f, "");
  } catch (const vq::IoError& e) {
    file = outcome(nullptr, strip_source(e.what(), path));
  }
  if (file != mem) {
    std::fprintf(stderr, "readers disagree:\n--- parse_safetensors:\n%s\n--- load_safetensors:\n%s\n",
                 mem.c_str(), file.c_str());
    std::abort();
  }
  return 0;
}
