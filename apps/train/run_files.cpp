// Output folder staging, loss curve CSV and checkpoints of `vq train` (see run_files.h).
#include "apps/train/run_files.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/safetensors.h"

namespace vq::app {

namespace fs = std::filesystem;

namespace {
constexpr const char* kFormat = "vqcpp-train-checkpoint";
}

OutputDir::OutputDir(const std::string& dir) : dir_(dir) {
  check<IoError>(!dir.empty(), "--out: empty folder name");
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw IoError(str_cat("--out '", dir, "' exists and is not a folder: choose another --out DIR"));
  fs::create_directories(dir, ec);
  if (ec)
    throw IoError(str_cat("cannot create output folder '", dir, "': ", ec.message(),
                          " (choose a writable --out DIR)"));
  staging_ = (fs::path(dir) / (".staging-" + std::to_string(::getpid()))).string();
  fs::remove_all(staging_, ec);
  fs::create_directory(staging_, ec);
  if (ec)
    throw IoError(str_cat("cannot write into output folder '", dir, "': ", ec.message(),
                          " (choose a writable --out DIR)"));
}

OutputDir::~OutputDir() {
  std::error_code ec;
  fs::remove_all(staging_, ec);
}

std::string OutputDir::staged(const std::string& name) const {
  return (fs::path(staging_) / name).string();
}

void OutputDir::write(const std::string& name, const std::string& bytes) {
  const std::string path = staged(name);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw IoError(str_cat("cannot write '", path, "': ", std::strerror(errno)));
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) throw IoError(str_cat("cannot write '", path, "' (disk full?)"));
}

void OutputDir::write(const std::string& name, const std::vector<uint8_t>& bytes) {
  write(name, std::string(bytes.begin(), bytes.end()));
}

void OutputDir::commit(const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    std::error_code ec;
    fs::rename(staged(n), fs::path(dir_) / n, ec);
    if (ec) throw IoError(str_cat("cannot move '", n, "' into '", dir_, "': ", ec.message()));
  }
  std::error_code ec;
  fs::remove_all(staging_, ec);
  committed_ = true;
}

std::string loss_curve_csv(const std::vector<StepRecord>& curve) {
  std::string out = "step,rec_loss,aux_loss,active_fraction,perplexity,seconds\n";
  double t = 0;
  char b[160];
  for (const StepRecord& r : curve) {
    t += r.seconds;
    std::snprintf(b, sizeof b, "%lld,%.6f,%.6g,%.6f,%.4f,%.4f\n", static_cast<long long>(r.step),
                  r.rec_loss, r.aux_loss, r.active_fraction, r.perplexity, t);
    out += b;
  }
  return out;
}

double mean_of_last(const std::vector<StepRecord>& curve, size_t n, double StepRecord::*field) {
  if (curve.empty()) return 0.0;
  n = std::min(n, curve.size());
  double s = 0;
  for (size_t i = curve.size() - n; i < curve.size(); ++i) s += curve[i].*field;
  return s / double(n);
}

void save_checkpoint(const std::string& path, AutoEncoder& model, const TrainOptions& options,
                     int64_t step) {
  std::map<std::string, std::string> meta = {
      {"format", kFormat},
      {"version", "1"},
      {"model", model.options().to_json().dump()},
      {"train_options", options.to_json().dump()},
      {"quantizer_module", model.options().quantizer_module()},
      {"quantizer_config", model.options().quantizer_config().dump()},
      {"step", std::to_string(step)}};
  save_safetensors(path, model.state_dict(), meta);
}

Checkpoint load_checkpoint(const std::string& path, Device device) {
  SafetensorsFile f = load_safetensors(path);
  auto it = f.metadata.find("format");
  if (it == f.metadata.end() || it->second != kFormat)
    throw IoError(str_cat("'", path, "' is not a vq train checkpoint (no format=", kFormat,
                          " metadata): pass the checkpoint.safetensors of a vq train run"));
  Checkpoint c;
  ModelOptions mo;
  try {
    mo = ModelOptions::from_json(nlohmann::json::parse(f.metadata.at("model")));
    c.train_options = f.metadata.count("train_options")
                          ? nlohmann::json::parse(f.metadata.at("train_options"))
                          : nlohmann::json::object();
    c.step = f.metadata.count("step") ? std::stoll(f.metadata.at("step")) : 0;
  } catch (const std::exception& e) {
    throw IoError(str_cat("'", path, "': bad checkpoint metadata: ", e.what()));
  }
  c.model = std::make_shared<AutoEncoder>(mo, default_generator());
  try {
    c.model->load_state_dict(f.tensors, /*strict=*/true);
  } catch (const Error& e) {
    throw IoError(str_cat("'", path, "': tensors do not match the model they describe: ", e.what()));
  }
  c.model->to(device);
  c.model->eval();
  return c;
}

}  // namespace vq::app
