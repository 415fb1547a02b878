// A small command-line parser for the `vq` program: "--name value" options and
// "--flag" switches after the subcommand. Every value is validated on read and
// unknown options are rejected by finish(), each with a one-line UsageError.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"

namespace vq::app {

class UsageError : public Error { using Error::Error; };

class Args {
 public:
  // argv[first..argc) are parsed; `command` names the subcommand in messages.
  Args(int argc, char** argv, int first, std::string command);

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::string str(const std::string& name, const std::string& def = "");
  std::string required(const std::string& name);
  long long integer(const std::string& name, long long def, long long lo, long long hi);
  double number(const std::string& name, double def, double lo, double hi);
  bool flag(const std::string& name);
  // Rejects options no accessor asked for.
  void finish() const;
  const std::string& command() const { return command_; }

 private:
  std::string command_;
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_present_;
  std::set<std::string> consumed_;
};

}  // namespace vq::app
