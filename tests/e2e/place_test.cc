// End-to-end tests of `moesim place`.
#include <algorithm>
#include <string>
#include <vector>

#include "tests/e2e/cli.h"

namespace moesim::e2e {
namespace {

// EPLB's README example as a load table: 2 layers of 12 experts.
std::string readme_loads() {
  const int loads[2][12] = {{90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86}, {20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27}};
  std::string csv = "layer,expert,load\n";
  for (int l = 0; l < 2; ++l)
    for (int e = 0; e < 12; ++e) csv += std::to_string(l) + "," + std::to_string(e) + "," + std::to_string(loads[l][e]) + "\n";
  return csv;
}

TEST_F(Cli, PlaceWritesEplbsPlanForItsReadmeExample) {
  const std::string loads = (dir_ / "loads.csv").string();
  std::ofstream(loads) << readme_loads();
  const std::string out = (dir_ / "plan").string();
  const Result r = moesim("place " + loads + " --gpus 8 --nodes 2 --slots 2 --groups 4 --out " + out);
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* expected :
       {"12 experts on 8 GPUs (2 nodes) x 2 slots = 16 physical experts", "EPLB hierarchical",
        "      0         1.208                       -  1 (2), 4 (2), 5 (2), 10 (2)",
        "      1         1.242                       -  1 (2), 5 (2), 6 (2), 8 (2)", "layer 0: 121.5 86.5 125 113 147.5 131.5 156 152"})
    EXPECT_NE(r.out.find(expected), std::string::npos) << expected << " in " << r.out;
  // EPLB's README prints this phy2log (the README quotes the lines above and this).
  EXPECT_NE(
      slurp(fs::path(out) / "eplb.json").find("\"phy2log\":[[5,6,5,7,8,4,3,4,10,9,10,2,0,1,11,1],[7,10,6,8,6,11,8,9,2,4,5,1,5,0,3,1]]"),
      std::string::npos);
  EXPECT_EQ(slurp(fs::path(out) / "phy2log.csv").rfind("layer,slot,gpu,expert,replica\n0,0,0,5,0\n0,1,0,6,0\n0,2,1,5,1\n", 0), 0u);
  for (const char* file : {"log2phy.csv", "logcnt.csv", "gpu_loads.csv"}) EXPECT_TRUE(fs::is_regular_file(fs::path(out) / file)) << file;
  // The same plan from a trace's steps; global mode where the nodes do not divide the groups.
  const Result global = moesim("place " + loads + " --gpus 8 --nodes 2 --slots 2 --groups 3");
  ASSERT_EQ(global.status, 0) << global.err;
  EXPECT_NE(global.out.find("EPLB global"), std::string::npos) << global.out;
}

TEST_F(Cli, PlaceSumsATracesSteps) {
  const std::string trace = (dir_ / "t.h5").string();
  ASSERT_EQ(
      moesim("trace generate " + std::string(MOESIM_SOURCE_DIR) + "/scenarios/learned_gpt3_125m.yaml --steps 20 --out " + trace).status, 0);
  const Result r = moesim("place " + trace + " --gpus 8 --slots 3 --steps 5:20");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("t.h5 steps 5:20: 6 MoE layers x 16 experts on 8 GPUs (1 node) x 3 slots"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 expert group packed onto 1 node,"), std::string::npos) << r.out;
  // A trace's summed loads are large: written out in full, never as 1.31e+06.
  EXPECT_EQ(r.out.find("e+0"), std::string::npos) << r.out;
  // A trace logged every 10th step: --steps are training steps, and a range holding no record is an error.
  std::string csv = "step,layer,expert,tokens\n";
  for (int step : {100, 110, 120})
    for (int e = 0; e < 16; ++e)
      csv += std::to_string(step) + ",0," + std::to_string(e) + "," + std::to_string(step == 110 ? 100 * (e == 3) + 1 : 1) + "\n";
  const std::string strided = (dir_ / "s.h5").string();
  ASSERT_EQ(moesim("trace import csv " + write("s.csv", csv).string() + " --out " + strided).status, 0);
  const Result one = moesim("place " + strided + " --gpus 8 --slots 3 --steps 105:115");
  ASSERT_EQ(one.status, 0) << one.err;
  EXPECT_NE(one.out.find("s.h5 steps 105:115"), std::string::npos) << one.out;
  EXPECT_NE(one.out.find("3 (9)"), std::string::npos) << one.out;  // the record at step 110: hot expert 3 takes every spare slot
  const Result none = moesim("place " + strided + " --gpus 8 --slots 3 --steps 101:109");
  EXPECT_EQ(none.status, 2);
  EXPECT_NE(none.err.find("steps 101:109 hold none of its records, at training steps 100 to 120 every 10"), std::string::npos) << none.err;
  EXPECT_NE(r.out.find("without replicas"), std::string::npos) << r.out;
}

TEST_F(Cli, PlaceRejectsBadInputWithOneLine) {
  const std::string loads = (dir_ / "loads.csv").string();
  std::ofstream(loads) << readme_loads();
  const auto write = [&](const char* name, const std::string& text) {
    const std::string p = (dir_ / name).string();
    std::ofstream(p) << text;
    return p;
  };
  const std::string out = (dir_ / "out").string();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {loads + " --gpus 8 --slots 1", "fewer physical slots (8) than experts (12)"},
      {loads + " --gpus 8 --slots 2 --nodes 2 --groups 3 --mode hierarchical", "to divide the expert groups"},
      {loads + " --gpus 8 --slots 2 --nodes 3", "must be a multiple of the nodes"},
      {loads + " --gpus 8 --slots 2 --mode best", "--mode: expected hierarchical or global"},
      {loads + " --slots 2", "--gpus is required"},
      {loads + " --gpus 8 --slots 0", "--slots: expected a positive count"},
      {loads + " --gpus 8 --slots 2 --steps 0:1", "--steps: only for a trace"},
      {write("header.csv", "step,layer,expert,tokens\n0,0,0,1\n") + " --gpus 1 --slots 1", "line 1: expected the header layer,expert,load"},
      {write("text.csv", "layer,expert,load\n0,0,1\n0,1,x\n") + " --gpus 1 --slots 2", "line 3: expected layer,expert,load with a number"},
      {write("negative.csv", "layer,expert,load\n0,0,-1\n") + " --gpus 1 --slots 1", "line 2: expected a finite, non-negative load"},
      {write("nan.csv", "layer,expert,load\n0,0,nan\n") + " --gpus 1 --slots 1", "line 2: expected a finite, non-negative load"},
      {write("twice.csv", "layer,expert,load\n0,0,1\n0,0,2\n") + " --gpus 1 --slots 1",
       "line 3: layer 0, expert 0 again (first on line 2)"},
      {write("gap.csv", "layer,expert,load\n0,0,1\n0,2,1\n") + " --gpus 1 --slots 3", "no load for layer 0, expert 1"},
      {write("huge.csv", "layer,expert,load\n0,99999999,1\n") + " --gpus 1 --slots 1", "line 2: expert 99999999 is outside 0..65535"},
      {write("empty.csv", "") + " --gpus 1 --slots 1", "line 1: the file is empty"},
      {write("long.csv", "layer,expert,load\n" + std::string(5000, '1') + "\n") + " --gpus 1 --slots 1", "line 2: longer than 4096"},
      {(dir_ / "missing.csv").string() + " --gpus 1 --slots 1", "missing.csv: cannot open the file"},
  };
  for (const auto& [args, message] : cases) {
    const Result bad = moesim("place " + args + " --out " + out);
    EXPECT_EQ(bad.status, 2) << args;
    EXPECT_NE(bad.err.find("moesim: error: "), std::string::npos) << args << ": " << bad.err;
    EXPECT_NE(bad.err.find(message), std::string::npos) << args << ": " << bad.err;
    EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
    EXPECT_EQ(bad.out, "") << args;
  }
  // Nothing written for any of them.
  EXPECT_FALSE(fs::exists(out));
  const Result onto_file = moesim("place " + loads + " --gpus 8 --slots 2 --out " + loads);
  EXPECT_EQ(onto_file.status, 2);
  EXPECT_NE(onto_file.err.find("--out: " + loads + " exists and is not a directory"), std::string::npos) << onto_file.err;
  EXPECT_EQ(slurp(loads), readme_loads());
}

}  // namespace
}  // namespace moesim::e2e
