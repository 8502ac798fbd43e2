// Sweep files: the input is written beside copies of the shipped scenarios (as
// scenarios/sweeps/fuzz.yaml, so `base: ../quickstart.yaml` resolves) and loaded with every point.
#include <cstdint>
#include <filesystem>
#include <string>

#include "scenarios/loader/sweep_loader.h"
#include "tests/fuzz/fuzz_files.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  moesim::fuzz::seed_from(moesim::fuzz::corpus_dirs(*argc, *argv), MOESIM_SOURCE_DIR "/scenarios/sweeps", ".yaml");
  moesim::fuzz::seed_from(moesim::fuzz::corpus_dirs(*argc, *argv), MOESIM_SOURCE_DIR "/scenarios/whatif", ".yaml");
  const fs::path root = moesim::fuzz::scratch() / "scenarios";
  fs::create_directories(root / "sweeps");
  for (const auto& e : fs::directory_iterator(MOESIM_SOURCE_DIR "/scenarios")) {
    if (e.path().extension() == ".yaml") fs::copy_file(e.path(), root / e.path().filename());
  }
  fs::copy_file(MOESIM_SOURCE_DIR "/scenarios/whatif/planner_base.yaml", root / "sweeps" / "planner_base.yaml");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path file = moesim::fuzz::scratch() / "scenarios" / "sweeps" / "fuzz.yaml";
  moesim::fuzz::write_file(file, data, size);
  try {
    moesim::scenarios::load_sweep_file(file.string());
  } catch (const moesim::scenarios::ScenarioError&) {}
  return 0;
}
