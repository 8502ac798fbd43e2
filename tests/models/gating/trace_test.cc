#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "models/gating/skewed_source.h"
#include "models/gating/trace_csv.h"
#include "models/gating/trace_h5.h"
#include "models/gating/trace_source.h"

namespace fs = std::filesystem;

namespace moesim::gating {
namespace {

class Trace : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("moesim-trace-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const char* name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TraceInfo small_info(int steps) {
  TraceInfo info;
  info.steps = steps;
  info.moe_layers = 2;
  info.experts = 4;
  info.ranks = 3;
  info.top_k = 1;
  info.tokens_per_step = 300;
  info.model = "test";
  return info;
}

TEST_F(Trace, WrittenRoutingReadsBackExactly) {
  SkewedSourceParams p;
  p.shape.moe_layers = 2;
  p.shape.ranks = 3;
  p.shape.experts = 4;
  p.shape.tokens_per_rank = 100;
  SkewedSource source(p);
  std::vector<RoutingMatrix> steps;
  TraceWriter writer(path("t.h5"), small_info(5));
  for (int s = 0; s < 5; ++s) {
    RoutingMatrix m(2, 3, 4);
    source.next(s, m);
    writer.write_step(m);
    steps.push_back(m);
  }
  writer.finish();

  const TraceReader reader(path("t.h5"));
  EXPECT_EQ(reader.info().steps, 5);
  EXPECT_EQ(reader.info().ranks, 3);
  EXPECT_EQ(reader.info().model, "test");
  TraceSource replay(path("t.h5"), GatingShape{2, 3, 4, 1, 100}, 5);
  for (int s = 0; s < 5; ++s) {
    RoutingMatrix m(2, 3, 4);
    replay.next(s, m);
    for (int l = 0; l < 2; ++l)
      for (int r = 0; r < 3; ++r)
        for (int e = 0; e < 4; ++e) EXPECT_EQ(m.row(l, r)[e], steps[s].row(l, r)[e]);
    EXPECT_EQ(reader.read_expert_counts(s)[4 + 1], steps[s].expert_loads(1)[1]);
  }
}

TEST_F(Trace, AnUnfinishedWriterLeavesNoFile) {
  {
    TraceInfo info = small_info(5);
    info.ranks = 0;
    TraceWriter writer(path("partial.h5"), info);
    writer.write_step_totals(std::vector<int32_t>(8, 1));
  }
  EXPECT_FALSE(fs::exists(path("partial.h5")));
  EXPECT_FALSE(fs::exists(path("partial.h5.tmp")));
}

TEST_F(Trace, TotalsOnlyTracesAreSplitOverRanksByShare) {
  TraceInfo info = small_info(1);
  info.ranks = 0;
  TraceWriter writer(path("totals.h5"), info);
  writer.write_step_totals({30, 10, 0, 60, 25, 25, 25, 25});
  writer.finish();
  TraceSource replay(path("totals.h5"), GatingShape{2, 2, 4, 1, 1000}, 1);
  RoutingMatrix m(2, 2, 4);
  replay.next(0, m);
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(m.row(0, r)[0], 300);
    EXPECT_EQ(m.row(0, r)[2], 0);
    EXPECT_EQ(m.row(0, r)[3], 600);
    EXPECT_EQ(m.row(1, r)[1], 250);
  }
}

TEST_F(Trace, MismatchesNameFileAndDataset) {
  TraceInfo info = small_info(2);
  info.ranks = 0;
  TraceWriter writer(path("t.h5"), info);
  writer.write_step_totals(std::vector<int32_t>(8, 1));
  writer.write_step_totals(std::vector<int32_t>(8, 1));
  writer.finish();
  auto expect_error = [&](const GatingShape& shape, int steps, const std::string& fragment) {
    try {
      TraceSource source(path("t.h5"), shape, steps);
      FAIL() << "accepted " << fragment;
    } catch (const TraceError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path("t.h5")), std::string::npos) << e.what();
    }
  };
  expect_error(GatingShape{2, 3, 4, 1, 100}, 3, "has 2 steps, the scenario asks for 3");
  expect_error(GatingShape{5, 3, 4, 1, 100}, 1, "has 2 MoE layers, the model has 5");
  expect_error(GatingShape{2, 3, 8, 1, 100}, 1, "has 4 experts per layer, the model has 8");
  EXPECT_THROW(TraceReader(path("missing.h5")), TraceError);
}

TEST_F(Trace, CsvConvertsAndBadCsvWritesNothing) {
  std::ofstream(path("ok.csv")) << "step,layer,expert,tokens\n0,0,0,5\n0,0,1,7\n1,0,1,3\n";
  convert_csv_trace(path("ok.csv"), path("ok.h5"));
  const TraceReader reader(path("ok.h5"));
  EXPECT_EQ(reader.info().steps, 2);
  EXPECT_EQ(reader.info().experts, 2);
  EXPECT_EQ(reader.info().ranks, 0);
  EXPECT_EQ(reader.read_expert_counts(1), (std::vector<int64_t>{0, 3}));

  for (const char* bad : {"step,layer,expert\n0,0,0\n", "step,layer,expert,tokens\n0,0,0,nan\n", "step,layer,expert,tokens\n0,0,0,-1\n",
                          "step,layer,expert,tokens\n0,0,0,1.5\n", ""}) {
    std::ofstream(path("bad.csv")) << bad;
    EXPECT_THROW(convert_csv_trace(path("bad.csv"), path("bad.h5")), TraceError) << bad;
    EXPECT_FALSE(fs::exists(path("bad.h5")));
  }
}

}  // namespace
}  // namespace moesim::gating
