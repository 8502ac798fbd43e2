#include "tests/fuzz/fuzz_files.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace moesim::fuzz {

const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("moesim-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(std::filesystem::temp_directory_path() / ("moesim-fuzz-" + std::to_string(::getpid())), ec);
    });
    return d;
  }();
  return dir;
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

}  // namespace moesim::fuzz
