// What every command that takes a scenario parses: the file, and --set overrides.
#pragma once

#include <boost/program_options.hpp>

#include <string>
#include <vector>

#include "scenarios/scenario.h"
#include "sim/files/output_file.h"
#include "sim/resources.h"

namespace moesim::cli {

struct ScenarioArgs {
  std::string path;
  std::vector<std::string> overrides;
};

// The --set option.
boost::program_options::options_description scenario_options();

// The --max-memory option, and the limit it gives (the machine's physical memory without it).
boost::program_options::options_description memory_options();
MemoryLimit memory_limit(const boost::program_options::variables_map& vm);

// Parses `args` with the scenario file as the positional argument; prints `usage_line` and the
// options and sets `help` when --help was given.
boost::program_options::variables_map parse(const std::vector<std::string>& args,
                                            const boost::program_options::options_description& visible, const char* usage_line, bool& help);

// The scenario file and overrides; a UsageError naming `command` if no file was given.
ScenarioArgs scenario_args(const boost::program_options::variables_map& vm, const char* command);

// The files a command reading scenario `scenario` from `path` reads: the file, and its trace.
std::vector<std::string> scenario_inputs(const std::string& path, const scenarios::Scenario& scenario);

// Creates the output directory and proves it writable (with a temporary of moesim's own), so
// that a command fails before it spends any time; a ScenarioError on output.dir otherwise.
void require_output_dir(const std::string& dir);

// An output file named by an option (`option` is "--csv", "--dot", "--out", ...), checked before
// any work: it is none of `inputs`, and it can be written as `target` allows
// (sim/files/output_file.h). Throws OptionError naming the option.
void require_output_file(const std::string& option, const std::string& path, files::Target target, const std::vector<std::string>& inputs);

}  // namespace moesim::cli
