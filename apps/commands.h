// The subcommands of the `vq` program. Each parses its own options from argv[2..]
// and returns the process exit code; errors are thrown (vq::Error / UsageError) and
// reported by main as one line.
#pragma once

namespace vq::app {

int cmd_run(int argc, char** argv);    // vq run: one quantizer call from files
int cmd_train(int argc, char** argv);  // vq train: Fashion-MNIST autoencoder
int cmd_eval(int argc, char** argv);   // vq eval: test loss of a checkpoint
int cmd_bench(int argc, char** argv);  // vq bench: kernel and step timings

}  // namespace vq::app
