// One complete `vq train` run: data, training with progress, test-set evaluation and
// the output files (summary.json, loss_curve.csv, reconstructions.png, code_usage.png,
// loss_curve.png, checkpoint.safetensors); and the `vq eval` of a checkpoint. The
// command-line layer (apps/cmd_train.cpp, apps/cmd_eval.cpp) only parses flags.
#pragma once
#include <atomic>
#include <cstdint>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/train/trainer.h"

namespace vq::app {

struct RunOptions {
  TrainOptions train;
  std::string data_dir;  // Fashion-MNIST IDX gzip files
  std::string out_dir;   // created (with parents) once the data has loaded
  int64_t log_every = 0;  // log-line period in steps (0: ~10 lines per run)
  bool tty = false;       // draw a progress bar instead of log lines
  int64_t samples = 48;   // test images shown in reconstructions.png
  // When set and it becomes true, the run stops at the next step (or before its files
  // are published) and nothing is written (Ctrl-C).
  const std::atomic<bool>* stop = nullptr;
};

struct RunResult {
  bool interrupted = false;
  nlohmann::json summary;  // what summary.json holds (empty when interrupted)
};

// The files a finished run leaves in out_dir (summary.json is renamed in last).
extern const char* const kRunFiles[6];

// Trains, evaluates on the test split and writes the files (see the header comment),
// reporting progress to `log`. Throws IoError (data missing or corrupt, output folder
// not writable), ConfigError (invalid options, CUDA device unavailable) before any file
// is written; on any error or interruption no file of this run appears in out_dir.
RunResult run_training(const RunOptions& options, std::ostream& log);

// The --device flag of `vq <command>`: auto (CUDA device 0 when one answers, else the
// CPU), cpu, cuda, cuda:N. Throws UsageError (one line, saying what to use instead) for
// other values or a CUDA device that does not exist.
Device resolve_device_flag(const std::string& command, const std::string& value);

// Makes glibc keep freed memory for reuse instead of returning mid-sized blocks
// (128 KiB .. 1 MiB: kernel scratch, small activations) to the system, which would
// cost fresh zeroed pages on every training step. Process-wide; call once at start.
void keep_freed_memory();

// summary.json's fields from a finished run.
nlohmann::json make_summary(const TrainOptions& options, const std::vector<StepRecord>& curve,
                            double train_seconds, double cpu_seconds, const EvalResult& test,
                            int threads);

}  // namespace vq::app
