// End-to-end tests of `moesim compare`.
#include "tests/e2e/cli.h"

namespace moesim::e2e {
namespace {

const std::string kBase = std::string(kTinyScenario) + "cost: {gpu_hour: 2.5}\n";

TEST_F(Cli, CompareShowsEachPolicysMetricsSideBySideWithDeltas) {
  const fs::path base = write("base.yaml", kBase);
  const fs::path csv = dir_ / "compare.csv";
  const Result r = moesim("compare " + base.string() + " --set gating.routing=hash --seeds 2 --quiet --csv " + csv.string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("2 seeds from 1 on each side"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("differs in 1 value:\n    gating.routing: topk -> hash   (--set, on the variant only)\n"), std::string::npos)
      << r.out;
  for (const char* line : {"\nstatic\n", "\npredictive-sw_avg\n", "  step time ", "  tokens/s ", "  GPU utilization ",
                           "  all-to-all inter-node ", "  cost per M tokens ", "beyond seed noise"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  }
  // Hash routing balances experts: the step is shorter, well beyond two seeds' noise.
  const size_t step = r.out.find("  step time ");
  const std::string row = r.out.substr(step, r.out.find('\n', step) - step);
  EXPECT_NE(row.find("yes, better"), std::string::npos) << row;
  // The same comparison as CSV, one row per policy and metric.
  const std::string table = slurp(csv);
  EXPECT_EQ(table.rfind(
                "policy,metric,seeds,base_mean,base_sd,variant_mean,variant_sd,delta,relative,noise,beyond_noise\nstatic,step time,2,", 0),
            0u)
      << table;
  const size_t at = table.find("\nstatic,step time,");
  const std::string step_row = table.substr(at + 1, table.find('\n', at + 1) - at - 1);
  EXPECT_EQ(step_row.substr(step_row.rfind(',')), ",yes") << step_row;
  EXPECT_NE(table.find("\npredictive-sw_avg,cost per M tokens,2,"), std::string::npos) << table;

  // A variant file; the same scenario on both sides differs in nothing.
  const fs::path same = write("same.yaml", kBase);
  const Result nothing = moesim("compare " + base.string() + " " + same.string() + " --seeds 1 --quiet");
  ASSERT_EQ(nothing.status, 0) << nothing.err;
  EXPECT_NE(nothing.out.find("differs in nothing but its name"), std::string::npos) << nothing.out;
  EXPECT_NE(nothing.out.find("- (one seed)"), std::string::npos) << nothing.out;
}

TEST_F(Cli, CompareRejectsBadInputWithExitTwo) {
  const fs::path base = write("base.yaml", kBase);
  EXPECT_EQ(moesim("compare " + base.string()).status, 2);  // no variant
  EXPECT_EQ(moesim("compare").status, 2);
  EXPECT_EQ(moesim("compare " + base.string() + " --set cluster.nodez=3").status, 2);
  EXPECT_EQ(moesim("compare " + base.string() + " --set steps=3 --seeds 0").status, 2);
  const Result csv = moesim("compare " + base.string() + " --set steps=3 --csv " + (dir_ / "no" / "such" / "c.csv").string());
  EXPECT_EQ(csv.status, 2);
  EXPECT_NE(csv.err.find("--csv: cannot write '" + (dir_ / "no" / "such" / "c.csv").string() + "'"), std::string::npos) << csv.err;
  EXPECT_EQ(csv.out, "");
  const Result r = moesim("compare " + base.string() + " " + (dir_ / "missing.yaml").string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("cannot open the scenario file"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace moesim::e2e
