// `vq train` and `vq eval` through the built program: bad input (unknown quantizer,
// bad flag values, conflicting flags, a missing dataset, an unwritable --out, a file
// that is not a checkpoint) gives one line on stderr, a non-zero exit code and no
// output folder; a tiny real run writes its files and `vq eval` reloads them.
#include <doctest/doctest.h>
#include <unistd.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/device.h"

namespace fs = std::filesystem;

namespace {

struct Cli {
  int code;
  std::string out, err;
};

fs::path tmp() {
  fs::path d = fs::path(VQ_BINARY_DIR) / "test_tmp" / ("cli_train-" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Cli vqcli(const std::string& args) {
  const fs::path d = tmp();
  const std::string o = (d / "stdout.txt").string(), e = (d / "stderr.txt").string();
  const std::string cmd = std::string(VQ_BINARY_DIR) + "/vq " + args + " > " + o + " 2> " + e;
  int rc = std::system(cmd.c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(o), slurp(e)};
}

// One line on stderr containing `what`, exit code `code`.
void check_one_line_error(const Cli& r, int code, const std::string& what) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.code == code);
  CHECK(r.err.find(what) != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

}  // namespace

TEST_CASE("cli train: bad flags are one-line usage errors and create nothing") {
  const fs::path out = tmp() / "never";
  fs::remove_all(out);
  const std::string o = " --out " + out.string();
  check_one_line_error(vqcli("train --quantizer rvq" + o), 2,
                       "vq train: --quantizer must be vq, fsq or lfq, got 'rvq'");
  check_one_line_error(vqcli("train --steps many" + o), 2,
                       "vq train: --steps must be an integer in [1, 100000000], got 'many'");
  check_one_line_error(vqcli("train --steps 0" + o), 2, "--steps must be an integer in [1,");
  check_one_line_error(vqcli("train --batch-size 70000" + o), 2, "--batch-size must be an integer in [1, 60000]");
  check_one_line_error(vqcli("train --lr -1" + o), 2, "vq train: --lr must be a number in");
  check_one_line_error(vqcli("train --lr" + o), 2, "vq train: --lr needs a value");
  check_one_line_error(vqcli("train --colour blue" + o), 2, "vq train: unknown option --colour");
  check_one_line_error(vqcli("train --quantizer fsq --levels 8,x,5" + o), 2,
                       "--levels must be comma-separated integers in [2, 65536] like 8,6,5, got '8,x,5'");
  check_one_line_error(vqcli("train --quantizer fsq --levels 8,1" + o), 2, "--levels must be");
  check_one_line_error(vqcli("train --levels 8,6,5" + o), 2, "--levels applies to --quantizer fsq only");
  check_one_line_error(vqcli("train --quantizer fsq --codebook-size 64" + o), 2,
                       "--codebook-size does not apply to fsq");
  check_one_line_error(vqcli("train --quantizer lfq --codebook-size 100" + o), 2,
                       "vq train: --codebook-size must be a power of 2 for lfq");
  check_one_line_error(vqcli("train --rotation-trick --straight-through" + o), 2,
                       "--rotation-trick and --straight-through exclude each other");
  check_one_line_error(vqcli("train --quantizer lfq --straight-through" + o), 2,
                       "apply to --quantizer vq only");
  check_one_line_error(vqcli("train --device tpu" + o), 2,
                       "vq train: --device must be auto, cpu, cuda or cuda:N, got 'tpu'");
  if (!vq::cuda_available())
    check_one_line_error(vqcli("train --device cuda" + o), 2, "use --device cpu");
  check_one_line_error(vqcli("train stray" + o), 2, "unexpected argument 'stray'");
  Cli help = vqcli("train --help");
  CHECK(help.code == 0);
  CHECK(help.out.find("--quantizer vq|fsq|lfq") != std::string::npos);
  CHECK(vqcli("eval --help").out.find("--checkpoint FILE") != std::string::npos);
  CHECK(!fs::exists(out));
}

TEST_CASE("cli train: a missing dataset or an unwritable --out is a one-line error") {
  const fs::path out = tmp() / "never2";
  fs::remove_all(out);
  Cli r = vqcli("train --data " + (tmp() / "no-such-data").string() + " --out " + out.string());
  check_one_line_error(r, 1, "install Debian package dataset-fashion-mnist");
  CHECK(r.err.rfind("vq train: error: ", 0) == 0);
  CHECK(!fs::exists(out));

  const fs::path file = tmp() / "a-file";
  std::ofstream(file).put('x');
  r = vqcli("train --steps 1 --out " + (file / "sub").string());
  check_one_line_error(r, 1, "cannot create output folder");
  CHECK(r.err.find("choose a writable --out DIR") != std::string::npos);
  r = vqcli("train --steps 1 --out " + file.string());
  check_one_line_error(r, 1, "exists and is not a folder");
}

TEST_CASE("cli train: a tiny run writes its files and vq eval reloads the checkpoint") {
  const fs::path out = tmp() / "tiny";
  fs::remove_all(out);
  Cli r = vqcli("train --steps 3 --batch-size 16 --threads 1 --log-every 1 --device cpu --out " +
             out.string());
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  // not a terminal: plain log lines, no carriage returns
  CHECK(r.out.find("vq train: step 1/3") != std::string::npos);
  CHECK(r.out.find("vq train: step 3/3") != std::string::npos);
  CHECK(r.out.find('\r') == std::string::npos);
  CHECK(r.out.find("pictures: " + out.string() + "/reconstructions.png") != std::string::npos);
  for (const char* f : {"summary.json", "loss_curve.csv", "reconstructions.png", "code_usage.png",
                        "loss_curve.png", "checkpoint.safetensors"})
    CHECK(fs::exists(out / f));

  Cli e = vqcli("eval --checkpoint " + (out / "checkpoint.safetensors").string());
  INFO(e.out << e.err);
  CHECK(e.code == 0);
  CHECK(e.out.find("(vq, step 3): test rec loss ") != std::string::npos);
  CHECK(e.out.find("over 10000 images") != std::string::npos);
  const std::string summary = slurp(out / "summary.json");
  Cli j = vqcli("eval --json --checkpoint " + (out / "checkpoint.safetensors").string());
  CHECK(j.code == 0);
  CHECK(j.out.find("\"test_rec_loss\":") != std::string::npos);

  check_one_line_error(vqcli("eval --checkpoint " + (out / "summary.json").string()), 1,
                       "vq eval: error: ");
  check_one_line_error(vqcli("eval --checkpoint " + (tmp() / "missing.safetensors").string()), 1,
                       "vq eval: error: ");
  check_one_line_error(vqcli("eval"), 2, "vq eval: --checkpoint is required");
}
