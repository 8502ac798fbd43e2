#include "sim/cli/scenario_args.h"

#include <filesystem>
#include <iostream>

#include "models/gating/source_registry.h"
#include "scenarios/errors.h"
#include "scenarios/loader/quantity.h"

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

po::options_description memory_options() {
  po::options_description o("resource options");
  o.add_options()("max-memory", po::value<std::string>()->value_name("SIZE"),
                  "refuse work estimated to need more memory than SIZE, e.g. 16GB (default: the machine's physical memory)");
  return o;
}

MemoryLimit memory_limit(const po::variables_map& vm) {
  if (!vm.count("max-memory")) return physical_memory_limit();
  const std::string text = vm["max-memory"].as<std::string>();
  const auto bytes = scenarios::parse_bytes(text);
  if (!bytes || !(bytes->count() > 0)) throw OptionError("--max-memory " + text + ": expected a size like '16 GB' or '512 MiB'");
  return {bytes->count(), "--max-memory " + text};
}

po::variables_map parse(const std::vector<std::string>& args, const po::options_description& visible, const char* usage_line, bool& help) {
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

std::vector<std::string> scenario_inputs(const std::string& path, const scenarios::Scenario& s) {
  std::vector<std::string> inputs = {path};
  for (const auto& file : s.gating.source->input_files()) inputs.push_back(file);
  return inputs;
}

void require_output_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!std::filesystem::is_directory(dir)) {
    throw scenarios::ScenarioError(
        "", "output.dir",
        "cannot use '" + dir + "' as a directory: " + (ec ? ec.message() : std::string("it exists and is not a directory")));
  }
  try {
    const files::Temporary probe((std::filesystem::path(dir) / "probe").string());
  } catch (const files::FileError& e) {
    throw scenarios::ScenarioError("", "output.dir", "cannot write to directory '" + dir + "': " + e.what());
  }
}

void require_output_file(const std::string& option, const std::string& path, files::Target target, const std::vector<std::string>& inputs) {
  try {
    files::require_not_input(path, inputs);
    files::require_writable(path, target);
  } catch (const files::FileError& e) {
    throw OptionError(option + ": " + e.what());
  }
}

}  // namespace moesim::cli
