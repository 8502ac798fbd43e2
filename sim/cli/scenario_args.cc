#include "sim/cli/scenario_args.h"

#include <filesystem>
#include <fstream>
#include <iostream>

#include "scenarios/errors.h"

#include "sim/cli/command_line.h"
#include "sim/cli/usage_error.h"

namespace po = boost::program_options;

namespace moesim::cli {

po::options_description scenario_options() {
  po::options_description o("scenario options");
  o.add_options()("set", po::value<std::vector<std::string>>()->composing()->value_name("KEY.PATH=VALUE"),
                  "override a scenario value before validation (repeatable), e.g. --set cluster.nodes=8");
  return o;
}

po::variables_map parse(const std::vector<std::string>& args, const po::options_description& visible,
                        const char* usage_line, bool& help) {
  const po::variables_map vm = parse_with_file(args, visible, "scenario");
  help = vm.count("help") > 0;
  if (help) std::cout << usage_line << "\n\n" << visible;
  return vm;
}

ScenarioArgs scenario_args(const po::variables_map& vm, const char* command) {
  if (!vm.count("scenario")) throw UsageError(std::string("`moesim ") + command + "` needs a scenario file (see --help)");
  ScenarioArgs a{vm["scenario"].as<std::string>(), {}};
  if (vm.count("set")) a.overrides = vm["set"].as<std::vector<std::string>>();
  return a;
}

void require_output_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string probe = (std::filesystem::path(dir) / ".moesim-write-test").string();
  if (!ec && std::ofstream(probe)) {
    std::filesystem::remove(probe, ec);
    return;
  }
  throw scenarios::ScenarioError("", "output.dir", "cannot write to directory '" + dir + "'" + (ec ? ": " + ec.message() : std::string()));
}

}  // namespace moesim::cli
