// Hugging Face config.json files (model.config): every input must give a model or throw
// ScenarioError.
#include <cstdint>
#include <filesystem>

#include "scenarios/errors.h"
#include "scenarios/loader/hf_config.h"
#include "tests/fuzz/fuzz_files.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  moesim::fuzz::seed_from(moesim::fuzz::corpus_dirs(*argc, *argv), fs::path(MOESIM_SOURCE_DIR) / "tests/scenarios/hf_configs", ".json");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path json = moesim::fuzz::scratch() / "config.json";
  moesim::fuzz::write_file(json, data, size);
  try {
    moesim::scenarios::read_hf_config(json.string());
  } catch (const moesim::scenarios::ScenarioError&) {}
  return 0;
}
