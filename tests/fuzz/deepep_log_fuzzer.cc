// DeepEP test logs for `moesim calibrate --deepep`: every input must parse or throw LogError.
// What parses is not simulated here: the fit runs DeepEP's setting, whose cost is the simulator's,
// and tests/e2e/bench_test.cc covers it.
#include <cstdint>
#include <filesystem>
#include <string>

#include "sim/calibrate/deepep_log.h"
#include "tests/fuzz/fuzz_files.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  for (const auto& corpus : moesim::fuzz::corpus_dirs(*argc, *argv)) {
    if (!fs::is_empty(corpus)) continue;
    for (const char* name : {"deepep_intranode_h800.log", "deepep_internode_h800_ep16.log"})
      fs::copy_file(fs::path(MOESIM_SOURCE_DIR) / "tests/e2e/data" / name, corpus / name);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const moesim::calibrate::DeepEpLog log = moesim::calibrate::parse_deepep_log(text, "in.log");
    for (const auto& t : log.tunings)
      if (t.sms < 1 || !(t.nvl_gbps >= 0) || !(t.rdma_gbps >= 0)) __builtin_trap();
  } catch (const moesim::calibrate::LogError&) {}
  return 0;
}
