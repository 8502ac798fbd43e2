#include "tests/fuzz/fuzz_files.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace moesim::fuzz {

namespace {
std::filesystem::path made;  // by mkdtemp: new, so removing it at exit removes nothing of anyone else's
}  // namespace

const std::filesystem::path& scratch() {
  if (made.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "moesim-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    made = pattern;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(made, ec);
    });
  }
  return made;
}

void write_file(const std::filesystem::path& path, const void* bytes, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(bytes), static_cast<std::streamsize>(size));
}

std::vector<std::filesystem::path> corpus_dirs(int argc, char** argv) {
  std::vector<std::filesystem::path> out;
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] != '-' && std::filesystem::is_directory(argv[i])) out.emplace_back(argv[i]);
  }
  return out;
}

void seed_from(const std::vector<std::filesystem::path>& corpora, const std::filesystem::path& from, const std::string& ext) {
  for (const auto& corpus : corpora) {
    if (!std::filesystem::is_empty(corpus)) continue;
    int n = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(from)) {
      if (entry.is_regular_file() && entry.path().extension() == ext) {
        std::filesystem::copy_file(entry.path(), corpus / ("seed-" + std::to_string(n++) + ext));
      }
    }
  }
}

ScenarioInput split_scenario_input(const std::string& input) {
  const size_t split = input.find("\n--set\n");
  ScenarioInput out{input.substr(0, split), {}};
  if (split != std::string::npos) {
    std::istringstream lines(input.substr(split + 7));
    for (std::string line; std::getline(lines, line);) out.overrides.push_back(line);
  }
  return out;
}

}  // namespace moesim::fuzz
