// Scenario YAML and --set overrides: the input is a scenario, then optionally a line "--set"
// followed by one override per line. Every input must load or throw ScenarioError.
#include <cstdint>
#include <string>
#include <vector>

#include "scenarios/loader/loader.h"
#include "tests/fuzz/fuzz_files.h"

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  moesim::fuzz::seed_from(moesim::fuzz::corpus_dirs(*argc, *argv), MOESIM_SOURCE_DIR "/scenarios", ".yaml");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = moesim::fuzz::split_scenario_input(std::string(reinterpret_cast<const char*>(data), size));
  try {
    moesim::scenarios::load_scenario_text(input.yaml, "fuzz.yaml", input.overrides);
  } catch (const moesim::scenarios::ScenarioError&) {}
  return 0;
}
