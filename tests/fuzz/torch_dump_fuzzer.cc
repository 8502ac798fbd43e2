// PyTorch .pt routing dumps (moesim trace import sglang | hf-router-logits): every input must
// import or throw TraceError. Seeded with the fixtures written in torch.save's layout.
#include <cstdint>
#include <filesystem>

#include "models/gating/trace_h5.h"
#include "models/gating/trace_torch.h"
#include "tests/fuzz/fuzz_files.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  moesim::fuzz::seed_from(moesim::fuzz::corpus_dirs(*argc, *argv), fs::path(MOESIM_SOURCE_DIR) / "tests/models/gating/torch_fixtures",
                          ".pt");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path pt = moesim::fuzz::scratch() / "router_logits_step1.pt";
  moesim::fuzz::write_file(pt, data, size);
  try {
    moesim::gating::read_router_logits({pt.string()}, moesim::gating::kDefaultRouterLogitsPattern, 2);
  } catch (const moesim::gating::TraceError&) {}
  try {
    moesim::gating::read_sglang_dumps({pt.string()});
  } catch (const moesim::gating::TraceError&) {}
  return 0;
}
