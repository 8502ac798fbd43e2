#include <gtest/gtest.h>

#include <H5Cpp.h>

#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>

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
    dir_ = fs::temp_directory_path() /
           ("moesim-trace-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
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
  EXPECT_TRUE(fs::is_empty(dir_));  // neither the trace nor its temporary
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

// A trace logged every 10th training step replays in training steps: each record held for 10
// steps, or blended linearly between two records (rounded so each rank keeps its total).
TEST_F(Trace, StridedTracesReplayInTrainingSteps) {
  TraceInfo info = small_info(3);
  info.stride = 10;
  info.first_step = 100;
  TraceWriter writer(path("strided.h5"), info);
  RoutingMatrix step(2, 3, 4);
  for (int record = 0; record < 3; ++record) {
    for (int l = 0; l < 2; ++l)
      for (int r = 0; r < 3; ++r) {
        auto row = step.row(l, r);
        std::fill(row.begin(), row.end(), 0);
        row[record] = 100;  // record i sends every token to expert i
      }
    writer.write_step(step);
  }
  writer.finish();
  const GatingShape shape{2, 3, 4, 1, 100};
  RoutingMatrix m(2, 3, 4);
  TraceSource hold(path("strided.h5"), shape, 25);
  for (int t = 0; t < 25; ++t) {
    hold.next(t, m);
    EXPECT_EQ(m.row(1, 2)[t / 10], 100) << t;
  }
  EXPECT_NE(hold.describe().find("a record every 10 training steps, held between records"), std::string::npos) << hold.describe();
  TraceSource linear(path("strided.h5"), shape, 25, Between::kLinear);
  for (int t = 0; t < 25; ++t) {
    linear.next(t, m);
    const auto row = m.row(0, 1);
    EXPECT_EQ(std::accumulate(row.begin(), row.end(), 0), 100) << t;
    const std::vector<int32_t> got(row.begin(), row.end());
    if (t == 3) {
      EXPECT_EQ(got, (std::vector<int32_t>{70, 30, 0, 0}));
    } else if (t == 15) {
      EXPECT_EQ(got, (std::vector<int32_t>{0, 50, 50, 0}));
    } else if (t >= 20) {
      EXPECT_EQ(got[2], 100) << t;  // past the last record: held
    }
  }
  // 3 records at stride 10 cover 30 training steps; 31 need a fourth.
  EXPECT_NO_THROW(TraceSource(path("strided.h5"), shape, 30));
  try {
    TraceSource(path("strided.h5"), shape, 31);
    FAIL();
  } catch (const TraceError& e) {
    EXPECT_NE(std::string(e.what()).find("has 3 records, one every 10 training steps; the scenario's 31 steps need 4"), std::string::npos)
        << e.what();
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

// A dataset written by another tool: `dims` declared (chunked, so nothing need be stored), one
// 64-bit value written at the start when `first` is given.
void write_raw_trace(const std::string& file, const char* name, std::vector<hsize_t> dims, std::optional<int64_t> first,
                     H5F_libver_t format = H5F_LIBVER_LATEST) {
  H5::FileAccPropList access;
  access.setLibverBounds(format, H5F_LIBVER_LATEST);
  H5::H5File f(file, H5F_ACC_TRUNC, H5::FileCreatPropList::DEFAULT, access);
  std::vector<hsize_t> chunk(dims.size(), 1);
  H5::DSetCreatPropList props;
  props.setChunk(static_cast<int>(chunk.size()), chunk.data());
  const H5::DataSpace space(static_cast<int>(dims.size()), dims.data());
  H5::DataSet ds = f.createDataSet(name, H5::PredType::NATIVE_INT64, space, props);
  if (first) {
    H5::DataSpace file_space = ds.getSpace();
    std::vector<hsize_t> start(dims.size(), 0);
    file_space.selectHyperslab(H5S_SELECT_SET, chunk.data(), start.data());
    ds.write(&*first, H5::PredType::NATIVE_INT64, H5::DataSpace(static_cast<int>(chunk.size()), chunk.data()), file_space);
  }
}

TEST_F(Trace, HostileHeadersAndCountsAreRefusedNotClippedOrAllocated) {
  // A count beyond 32 bits: an error naming it, never a clipped value.
  write_raw_trace(path("wide.h5"), "/expert_counts", {1, 1, 2}, int64_t{1} << 33);
  const TraceReader wide(path("wide.h5"));
  try {
    wide.read_expert_counts(0);
    FAIL() << "a 2^33 count was read";
  } catch (const TraceError& e) {
    EXPECT_NE(std::string(e.what()).find("token count 8589934592 at step 0 is outside"), std::string::npos) << e.what();
  }
  // A tiny file declaring a huge shape: refused from its header, before anything is allocated.
  write_raw_trace(path("huge.h5"), "/expert_counts", {hsize_t{1} << 40, 1, 1}, std::nullopt);
  EXPECT_LT(fs::file_size(path("huge.h5")), 8192u);
  try {
    TraceReader reader(path("huge.h5"));
    FAIL() << "a 2^40-step header was accepted";
  } catch (const TraceError& e) {
    EXPECT_NE(std::string(e.what()).find("declares 1099511627776 steps"), std::string::npos) << e.what();
  }
  write_raw_trace(path("wide_step.h5"), "/rank_counts", {1, 4096, 1 << 20, 65536}, std::nullopt);
  EXPECT_THROW(TraceReader(path("wide_step.h5")), TraceError);
  EXPECT_THROW(TraceReader(dir_.string()), TraceError);
  // HDF5's earliest format has no checksums: libhdf5 would parse damage as data (fuzzing found
  // reads past buffers in it), so such a file is refused with how to rewrite it.
  write_raw_trace(path("earliest.h5"), "/expert_counts", {1, 1, 2}, 5, H5F_LIBVER_EARLIEST);
  try {
    TraceReader reader(path("earliest.h5"));
    FAIL() << "an unchecksummed file was opened";
  } catch (const TraceError& e) {
    EXPECT_NE(std::string(e.what()).find("h5repack --latest"), std::string::npos) << e.what();
  }
}

TEST_F(Trace, ExactReplayChecksTopKAndEveryStepsTotals) {
  const auto record = [&](const char* name, int top_k, int32_t count) {
    TraceInfo info = small_info(1);
    info.top_k = top_k;
    TraceWriter writer(path(name), info);
    RoutingMatrix m(2, 3, 4);
    for (int l = 0; l < 2; ++l)
      for (int r = 0; r < 3; ++r) m.row(l, r)[0] = count;
    writer.write_step(m);
    writer.finish();
  };
  const auto error_of = [&](const char* name, const GatingShape& shape) -> std::string {
    try {
      TraceSource source(path(name), shape, 1);
      RoutingMatrix m(2, 3, 4);
      source.next(0, m);
    } catch (const TraceError& e) {
      return e.what();
    }
    return "";
  };
  record("top2.h5", 2, 200);
  EXPECT_NE(error_of("top2.h5", GatingShape{2, 3, 4, 1, 100}).find("was recorded with top_k 2, the scenario has model.top_k 1"),
            std::string::npos);
  EXPECT_EQ(error_of("top2.h5", GatingShape{2, 3, 4, 2, 100}), "");
  record("zeros.h5", 1, 0);
  EXPECT_NE(error_of("zeros.h5", GatingShape{2, 3, 4, 1, 100}).find("step 0, MoE layer 0, rank 0 routes 0 token assignments"),
            std::string::npos);
  record("max.h5", 1, INT32_MAX);
  EXPECT_NE(error_of("max.h5", GatingShape{2, 3, 4, 1, 100}).find("routes 2147483647 token assignments; the scenario routes 100"),
            std::string::npos);
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
  // An endless line (a binary file, /dev/zero) is refused at its 4,097th character.
  std::ofstream(path("binary.csv")) << std::string(5000, '\0');
  try {
    convert_csv_trace(path("binary.csv"), path("bad.h5"));
    FAIL();
  } catch (const TraceError& e) {
    EXPECT_NE(std::string(e.what()).find("line 1: longer than 4096 characters"), std::string::npos) << e.what();
  }
  EXPECT_THROW(convert_csv_trace(dir_.string(), path("bad.h5")), TraceError);
  // A few bytes naming a far step make a small file, fast: steps are chunked, not one per write.
  // Naming a step, layer and expert that far describes more zeros than a CSV may.
  for (const char* far : {"step,layer,expert,tokens\n16777216,0,0,1\n", "step,layer,expert,tokens\n8615,8,8610,3\n"}) {
    std::ofstream(path("vast.csv")) << far;
    try {
      convert_csv_trace(path("vast.csv"), path("bad.h5"));
      FAIL() << far;
    } catch (const TraceError& e) {
      EXPECT_NE(std::string(e.what()).find("omitted counts are zeros"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(path("bad.h5")));
  }
  std::ofstream(path("far.csv")) << "step,layer,expert,tokens\n200000,0,0,1\n";
  convert_csv_trace(path("far.csv"), path("far.h5"));
  EXPECT_LT(fs::file_size(path("far.h5")), 65536u);
  const TraceReader far(path("far.h5"));
  EXPECT_EQ(far.info().steps, 200001);
  EXPECT_EQ(far.read_expert_counts(200000), (std::vector<int64_t>{1}));
  EXPECT_EQ(far.read_expert_counts(7), (std::vector<int64_t>{0}));
}

}  // namespace
}  // namespace moesim::gating
