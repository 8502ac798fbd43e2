// Importing count tables (moesim trace import tables): issue 23's target is 500 logged iterations
// x 16 ranks x 24 MoE layers x 32 experts in under 5 s. The tables (4 micro-batches per line,
// counts written as "5.0") are written once to a temporary folder; each iteration reads
// and checks them all and writes the trace.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "models/gating/trace_import.h"
#include "models/gating/trace_tables.h"

namespace fs = std::filesystem;

namespace {

constexpr int kIterations = 500, kRanks = 16, kLayers = 24, kExperts = 32, kMicrobatches = 4;

fs::path write_tables() {
  const fs::path dir = fs::temp_directory_path() / ("moesim-import-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> expert(0, kExperts - 1);
  std::vector<int> counts(kExperts);
  for (int it = 1; it <= kIterations; ++it)
    for (int r = 0; r < kRanks; ++r) {
      std::ofstream out(dir / ("table_iter" + std::to_string(10 * it) + "_rank" + std::to_string(r) + ".log"));
      for (int l = 0; l < kLayers; ++l) {
        out << "layer " << l << ": [";
        for (int m = 0; m < kMicrobatches; ++m) {
          std::fill(counts.begin(), counts.end(), 0);
          for (int t = 0; t < 64; ++t) counts[expert(rng)] += 32;  // 1,024 tokens at top-2
          out << (m ? ", [" : "[");
          for (int e = 0; e < kExperts; ++e) out << (e ? ", " : "") << counts[e] << ".0";
          out << "]";
        }
        out << "]\n";
      }
    }
  return dir;
}

void BM_ImportTables_500x16x24x32(benchmark::State& state) {
  const fs::path dir = write_tables();
  const std::string out = (dir / "trace.h5").string();
  moesim::gating::ImportOptions options;
  options.top_k = 2;
  options.tokens_per_step = int64_t{kRanks} * kMicrobatches * 1024;
  for (auto _ : state) {
    fs::remove(out);
    moesim::gating::write_imported_trace(moesim::gating::read_count_tables({dir.string()}, moesim::gating::kDefaultTablePattern), options,
                                         out);
  }
  double bytes = 0;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".log") bytes += static_cast<double>(entry.file_size());
  state.counters["MB"] = bytes / 1e6;
  state.counters["MB/s"] = benchmark::Counter(bytes / 1e6 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  fs::remove_all(dir);
}
BENCHMARK(BM_ImportTables_500x16x24x32)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
