// CSV traces: converted to HDF5, then every step read back. Every input must convert or throw
// TraceError, and what converts must read back.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "models/gating/trace_csv.h"
#include "models/gating/trace_h5.h"
#include "tests/fuzz/fuzz_files.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  for (const auto& corpus : moesim::fuzz::corpus_dirs(*argc, *argv)) {
    if (!fs::is_empty(corpus)) continue;
    // The shapes the tests convert: a few steps, layers and experts, and a far step.
    std::ofstream(corpus / "small.csv") << "step,layer,expert,tokens\n0,0,0,5\n0,0,1,7\n1,0,1,3\n";
    std::ofstream(corpus / "layers.csv") << "step,layer,expert,tokens\r\n0,0,0,1\r\n0,1,3,2\r\n2,1,0,9\r\n";
    std::ofstream(corpus / "far.csv") << "step,layer,expert,tokens\n2000,0,0,1\n";
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path csv = moesim::fuzz::scratch() / "in.csv", h5 = moesim::fuzz::scratch() / "out.h5";
  moesim::fuzz::write_file(csv, data, size);
  std::error_code ec;
  fs::remove(h5, ec);
  try {
    moesim::gating::convert_csv_trace(csv.string(), h5.string());
  } catch (const moesim::gating::TraceError&) {
    return 0;
  }
  const moesim::gating::TraceReader reader(h5.string());
  for (int s = 0; s < reader.info().steps; ++s) reader.read_expert_counts(s);
  return 0;
}
