// Sharing a sweep's points out, and the combined table's round trip through summary.csv.
#include <gtest/gtest.h>

#include <set>

#include "results/summary_csv.h"
#include "results/sweep_outputs.h"
#include "results/table.h"
#include "sim/sweep.h"
#include "tests/sim/policy_summary.h"

namespace moesim {
namespace {

TEST(SweepPoints, ShardsAndRanksPartitionThePoints) {
  for (int shards : {1, 2, 3}) {
    for (int ranks : {1, 2, 4}) {
      std::multiset<int> seen;
      for (int shard = 0; shard < shards; ++shard) {
        for (int rank = 0; rank < ranks; ++rank) {
          for (int p : assigned_points(11, shard, shards, rank, ranks)) seen.insert(p);
        }
      }
      ASSERT_EQ(seen.size(), 11u) << shards << " shards, " << ranks << " ranks";
      for (int p = 0; p < 11; ++p) EXPECT_EQ(seen.count(p), 1u);
    }
  }
  EXPECT_EQ(assigned_points(7, 1, 2, 0, 1), (std::vector<int>{1, 3, 5}));
  EXPECT_EQ(assigned_points(7, 0, 2, 1, 2), (std::vector<int>{2, 6}));  // shard 0 holds 0 2 4 6; rank 1 every second
  EXPECT_TRUE(assigned_points(1, 0, 1, 1, 2).empty());
}

TEST(SummaryCsv, ReadsBackWhatItWrites) {
  PolicySummary a;
  a.label = "predictive, \"sw\"";
  a.step_ms_mean = 12.34567;
  a.tokens_per_second = 4.1e6;
  a.forecast_error_pp = 0.125;
  PolicySummary b;
  b.label = "static";
  b.cost_per_mtok = 0.75;
  const std::string text = results::summary_csv({a, b});
  const auto back = results::parse_summary_csv(text);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].label, a.label);
  EXPECT_DOUBLE_EQ(back[0].step_ms_mean, 12.3457);  // at the precision written
  EXPECT_EQ(back[0].forecast_error_pp, 0.125);
  EXPECT_FALSE(back[0].cost_per_mtok);
  EXPECT_FALSE(back[1].forecast_error_pp);
  EXPECT_EQ(back[1].cost_per_mtok, 0.75);
  EXPECT_EQ(results::summary_csv(back), text);
  EXPECT_THROW(results::parse_summary_csv("policy,x\n"), std::runtime_error);
  EXPECT_THROW(results::parse_summary_csv(results::summary_csv_header() + "\nstatic,1,2\n"), std::runtime_error);
}

TEST(SweepCsv, PutsThePointAndItsAxisValuesBeforeEachPolicyRow) {
  PolicySummary s;
  s.label = "static";
  results::SweepTable t{"x", {"cluster.nodes", "policies"}, {{3, {"8", "[{placement: static}, {placement: oracle}]"}, {s, s}}}};
  const std::string csv = results::sweep_csv(t);
  const std::string row = "3,8,\"[{placement: static}, {placement: oracle}]\"," + results::summary_csv_row(s) + "\n";
  EXPECT_EQ(csv, "point,cluster.nodes,policies," + results::summary_csv_header() + "\n" + row + row);
}

TEST(Tables, AlignColumnsMarkTheFastestAndEmboldenItOnlyWhenAsked) {
  const PolicySummary slow = test::policy_summary("static", 120), fast = test::policy_summary("predictive-sw_avg", 99.5);
  const std::string plain = results::summary_table({slow, fast});
  EXPECT_EQ(plain.find("\033["), std::string::npos);
  EXPECT_NE(plain.find("\n  static             120.00 ms"), std::string::npos) << plain;
  EXPECT_NE(plain.find("\n* predictive-sw_avg   99.50 ms"), std::string::npos) << plain;
  const std::string bold = results::summary_table({slow, fast}, true);
  EXPECT_NE(bold.find("\n\033[1m* predictive-sw_avg   99.50 ms"), std::string::npos) << bold;
  EXPECT_EQ(bold.find("\033[1m  static"), std::string::npos);

  results::SweepTable t{"x", {"seed"}, {{0, {"1"}, {slow, fast}}, {1, {"2"}, {fast, slow}}}};
  const std::string sweep = results::sweep_table(t, false, 3);
  EXPECT_NE(sweep.find("0      1     * predictive-sw_avg"), std::string::npos) << sweep;
  EXPECT_NE(sweep.find("... 1 more row in sweep.csv"), std::string::npos) << sweep;
}

TEST(Tables, SayWhichPoliciesEachOracleBoundsAndWhichNoneDoes) {
  auto row = [](const char* label, const char* family, bool bound) {
    PolicySummary r = test::policy_summary(label, 100);
    r.family = family;
    r.bound = bound;
    return r;
  };
  const PolicySummary fixed = row("static", "", false), packing = row("predictive-sw_avg", "packing", false),
                      replicating = row("replicated", "replication", false), affinity = row("affinity", "affinity", false),
                      oracle = row("oracle", "packing", true), replicating_oracle = row("oracle-replicated", "replication", true);
  // Without an oracle the table says nothing of bounds.
  EXPECT_EQ(results::summary_table({fixed, packing, replicating}).find("bound"), std::string::npos);
  const std::string one = results::summary_table({fixed, packing, replicating, affinity, oracle});
  EXPECT_NE(one.find("oracle: upper bound of predictive-sw_avg (packing, planned from the true coming loads)\n"), std::string::npos) << one;
  EXPECT_NE(one.find("no oracle here bounds replicated, affinity\n"), std::string::npos) << one;
  const std::string two = results::summary_table({replicating, replicating_oracle, oracle});
  EXPECT_NE(two.find("oracle-replicated: upper bound of replicated (replication"), std::string::npos) << two;
  EXPECT_NE(two.find("oracle: plans packing from the true coming loads; no other policy here does\n"), std::string::npos) << two;
  EXPECT_EQ(two.find("no oracle here bounds"), std::string::npos) << two;
}

}  // namespace
}  // namespace moesim
