// `vq bench vq` through the built program: the JSON report has every row and field with
// sensible values (no timing is asserted), and bad invocations fail with one line.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace fs = std::filesystem;

namespace {

struct CliResult {
  int code = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CliResult run_vq(const std::string& args) {
  fs::path d = fs::path(VQ_BINARY_DIR) / "test_tmp" / ("bench_cli-" + std::to_string(::getpid()));
  fs::create_directories(d);
  const fs::path o = d / "stdout.txt", e = d / "stderr.txt";
  const std::string cmd =
      std::string(VQ_BINARY_DIR) + "/vq " + args + " > " + o.string() + " 2> " + e.string();
  const int rc = std::system(cmd.c_str());
  CliResult r;
  r.code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = slurp(o);
  r.err = slurp(e);
  return r;
}

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// Whether the table has a row line for `row` (lines start with the row's name).
bool has_row(const std::string& table, const std::string& row) {
  std::istringstream in(table);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(row + " ", 0) == 0) return true;
  return false;
}

}  // namespace

TEST_CASE("bench cli: vq bench vq --json reports every row with positive timings") {
  CliResult r = run_vq("bench vq --n 256 --dim 8 --codebook-size 16 --repeats 1 --threads 1 --json");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(count_lines(r.out) == 1);  // one JSON object, nothing else on stdout
  nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j.at("implementation") == "vqcpp");
  CHECK(j.at("device") == "cpu");
  CHECK(j.at("n") == 256);
  CHECK(j.at("dim") == 8);
  CHECK(j.at("codebook_size") == 16);
  CHECK(j.at("repeats") == 1);
  CHECK(j.at("threads") == 1);
  CHECK(j.at("peak_mem_method").get<std::string>().find("RSS") != std::string::npos);
  CHECK(!j.at("omp_wait_policy").get<std::string>().empty());
  const auto& res = j.at("results");
  CHECK(res.size() == 5);
  for (const char* row : {"sgemm", "sgemm_argmin", "search", "forward", "step"}) {
    INFO(row);
    REQUIRE(res.contains(row));
    const auto& e = res.at(row);
    for (const char* f : {"ms", "ms_min", "cpu_ms", "gflops_eq", "ratio_to_sgemm"}) {
      INFO(f);
      REQUIRE(e.contains(f));
      REQUIRE(e.at(f).is_number());
      CHECK(e.at(f).get<double>() > 0.0);
    }
    CHECK(e.at("ms_min").get<double>() <= e.at("ms").get<double>());
    // Peak memory is measured on Linux; growth can legitimately be 0 for tiny shapes
    // (blocks reused from the C heap), so only its presence and sign are checked.
    REQUIRE(e.contains("peak_mem_bytes"));
    REQUIRE(e.at("peak_mem_bytes").is_number());
    CHECK(e.at("peak_mem_bytes").get<double>() >= 0.0);
    REQUIRE(e.contains("bytes_per_pair"));
    // GF/s-eq is 2 N K D over the median time.
    CHECK(e.at("gflops_eq").get<double>() ==
          doctest::Approx(2.0 * 256 * 16 * 8 / (e.at("ms").get<double>() * 1e6)).epsilon(1e-9));
  }
  CHECK(res.at("sgemm").at("ratio_to_sgemm").get<double>() == doctest::Approx(1.0));
}

TEST_CASE("bench cli: --rows limits the rows, and the table form prints one line per row") {
  CliResult r = run_vq("bench vq --n 64 --dim 4 --codebook-size 8 --repeats 1 --rows search,step");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(has_row(r.out, "search"));
  CHECK(has_row(r.out, "step"));
  CHECK_FALSE(has_row(r.out, "sgemm"));
  CHECK_FALSE(has_row(r.out, "sgemm_argmin"));
  CHECK_FALSE(has_row(r.out, "forward"));
  CHECK(r.out.find("ms") != std::string::npos);
  CHECK(r.err.empty());
}

TEST_CASE("bench cli: bad flags exit non-zero with a one-line message") {
  struct Case {
    const char* args;
    const char* message;
  };
  const Case cases[] = {
      {"bench vq --n 256 --bogus 3", "unknown option --bogus"},
      {"bench vq --n zero", "--n must be an integer"},
      {"bench vq --n 0", "--n must be an integer in [1,"},
      {"bench vq --dim -3", "--dim must be an integer"},
      {"bench vq --repeats 0", "--repeats must be an integer in [1,"},
      {"bench vq --device tpu", "--device must be cpu or cuda"},
      {"bench vq --rows search,nope", "got 'nope'"},
      {"bench vq --json 1", "--json takes no value"},
      {"bench nope", "unknown benchmark 'nope'"},
      {"bench", "name a benchmark"},
  };
  for (const auto& c : cases) {
    CliResult r = run_vq(c.args);
    INFO(c.args << " -> rc " << r.code << ": " << r.err);
    CHECK(r.code != 0);
    CHECK(r.out.empty());
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find(c.message) != std::string::npos);
  }
}

TEST_CASE("bench cli: --device cuda without a GPU is a one-line error") {
  CliResult r = run_vq("bench vq --n 64 --dim 4 --codebook-size 8 --repeats 1 --device cuda");
  INFO(r.err);
  if (r.code == 0) return;  // a CUDA machine: the run is allowed to succeed
  CHECK(count_lines(r.err) == 1);
  CHECK(r.err.find("cuda") != std::string::npos);
}
