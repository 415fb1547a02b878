// The `vq` program: subcommand dispatch and one-line error reporting.
#include <cstring>
#include <exception>
#include <iostream>

#include "apps/args.h"
#include "apps/commands.h"

namespace {

void usage(std::ostream& os) {
  os << "usage: vq <command> [options]\n"
        "  train   train the reference's Fashion-MNIST autoencoder (--quantizer vq|fsq|lfq)\n"
        "  eval    test-set loss of a checkpoint (--checkpoint FILE)\n"
        "  run     run one quantizer from files (--module --config --input --output)\n"
        "  bench   time kernels and training steps (vq bench vq ...)\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "help") || !std::strcmp(argv[1], "--help")) {
    usage(argc < 2 ? std::cerr : std::cout);
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  try {
    if (cmd == "run") return vq::app::cmd_run(argc, argv);
    if (cmd == "train") return vq::app::cmd_train(argc, argv);
    if (cmd == "eval") return vq::app::cmd_eval(argc, argv);
    if (cmd == "bench") return vq::app::cmd_bench(argc, argv);
    std::cerr << "vq: unknown command '" << cmd << "'\n";
    usage(std::cerr);
    return 2;
  } catch (const vq::app::UsageError& e) {
    std::cerr << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "vq " << cmd << ": error: " << e.what() << "\n";
    return 1;
  }
}
