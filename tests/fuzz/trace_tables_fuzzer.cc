// Count tables (moesim trace import tables): one table of mutated bytes beside a good one of the
// next iteration, read and checked as an import does. Every input must import or throw TraceError.
#include <cstdint>
#include <filesystem>
#include <fstream>

#include "models/gating/trace_h5.h"
#include "models/gating/trace_import.h"
#include "models/gating/trace_tables.h"
#include "tests/fuzz/fuzz_files.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  for (const auto& corpus : moesim::fuzz::corpus_dirs(*argc, *argv)) {
    if (!fs::is_empty(corpus)) continue;
    std::ofstream(corpus / "nested.log") << "layer 0: [[5.0, 1.0, 2.0], [1.0, 3.0, 4.0]]\nlayer 1: [[3.0, 3.0, 2.0], [4.0, 2.0, 2.0]]\n";
    std::ofstream(corpus / "flat.log") << "[8 0 0]\r\n[0 8 0]\r\n";
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path dir = moesim::fuzz::scratch() / "tables";
  fs::create_directories(dir);
  moesim::fuzz::write_file(dir / "table_iter0_rank0.log", data, size);
  std::ofstream(dir / "table_iter10_rank0.log") << "[[5.0, 1.0, 2.0], [1.0, 3.0, 4.0]]\n[[3.0, 3.0, 2.0], [4.0, 2.0, 2.0]]\n";
  const fs::path out = moesim::fuzz::scratch() / "out.h5";
  std::error_code ec;
  fs::remove(out, ec);
  try {
    moesim::gating::write_imported_trace(moesim::gating::read_count_tables({dir.string()}, moesim::gating::kDefaultTablePattern), {},
                                         out.string());
  } catch (const moesim::gating::TraceError&) {
    return 0;
  }
  const moesim::gating::TraceReader reader(out.string());
  for (int s = 0; s < reader.info().steps; ++s) reader.read_expert_counts(s);
  return 0;
}
