// Scenario YAML and --set overrides: the input is a scenario, then optionally a line "--set"
// followed by one override per line. Every input must load or throw ScenarioError.
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "scenarios/loader/loader.h"
#include "tests/fuzz/fuzz_files.h"

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  moesim::fuzz::seed_from(moesim::fuzz::corpus_dirs(*argc, *argv), MOESIM_SOURCE_DIR "/scenarios", ".yaml");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find("\n--set\n");
  std::vector<std::string> overrides;
  if (split != std::string::npos) {
    std::istringstream lines(input.substr(split + 7));
    for (std::string line; std::getline(lines, line);) overrides.push_back(line);
  }
  try {
    moesim::scenarios::load_scenario_text(input.substr(0, split), "fuzz.yaml", overrides);
  } catch (const moesim::scenarios::ScenarioError&) {}
  return 0;
}
