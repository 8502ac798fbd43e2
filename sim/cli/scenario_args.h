// What every command that takes a scenario parses: the file, and --set overrides.
#pragma once

#include <boost/program_options.hpp>

#include <string>
#include <vector>

namespace moesim::cli {

struct ScenarioArgs {
  std::string path;
  std::vector<std::string> overrides;
};

// The --set option.
boost::program_options::options_description scenario_options();

// Parses `args` with the scenario file as the positional argument; prints `usage_line` and the
// options and sets `help` when --help was given.
boost::program_options::variables_map parse(const std::vector<std::string>& args,
                                            const boost::program_options::options_description& visible,
                                            const char* usage_line, bool& help);

// The scenario file and overrides; a UsageError naming `command` if no file was given.
ScenarioArgs scenario_args(const boost::program_options::variables_map& vm, const char* command);

// Creates the output directory and proves it writable, so that a run fails before it spends
// any time; a ScenarioError on output.dir otherwise.
void require_output_dir(const std::string& dir);

}  // namespace moesim::cli
