// Trace importers: the extended CSV and per-iteration, per-rank count tables, read into a trace
// whose counts, stride and first step are what the files say; every bad input a one-line
// TraceError naming the file and line, with nothing written.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "models/gating/trace_csv.h"
#include "models/gating/trace_h5.h"
#include "models/gating/trace_import.h"
#include "models/gating/trace_tables.h"

namespace moesim::gating {
namespace {

namespace fs = std::filesystem;

ImportOptions stated(int top_k, int64_t tokens_per_step = 0, int stride = 0) {
  ImportOptions o;
  o.top_k = top_k;
  o.tokens_per_step = tokens_per_step;
  o.stride = stride;
  return o;
}

class TraceImport : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("moesim-import-" + std::to_string(::getpid()) + "-" + testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path(name)) << text;
    return path(name);
  }
  // The error a bad import gives; fails the test if it succeeds or leaves the trace behind.
  template <typename Import>
  std::string error_of(Import import) const {
    try {
      import();
    } catch (const TraceError& e) {
      EXPECT_FALSE(fs::exists(path("out.h5")));
      const std::string what = e.what();
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
      return what;
    }
    ADD_FAILURE() << "no error";
    return "";
  }
  fs::path dir_;
};

TEST_F(TraceImport, CsvWithRanksMicrobatchesAndFloatCountsKeepsTheLoggedSteps) {
  // Steps 100 and 110 (a log every 10th step), two ranks, two micro-batches summed, columns reordered.
  const std::string csv = write("t.csv",
                                "rank,step,layer,expert,microbatch,tokens\n"
                                "0,100,0,0,0,3.0\n0,100,0,1,0,1\n0,100,0,0,1,2.0\n0,100,0,1,1,2\n"
                                "1,100,0,1,0,4\n1,100,0,1,1,4e0\n"
                                "0,110,0,0,0,8\n1,110,0,0,0,8\n");
  const ImportedCounts counts = read_csv_counts(csv, CsvSteps::kAsLogged);
  ASSERT_EQ(counts.steps, (std::vector<int64_t>{100, 110}));
  EXPECT_EQ(counts.ranks, 2);
  EXPECT_EQ(counts.at(0, 0, 0, 0), 5);
  EXPECT_EQ(counts.at(0, 0, 0, 1), 3);
  EXPECT_EQ(counts.at(0, 0, 1, 1), 8);
  write_imported_trace(counts, stated(1, 16), path("out.h5"));
  const TraceReader reader(path("out.h5"));
  EXPECT_EQ(reader.info().steps, 2);
  EXPECT_EQ(reader.info().stride, 10);
  EXPECT_EQ(reader.info().first_step, 100);
  EXPECT_EQ(reader.info().top_k, 1);
  RoutingMatrix routing(1, 2, 2);
  reader.read_rank_counts(0, routing);
  EXPECT_EQ(std::vector<int32_t>(routing.row(0, 0).begin(), routing.row(0, 0).end()), (std::vector<int32_t>{5, 3}));
  EXPECT_EQ(std::vector<int32_t>(routing.row(0, 1).begin(), routing.row(0, 1).end()), (std::vector<int32_t>{0, 8}));
}

TEST_F(TraceImport, BadCsvNamesTheLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"step,layer,expert,tokens\n0,0,0,5.5\n", "line 2: expected a whole number of tokens (5 or 5.0), got '5.5'"},
      {"step,layer,expert,tokens\n0,0,0,5\n0,0,1\n", "line 3: expected 4 fields as the header has, got 3"},
      {"step,layer,expert,tokens,node\n", "line 1: unknown column 'node'"},
      {"step,layer,expert\n", "line 1: no column 'tokens'"},
      {"step,layer,expert,tokens,step\n", "line 1: column 'step' twice"},
      {"step,layer,expert,tokens\n0,0,0,5\n0,0,1,1\n0,0,0,2\n", "line 4: repeats the count of line 2"},
      {"step,layer,expert,tokens\n0,0,-1,5\n", "line 2: expected expert from 0 to 65536, got '-1'"},
      {"step,layer,expert,tokens\n0,0,0,5\n0,1,0,4\n", "step 0, MoE layer 1 (line 3) routes 4 assignments where MoE layer 0 routes 5"},
      {"step,layer,expert,tokens\n0,0,0,5\n10,0,0,5\n30,0,0,5\n", "records at training steps 10 and 30 break the spacing of 10 steps"},
      {"step,layer,expert,tokens\n0,4000,60000,1\n", "describe a dense trace of"},
  };
  for (const auto& [text, expected] : cases) {
    const std::string csv = write("bad.csv", text);
    const std::string error = error_of([&] { write_imported_trace(read_csv_counts(csv, CsvSteps::kAsLogged), {}, path("out.h5")); });
    EXPECT_NE(error.find(expected), std::string::npos) << expected << " in: " << error;
    EXPECT_EQ(error.rfind(csv, 0), 0u) << error;
  }
  // Totals against what the user states.
  const std::string csv = write("k.csv", "step,layer,expert,tokens\n0,0,0,5\n0,0,1,4\n");
  EXPECT_NE(error_of([&] {
              write_imported_trace(read_csv_counts(csv, CsvSteps::kAsLogged), stated(2), path("out.h5"));
            }).find("routes 9 assignments, not a multiple of --top-k 2"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              write_imported_trace(read_csv_counts(csv, CsvSteps::kAsLogged), stated(1, 8), path("out.h5"));
            }).find("routes 9 assignments where --tokens-per-step 8 x --top-k 1 = 8"),
            std::string::npos);
  const std::string two = write("two.csv", "step,layer,expert,tokens\n0,0,0,5\n10,0,0,5\n");
  EXPECT_NE(error_of([&] {
              write_imported_trace(read_csv_counts(two, CsvSteps::kAsLogged), stated(0, 0, 5), path("out.h5"));
            }).find("records at training steps 0 and 10 where --stride 5 says every 5 steps"),
            std::string::npos);
}

// Tables of 2 layers x 3 experts for iterations `steps` and ranks 0..ranks-1; rank r's counts at
// iteration s in micro-batch m, layer l, expert e are s/10 + r + m + l + e (layer 1 reversed, so
// both layers route the same total).
void write_tables(const fs::path& dir, const std::vector<int>& steps, int ranks) {
  for (int s : steps)
    for (int r = 0; r < ranks; ++r) {
      std::ofstream out(dir / ("table_iter" + std::to_string(s) + "_rank" + std::to_string(r) + ".log"));
      for (int l = 0; l < 2; ++l) {
        out << "layer " << l << ": [";
        for (int m = 0; m < 2; ++m) {
          out << (m ? ", [" : "[");
          for (int e = 0; e < 3; ++e) out << (e ? ", " : "") << (s / 10 + r + m + (l == 0 ? e : 2 - e)) << ".0";
          out << "]";
        }
        out << "]\n";
      }
    }
}

TEST_F(TraceImport, TablesSumMicrobatchesPerRankAndLayer) {
  write_tables(dir_, {20, 30, 40}, 2);
  std::ofstream(path("notes.txt")) << "not a table";
  const ImportedCounts counts = read_count_tables({dir_.string()}, kDefaultTablePattern);
  ASSERT_EQ(counts.steps, (std::vector<int64_t>{20, 30, 40}));
  EXPECT_EQ(counts.ranks, 2);
  EXPECT_EQ(counts.layers, 2);
  EXPECT_EQ(counts.experts, 3);
  // Iteration 30, rank 1, layer 0, expert 2: (3+1+0+2) + (3+1+1+2) = 13; layer 1 expert 0 the same.
  EXPECT_EQ(counts.at(1, 0, 1, 2), 13);
  EXPECT_EQ(counts.at(1, 1, 1, 0), 13);
  write_imported_trace(counts, stated(1), path("out.h5"));
  const TraceReader reader(path("out.h5"));
  EXPECT_EQ(reader.info().stride, 10);
  EXPECT_EQ(reader.info().first_step, 20);
  EXPECT_EQ(reader.info().ranks, 2);
  EXPECT_EQ(reader.read_expert_counts(1)[2], 11 + 13);  // ranks 0 and 1
}

TEST_F(TraceImport, BadTablesNameFileLineAndColumn) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[[1.0, 2.5, 3.0]]\n", "line 1, column 8: the count 2.5 is not a whole number of tokens"},
      {"[[1, 2, 3], [4, 5]]\n", "line 1, column 18: a micro-batch of 2 counts where the first has 3"},
      {"[[1, 2, 3]\n", "line 1, column 11: a '[' that is never closed"},
      {"1, 2, 3\n", "line 1, column 1: expected the counts of each micro-batch as a bracketed list"},
      {"[[1, 2, 3]] tail\n", "line 1, column 13: unexpected text after the counts"},
      {"[[[1, 2, 3]]]\n", "line 1, column 3: lists nested deeper than micro-batches of experts"},
      {"[[1, 2, 3], 4]\n", "line 1, column 13: counts next to a list"},
      {"[[1, x, 3]]\n", "line 1, column 6: expected a count, got 'x'"},
      {"[[1, -2, 3]]\n", "the count -2 is outside 0 to 2^31"},
      {"[]\n", "line 1, column 2: an empty list"},
      {"[[1, 2, 3]]\n[[1, 2, 3], [0, 0, 0]]\n", "line 2: 2 micro-batches where line 1 has 1"},
      {"\n\n", "no counts: expected a line per MoE layer"},
  };
  for (const auto& [text, expected] : cases) {
    const std::string table = write("table_iter0_rank0.log", text);
    const std::string error = error_of([&] { write_imported_trace(read_count_tables({table}, kDefaultTablePattern), {}, path("out.h5")); });
    EXPECT_NE(error.find(expected), std::string::npos) << expected << " in: " << error;
    EXPECT_EQ(error.rfind(table, 0), 0u) << error;
  }
}

TEST_F(TraceImport, TablesMustCoverEveryRankAndIterationEvenly) {
  write_tables(dir_, {10, 20, 30}, 2);
  fs::remove(path("table_iter20_rank1.log"));
  const std::string dir = dir_.string();
  EXPECT_NE(error_of([&] { read_count_tables({dir}, kDefaultTablePattern); }).find("table_iter20_rank1.log: missing"), std::string::npos);
  write_tables(dir_, {20, 50}, 2);
  EXPECT_NE(error_of([&] {
              write_imported_trace(read_count_tables({dir}, kDefaultTablePattern), {}, path("out.h5"));
            }).find("records at training steps 30 and 50 break the spacing of 10 steps"),
            std::string::npos);
  fs::remove(path("table_iter50_rank0.log"));
  fs::remove(path("table_iter50_rank1.log"));
  // A rank whose layers disagree: the file and line are named.
  std::ofstream(path("table_iter20_rank1.log")) << "[[1, 1, 1]]\n[[1, 1, 2]]\n";
  EXPECT_NE(error_of([&] {
              write_imported_trace(read_count_tables({dir}, kDefaultTablePattern), {}, path("out.h5"));
            }).find("step 20, MoE layer 1, rank 1 (table_iter20_rank1.log: line 2) routes 4 assignments where MoE layer 0 routes 3"),
            std::string::npos);
  std::ofstream(path("table_iter20_rank1.log")) << "[[1, 1, 1]]\n";
  EXPECT_NE(error_of([&] { read_count_tables({dir}, kDefaultTablePattern); }).find("1 lines of counts where"), std::string::npos);
  EXPECT_NE(error_of([&] { read_count_tables({dir}, "table_{step}.log"); }).find("--pattern"), std::string::npos);
  // Two tiny tables whose names put a billion steps between them: refused before anything is written.
  const fs::path far = dir_ / "far";
  fs::create_directories(far);
  std::ofstream(far / "table_iter0_rank0.log") << "[[1]]\n";
  std::ofstream(far / "table_iter1000000000_rank0.log") << "[[1]]\n";
  EXPECT_NE(error_of([&] {
              write_imported_trace(read_count_tables({far.string()}, kDefaultTablePattern), {}, path("out.h5"));
            }).find("records 1000000000 training steps apart: expected at most 2^24"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_count_tables({path("other.log")}, kDefaultTablePattern); }).find("no such file"), std::string::npos);
  std::ofstream(path("other.log")) << "[[1]]\n";
  EXPECT_NE(error_of([&] { read_count_tables({path("other.log")}, kDefaultTablePattern); }).find("does not match --pattern"),
            std::string::npos);
}

}  // namespace
}  // namespace moesim::gating
