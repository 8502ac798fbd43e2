// nccl-tests logs for `moesim calibrate`: every input must parse or throw LogError, and what
// parses must fit a cluster without any other exception.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "hardware/presets.h"
#include "sim/calibrate/fit.h"
#include "tests/fuzz/fuzz_files.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  for (const auto& corpus : moesim::fuzz::corpus_dirs(*argc, *argv)) {
    if (!fs::is_empty(corpus)) continue;
    fs::copy_file(fs::path(MOESIM_SOURCE_DIR) / "tests/e2e/data/all_reduce_perf_8xh100.log", corpus / "all_reduce_perf.log");
    std::ofstream(corpus / "two_nodes.log") << "# Collective test starting: alltoall_perf\n"
                                               "#  Rank  0 Pid 1 on a device 0 [0x00] H100\n#  Rank  1 Pid 2 on b device 0 [0x00] H100\n"
                                               "#       size         count      type   redop    root     time   algbw   busbw #wrong\n"
                                               "     1048576        131072     float    none      -1    40.00   26.21   13.11      0\n";
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  moesim::calibrate::NcclTestsLog log;
  try {
    log = moesim::calibrate::parse_nccl_tests_log(text, "in.log");
  } catch (const moesim::calibrate::LogError&) {
    return 0;
  }
  // Large logs of many ranks would only measure the simulator's speed.
  if (log.ranks > 64 || log.rows.size() > 64) return 0;
  moesim::hardware::ClusterSpec cluster = *moesim::hardware::cluster_preset("h100-dgx");
  cluster.nodes = 8;
  try {
    moesim::calibrate::calibrate(cluster, {log});
  } catch (const moesim::calibrate::LogError&) {}
  return 0;
}
