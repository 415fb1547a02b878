// `vq train`: trains the reference's Fashion-MNIST autoencoder example (SPEC.md
// section 21) with a VQ, FSQ or LFQ bottleneck and writes its results to --out:
//   vq train [--quantizer vq|fsq|lfq] [--steps 1000] [--batch-size 256] [--lr 3e-4]
//            [--seed 1234] [--codebook-size 256] [--levels 8,6,5]
//            [--rotation-trick | --straight-through] [--device auto|cpu|cuda[:N]]
//            [--threads N] [--out DIR] [--data DIR] [--log-every N]
// Flags are validated before anything else happens (one-line usage errors, exit 2);
// the output folder is created only after the data has loaded. Ctrl-C stops the run
// and leaves no files behind (exit 130).
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <sstream>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/data/fashion_mnist.h"
#include "apps/train/progress.h"
#include "apps/train/run.h"
#include "core/device.h"

namespace vq::app {

namespace {

std::atomic<bool> g_stop{false};
void on_sigint(int) { g_stop.store(true); }

std::vector<int64_t> parse_levels(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  std::string item;
  const std::string bad = "vq train: --levels must be comma-separated integers in [2, 65536] like "
                          "8,6,5, got '" + s + "'";
  while (std::getline(ss, item, ',')) {
    if (item.empty() || item.size() > 6 || item.find_first_not_of("0123456789") != std::string::npos)
      throw UsageError(bad);
    int64_t v = std::stoll(item);
    if (v < 2 || v > 65536) throw UsageError(bad);
    out.push_back(v);
  }
  if (out.empty() || (!s.empty() && s.back() == ',')) throw UsageError(bad);
  return out;
}

constexpr const char* kTrainUsage =
    "usage: vq train [options]   (the reference's Fashion-MNIST autoencoder examples)\n"
    "  --quantizer vq|fsq|lfq          which example (default vq)\n"
    "  --steps N                       optimizer steps (1000)\n"
    "  --batch-size N                  images per step (256)\n"
    "  --lr X                          AdamW learning rate (3e-4)\n"
    "  --seed N                        weights, codebook, shuffling (1234)\n"
    "  --codebook-size N               vq and lfq codes (256; lfq: a power of 2)\n"
    "  --levels L,L,...                fsq levels (8,6,5)\n"
    "  --rotation-trick | --straight-through   vq gradient estimator (rotation trick)\n"
    "  --device auto|cpu|cuda|cuda:N   (auto: a GPU when one answers)\n"
    "  --threads N                     CPU threads (all cores)\n"
    "  --out DIR                       output folder (runs/<quantizer>)\n"
    "  --data DIR                      Fashion-MNIST IDX files ($VQ_FASHION_MNIST_DIR or\n"
    "                                  /usr/share/datasets/fashion-mnist)\n"
    "  --log-every N                   log-line period off a terminal (steps / 10)\n"
    "writes DIR/summary.json, loss_curve.csv, reconstructions.png, code_usage.png,\n"
    "loss_curve.png, checkpoint.safetensors (docs/main-job.md)\n";

}  // namespace

int cmd_train(int argc, char** argv) {
  keep_freed_memory();
  Args args(argc, argv, 2, "train");
  if (args.has("help")) {
    std::cout << kTrainUsage;
    return 0;
  }
  RunOptions ro;
  TrainOptions& o = ro.train;
  const std::string q = args.str("quantizer", "vq");
  if (q != "vq" && q != "fsq" && q != "lfq")
    throw UsageError("vq train: --quantizer must be vq, fsq or lfq, got '" + q + "'");
  o.model.quantizer = parse_quantizer_kind(q);
  o.steps = args.integer("steps", 1000, 1, 100000000);
  o.batch_size = args.integer("batch-size", 256, 1, 60000);
  o.lr = args.number("lr", 3e-4, 1e-12, 10.0);
  o.seed = static_cast<uint64_t>(args.integer("seed", 1234, 0, INT64_MAX));
  const bool has_size = args.has("codebook-size"), has_levels = args.has("levels");
  o.model.codebook_size = args.integer("codebook-size", 256, 2, 65536);
  if (has_levels) o.model.levels = parse_levels(args.str("levels"));
  const bool rot = args.flag("rotation-trick"), st = args.flag("straight-through");
  o.threads = static_cast<int>(args.integer("threads", 0, 0, 1024));
  const std::string device = args.str("device", "auto");
  ro.out_dir = args.str("out", "runs/" + q);
  ro.data_dir = args.str("data", data::default_fashion_mnist_dir());
  ro.log_every = args.integer("log-every", 0, 0, 100000000);
  args.finish();

  if (rot && st) throw UsageError("vq train: --rotation-trick and --straight-through exclude each other");
  if ((rot || st) && o.model.quantizer != QuantizerKind::vq)
    throw UsageError("vq train: --rotation-trick / --straight-through apply to --quantizer vq only");
  o.model.rotation_trick = !st;
  if (has_size && o.model.quantizer == QuantizerKind::fsq)
    throw UsageError("vq train: --codebook-size does not apply to fsq (its codes are the product of --levels)");
  if (has_levels && o.model.quantizer != QuantizerKind::fsq)
    throw UsageError("vq train: --levels applies to --quantizer fsq only");
  if (ro.out_dir.empty()) throw UsageError("vq train: --out needs a folder name");
  try {
    o.model.validate();
  } catch (const ConfigError& e) {
    throw UsageError(std::string("vq train: --") + e.what());
  }
  o.device = resolve_device_flag("train", device);
  ro.tty = is_terminal(STDOUT_FILENO);
  g_stop.store(false);
  ro.stop = &g_stop;
  auto prev = std::signal(SIGINT, on_sigint);
  RunResult r;
  try {
    r = run_training(ro, std::cout);
  } catch (...) {
    std::signal(SIGINT, prev);
    throw;
  }
  std::signal(SIGINT, prev);
  if (r.interrupted) {
    std::cerr << "vq train: interrupted; nothing was written to " << ro.out_dir << "\n";
    return 130;
  }
  const auto& s = r.summary;
  char b[512];
  std::snprintf(b, sizeof b,
                "vq train: rec loss %.4f (mean of the last %d steps), test rec loss %.4f, "
                "active codes %.1f%% (test set %.1f%%), %.3f s/step",
                s["rec_loss"].get<double>(), s["averaged_over_last_steps"].get<int>(),
                s["test_rec_loss"].get<double>(), 100 * s["active_fraction"].get<double>(),
                100 * s["test_active_fraction"].get<double>(), s["seconds_per_step"].get<double>());
  std::cout << b << "\n";
  std::cout << "vq train: wrote " << ro.out_dir << "/{summary.json, loss_curve.csv, "
            << "checkpoint.safetensors}\n";
  std::cout << "vq train: pictures: " << ro.out_dir << "/reconstructions.png " << ro.out_dir
            << "/code_usage.png " << ro.out_dir << "/loss_curve.png\n";
  return 0;
}

}  // namespace vq::app
