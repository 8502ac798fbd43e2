// Load tables for `moesim place`: read, then planned by EPLB on a shape that fits them. Every
// input must read or throw TraceError, and what reads must plan.
#include <cstdint>
#include <filesystem>
#include <fstream>

#include "models/gating/expert_load_table.h"
#include "models/gating/trace_h5.h"
#include "policies/placement/eplb.h"
#include "tests/fuzz/fuzz_files.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  for (const auto& corpus : moesim::fuzz::corpus_dirs(*argc, *argv)) {
    if (!fs::is_empty(corpus)) continue;
    std::ofstream(corpus / "two.csv") << "layer,expert,load\n0,0,90\n0,1,132\n0,2,40\n0,3,61\n1,0,20\n1,1,107\n1,2,104\n1,3,64\n";
    std::ofstream(corpus / "reals.csv") << "layer,expert,load\r\n0,0,1.5e3\r\n0,1,0\r\n";
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path csv = moesim::fuzz::scratch() / "loads.csv";
  moesim::fuzz::write_file(csv, data, size);
  moesim::gating::ExpertLoadTable table;
  try {
    table = moesim::gating::read_expert_load_csv(csv.string());
  } catch (const moesim::gating::TraceError&) {
    return 0;
  }
  // Up to 4 GPUs with room for a replica of every expert; global mode takes any expert count.
  if (static_cast<int64_t>(table.layers) * table.experts > (1 << 16)) return 0;
  const int gpus = table.experts % 4 == 0 ? 4 : 1;
  const moesim::policies::EplbShape shape{2 * table.experts, 1, 1, gpus};
  moesim::policies::rebalance_experts(table.loads, shape, moesim::policies::EplbMode::kGlobal);
  return 0;
}
