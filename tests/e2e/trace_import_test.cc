// End-to-end tests of `moesim trace import` and what `trace info` says about an imported trace.
#include <string>

#include "tests/e2e/cli.h"

namespace moesim::e2e {
namespace {

// Count tables of iterations 10, 20, 30 for 2 ranks, 2 layers of 4 experts, 2 micro-batches of
// 4 tokens at top-2 each (16 assignments per rank and layer).
void write_tables(const fs::path& dir) {
  fs::create_directories(dir);
  for (int it : {10, 20, 30})
    for (int r = 0; r < 2; ++r)
      std::ofstream(dir / ("table_iter" + std::to_string(it) + "_rank" + std::to_string(r) + ".log"))
          << "layer 0: [[5.0, 1.0, 2.0, 0.0], [1.0, 3.0, 0.0, 4.0]]\n"
          << "layer 1: [[3.0, 3.0, 1.0, 1.0], [4.0, 2.0, " << (it == 20 ? "2.0, 0.0" : "1.0, 1.0") << "]]\n";
}

TEST_F(Cli, TraceImportReadsCountTablesWithTheirStride) {
  write_tables(dir_ / "tables");
  const std::string out = (dir_ / "t.h5").string();
  const Result r = moesim("trace import tables " + (dir_ / "tables").string() + " --out " + out + " --top-k 2 --tokens-per-step 16");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* expected :
       {"imported 3 records", "3 records x 2 MoE layers x 4 experts", "training steps 10 to 30, one record every 10 (stride 10)",
        "per-rank counts for 2 source ranks", "micro-batches (summed per record)", "top-2, 16 tokens per step", "GPUs, EP2"})
    EXPECT_NE(r.out.find(expected), std::string::npos) << expected << " in " << r.out;
  // Expert max/mean: layer 0 routes 12, 8, 4, 8 of 32 (1.5), layer 1 14, 10, 4, 4 (1.75) at step 10.
  EXPECT_NE(r.out.find("first 1.62"), std::string::npos) << r.out;
  const Result info = moesim("trace info " + out + " --ep 4");
  ASSERT_EQ(info.status, 0) << info.err;
  EXPECT_NE(info.out.find("GPUs, EP4"), std::string::npos) << info.out;
  const Result bad_ep = moesim("trace info " + out + " --ep 3");
  EXPECT_EQ(bad_ep.status, 2);
  EXPECT_NE(bad_ep.err.find("--ep 3 does not divide the trace's 4 experts"), std::string::npos) << bad_ep.err;
}

TEST_F(Cli, TraceImportReadsTheExtendedCsv) {
  const fs::path csv = write("t.csv", "step,rank,layer,expert,tokens\n0,0,0,0,2.0\n0,1,0,1,2.0\n5,0,0,1,1\n5,1,0,1,3\n");
  const std::string out = (dir_ / "c.h5").string();
  const Result r = moesim("trace import csv " + csv.string() + " --out " + out + " --model mine");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* expected :
       {"2 records x 1 MoE layers x 2 experts", "training steps 0 to 5, one record every 5 (stride 5)", "model mine"})
    EXPECT_NE(r.out.find(expected), std::string::npos) << expected << " in " << r.out;
}

TEST_F(Cli, BadImportsExitTwoWithOneLineAndNoTrace) {
  write_tables(dir_ / "tables");
  std::ofstream(dir_ / "tables" / "table_iter20_rank1.log") << "[[1.0, 2.5, 0, 0]]\n[[1, 2, 1, 0]]\n";
  const std::string out = (dir_ / "bad.h5").string();
  const struct {
    std::string args, error;
  } cases[] = {
      {"tables " + (dir_ / "tables").string(), "table_iter20_rank1.log:line 1, column 8: the count 2.5 is not a whole number of tokens"},
      {"csv " + write("b.csv", "step,layer,expert,tokens\n0,0,0,1\n0,0,0,1\n").string(), "b.csv:line 3: repeats the count of line 2"},
      {"csv " + write("e.csv", "").string(), "e.csv:line 1: the file is empty"},
      {"parquet x", "unknown trace format 'parquet' (csv, tables, sglang or hf-router-logits)"},
      {"tables " + (dir_ / "tables").string() + " --top-k 0", "--top-k must be from 1 to 65536, got 0"},
      {"sglang x.pt --pattern 'a{step}'", "--pattern names the files of tables and hf-router-logits, not of sglang"},
      {"tables " + (dir_ / "tables").string() + " --pattern 'iter{step}.log'",
       "--pattern: expected a file name with {step} once and {rank} once"},
  };
  for (const auto& c : cases) {
    const Result r = moesim("trace import " + c.args + " --out " + out);
    EXPECT_EQ(r.status, 2) << c.args;
    EXPECT_NE(r.err.find(c.error), std::string::npos) << c.error << " in " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(out)) << c.args;
  }
}

TEST_F(Cli, TraceImportReadsSglangAndHuggingFaceDumps) {
  const std::string fixtures = std::string(MOESIM_SOURCE_DIR) + "/tests/models/gating/torch_fixtures/";
  const std::string out = (dir_ / "s.h5").string();
  const Result sglang = moesim("trace import sglang " + fixtures + "expert_distribution_recorder_1764547200.5.pt --out " + out);
  ASSERT_EQ(sglang.status, 0) << sglang.err;
  for (const char* expected : {"4 records x 3 MoE layers x 4 experts", "per-expert totals", "SGLang expert distribution dump"})
    EXPECT_NE(sglang.out.find(expected), std::string::npos) << expected << " in " << sglang.out;
  const std::string hf = (dir_ / "h.h5").string();
  const Result logits = moesim("trace import hf-router-logits " + fixtures + "router_logits_step100.pt " + fixtures +
                               "router_logits_step110.pt --top-k 2 --out " + hf);
  ASSERT_EQ(logits.status, 0) << logits.err;
  EXPECT_NE(logits.out.find("training steps 100 to 110, one record every 10 (stride 10)"), std::string::npos) << logits.out;
  const Result no_k = moesim("trace import hf-router-logits " + fixtures + "router_logits_step100.pt --out " + (dir_ / "k.h5").string());
  EXPECT_EQ(no_k.status, 2);
  EXPECT_NE(no_k.err.find("needs --top-k"), std::string::npos) << no_k.err;
  const Result detail =
      moesim("trace import sglang " + fixtures + "expert_distribution_recorder_detail.pt --out " + (dir_ / "d.h5").string());
  EXPECT_EQ(detail.status, 2);
  EXPECT_NE(detail.err.find("record with --expert-distribution-recorder-mode stat"), std::string::npos) << detail.err;
  EXPECT_FALSE(fs::exists(dir_ / "d.h5"));
}

}  // namespace
}  // namespace moesim::e2e
