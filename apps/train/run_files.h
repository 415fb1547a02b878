// The files of a `vq train` run: an output folder that only ever receives complete
// files (everything is written into a private staging folder inside it and renamed
// into place at the end, summary.json last), loss_curve.csv, summary.json and the
// checkpoint (model state under the examples' state_dict names + the options as
// safetensors metadata), which `vq eval` reloads.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/train/model.h"
#include "apps/train/trainer.h"

namespace vq::app {

class OutputDir {
 public:
  // Creates `dir` (with parents) when missing and a staging folder ".staging-<pid>"
  // inside it. Throws IoError (one line, naming the folder, the system's reason and
  // what to do) when `dir` is not a folder or cannot be created or written.
  explicit OutputDir(const std::string& dir);
  // Removes the staging folder and what it holds unless commit() ran. Never throws.
  ~OutputDir();
  OutputDir(const OutputDir&) = delete;
  OutputDir& operator=(const OutputDir&) = delete;

  // Path of `name` in the staging folder (write there, then commit).
  std::string staged(const std::string& name) const;
  // Writes bytes to staged(name) (IoError on failure).
  void write(const std::string& name, const std::string& bytes);
  void write(const std::string& name, const std::vector<uint8_t>& bytes);
  // Renames the staged files into the folder in the order given (put the file that
  // marks a finished run last), then removes the staging folder. IoError on failure.
  void commit(const std::vector<std::string>& names);
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_, staging_;
  bool committed_ = false;
};

// "step,rec_loss,aux_loss,active_fraction,perplexity,seconds" then one row per step
// (seconds: cumulative training time at the end of the step).
std::string loss_curve_csv(const std::vector<StepRecord>& curve);

// Mean of field(r) over the last `n` records (all when fewer); 0 when empty.
double mean_of_last(const std::vector<StepRecord>& curve, size_t n, double StepRecord::*field);

// Saves the model's state_dict (parameters + quantizer buffers) to `path` with metadata
// format=vqcpp-train-checkpoint, version=1, model (ModelOptions JSON), train_options
// (TrainOptions JSON), quantizer_module, quantizer_config, step.
void save_checkpoint(const std::string& path, AutoEncoder& model, const TrainOptions& options,
                     int64_t step);

struct Checkpoint {
  std::shared_ptr<AutoEncoder> model;  // on the requested device, in eval mode
  nlohmann::json train_options;        // as saved
  int64_t step = 0;
};
// Loads a checkpoint written by save_checkpoint onto `device`. Throws IoError when the
// file is not such a checkpoint (unreadable, not safetensors, wrong format, options or
// tensors that do not match the model they describe).
Checkpoint load_checkpoint(const std::string& path, Device device);

}  // namespace vq::app
