// HDF5 traces: the bytes of a small valid trace, mutated. Every file must open and replay or
// throw TraceError. Seeds are written by TraceWriter, the shapes the tests use.
#include <cstdint>
#include <filesystem>
#include <string>

#include "models/gating/trace_h5.h"
#include "models/gating/trace_source.h"
#include "tests/fuzz/fuzz_files.h"

namespace fs = std::filesystem;
using namespace moesim::gating;

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  for (const auto& corpus : moesim::fuzz::corpus_dirs(*argc, *argv)) {
    if (!fs::is_empty(corpus)) continue;
    for (const int ranks : {0, 3}) {
      TraceInfo info;
      info.steps = 3;
      info.moe_layers = 2;
      info.experts = 4;
      info.ranks = ranks;
      info.top_k = 1;
      info.tokens_per_step = 300;
      info.model = "fuzz";
      TraceWriter writer((corpus / ("seed-" + std::to_string(ranks) + ".h5")).string(), info);
      for (int s = 0; s < info.steps; ++s) {
        if (ranks > 0) {
          RoutingMatrix m(2, 3, 4);
          for (int l = 0; l < 2; ++l)
            for (int r = 0; r < 3; ++r) m.row(l, r)[(s + r) % 4] = 100;
          writer.write_step(m);
        } else {
          writer.write_step_totals({30, 10, 0, 60, 25, 25, 25, 25});
        }
      }
      writer.finish();
    }
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path file = moesim::fuzz::scratch() / "in.h5";
  moesim::fuzz::write_file(file, data, size);
  try {
    const TraceReader reader(file.string());
    const TraceInfo& info = reader.info();
    // Replayed as a scenario of the trace's own shape would replay it.
    const int ranks = info.ranks > 0 ? info.ranks : 2;
    const int top_k = info.top_k > 0 ? info.top_k : 1;
    const int64_t tokens = info.tokens_per_step > 0 && info.ranks > 0 ? info.tokens_per_step / ranks : 100;
    if (static_cast<int64_t>(info.moe_layers) * ranks * info.experts > (1 << 20)) return 0;  // the estimate refuses these
    TraceSource source(file.string(), GatingShape{info.moe_layers, ranks, info.experts, top_k, tokens}, std::min(info.steps, 64));
    RoutingMatrix m(info.moe_layers, ranks, info.experts);
    for (int s = 0; s < std::min(info.steps, 64); ++s) source.next(s, m);
  } catch (const TraceError&) {}
  return 0;
}
