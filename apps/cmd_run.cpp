// `vq run`: runs one quantizer the way the golden fixtures do, from files:
//   vq run --module VectorQuantize --config cfg.json [--state s.safetensors]
//          --input in.safetensors [--train] [--grad-output g.safetensors]
//          [--device cpu|cuda] --output out.safetensors
// The input file holds `x` (and optionally `mask`, `lens`); a state file holds the
// reference's state_dict names (a `state_in.` prefix is accepted, so a fixture file
// works as both input and state); --config takes a path or an inline JSON object.
// Per-call keyword arguments come from --call (JSON). The output file holds
// quantized, indices, loss, loss.<term>, grad.x, grad.<param>, state.<name>.
#include <fstream>
#include <iostream>
#include <sstream>

#include "apps/args.h"
#include "apps/commands.h"
#include "core/safetensors.h"
#include "quantizers/run_case.h"

namespace vq::app {

namespace {

nlohmann::json read_json_arg(const std::string& what, const std::string& v) {
  std::string text = v;
  if (!v.empty() && v[0] != '{') {
    std::ifstream in(v);
    if (!in) throw IoError("vq run: cannot read " + what + " file '" + v + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw ConfigError("vq run: " + what + " is not valid JSON: " + e.what());
  }
}

}  // namespace

int cmd_run(int argc, char** argv) {
  Args args(argc, argv, 2, "run");
  QuantizerCase c;
  c.module = args.required("module");
  c.config = read_json_arg("--config", args.required("config"));
  if (args.has("call")) c.kwargs = read_json_arg("--call", args.str("call"));
  std::string input = args.required("input");
  std::string output = args.required("output");
  std::string state = args.str("state");
  std::string grad = args.str("grad-output");
  c.train = args.flag("train");
  c.device = parse_device(args.str("device", "cpu"));
  args.finish();

  SafetensorsFile in = load_safetensors(input);
  check<ConfigError>(in.tensors.count("x"), "vq run: input file '", input, "' has no tensor named x");
  c.x = in.tensors.at("x");
  for (const char* t : {"mask", "lens"})
    if (in.tensors.count(t)) c.tensors[t] = in.tensors.at(t);
  if (in.metadata.count("x_requires_grad")) c.x_requires_grad = in.metadata.at("x_requires_grad") == "true";
  if (!state.empty()) {
    SafetensorsFile st = load_safetensors(state);
    bool prefixed = false;
    for (const auto& kv : st.tensors) prefixed |= kv.first.rfind("state_in.", 0) == 0;
    for (const auto& kv : st.tensors) {
      if (!prefixed) c.state[kv.first] = kv.second;
      else if (kv.first.rfind("state_in.", 0) == 0) c.state[kv.first.substr(9)] = kv.second;
    }
  }
  if (!grad.empty()) {
    SafetensorsFile g = load_safetensors(grad);
    check<ConfigError>(g.tensors.count("grad_output"), "vq run: --grad-output file '", grad,
                       "' has no tensor named grad_output");
    c.grad_output = g.tensors.at("grad_output");
    if (g.tensors.count("grad_loss")) c.grad_loss = g.tensors.at("grad_loss");
  }
  auto out = run_quantizer_case(c);
  save_safetensors(output, out, {{"module", c.module}, {"config", c.config.dump()}});
  std::cout << "vq run: wrote " << out.size() << " tensors to " << output << "\n";
  return 0;
}

}  // namespace vq::app
