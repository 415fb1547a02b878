// `vq eval`: reloads a `vq train` checkpoint and prints its test-set reconstruction
// loss and code use:
//   vq eval --checkpoint FILE [--device auto|cpu|cuda[:N]] [--batch-size 1000]
//           [--data DIR] [--threads N] [--json]
#include <cstdio>
#include <iostream>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/data/fashion_mnist.h"
#include "apps/train/run.h"
#include "apps/train/run_files.h"
#include "apps/train/trainer.h"

namespace vq::app {

int cmd_eval(int argc, char** argv) {
  keep_freed_memory();
  Args args(argc, argv, 2, "eval");
  if (args.has("help")) {
    std::cout << "usage: vq eval --checkpoint FILE [--device auto|cpu|cuda[:N]] [--batch-size 1000]\n"
                 "               [--data DIR] [--threads N] [--json]\n"
                 "prints the test-set reconstruction loss and code use of a vq train checkpoint\n";
    return 0;
  }
  const std::string path = args.required("checkpoint");
  const std::string device = args.str("device", "auto");
  const int64_t batch = args.integer("batch-size", 1000, 1, 10000);
  const std::string data_dir = args.str("data", data::default_fashion_mnist_dir());
  const int threads = static_cast<int>(args.integer("threads", 0, 0, 1024));
  const bool json = args.flag("json");
  args.finish();
  const Device dev = resolve_device_flag("eval", device);
  set_cpu_threads(threads);

  Checkpoint c = load_checkpoint(path, dev);
  data::FashionMnist test = data::load_fashion_mnist(data::Split::test, data_dir);
  EvalResult r = evaluate(*c.model, test, dev, batch, 0);
  if (json) {
    nlohmann::json j = {{"checkpoint", path},
                        {"quantizer", quantizer_kind_name(c.model->options().quantizer)},
                        {"step", c.step},
                        {"test_rec_loss", r.rec_loss},
                        {"test_images", r.images},
                        {"test_active_fraction", r.codes.active_fraction},
                        {"test_perplexity", r.codes.perplexity},
                        {"device", dev.str()}};
    std::cout << j.dump() << "\n";
    return 0;
  }
  char b[512];
  std::snprintf(b, sizeof b,
                "vq eval: %s (%s, step %lld): test rec loss %.4f over %lld images, %lld of %zu "
                "codes used (%.1f%%), perplexity %.1f",
                path.c_str(), quantizer_kind_name(c.model->options().quantizer),
                static_cast<long long>(c.step), r.rec_loss, static_cast<long long>(r.images),
                static_cast<long long>(r.codes.active), r.codes.counts.size(),
                100 * r.codes.active_fraction, r.codes.perplexity);
  std::cout << b << "\n";
  return 0;
}

}  // namespace vq::app
