// What the fuzz targets share: a scratch directory of their own, and seeding an empty corpus.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace moesim::fuzz {

// A scenario input: YAML, then optionally a line "--set" followed by one override per line.
struct ScenarioInput {
  std::string yaml;
  std::vector<std::string> overrides;
};
ScenarioInput split_scenario_input(const std::string& input);

// A new directory for this process (mkdtemp), removed at exit.
const std::filesystem::path& scratch();

// Writes `bytes` to `path`.
void write_file(const std::filesystem::path& path, const void* bytes, size_t size);

// The corpus directories libFuzzer was given (its arguments that are not options).
std::vector<std::filesystem::path> corpus_dirs(int argc, char** argv);

// Copies every file of `from` with extension `ext` (recursively) into each empty corpus directory.
void seed_from(const std::vector<std::filesystem::path>& corpora, const std::filesystem::path& from, const std::string& ext);

}  // namespace moesim::fuzz
