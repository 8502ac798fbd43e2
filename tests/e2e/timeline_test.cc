// moesim run --timeline: Chrome trace events that Perfetto opens, one track per GPU stream.
#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <map>
#include <set>

#include "tests/e2e/cli.h"

namespace moesim::e2e {
namespace {

using nlohmann::json;

TEST_F(Cli, TimelineIsTraceEventsThatNeverOverlapOnATrack) {
  const Result r = moesim("run " + quickstart() + " --steps 3 --timeline-steps 1:2 -q --out " + dir_.string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("timeline.json"), std::string::npos) << r.out;
  const json doc = json::parse(slurp(dir_ / "timeline.json"));  // throws, failing the test, if it does not parse
  ASSERT_TRUE(doc.at("traceEvents").is_array());

  std::set<std::string> names, policies;
  std::set<int> steps;
  std::map<std::pair<int, int>, std::vector<std::pair<double, double>>> tracks;  // (pid, tid) -> (start, end)
  for (const json& e : doc["traceEvents"]) {
    if (e.at("ph") == "M") {
      if (e.at("name") == "process_name") policies.insert(e.at("args").at("name").get<std::string>());
      continue;
    }
    ASSERT_EQ(e.at("ph"), "X");
    const double ts = e.at("ts").get<double>(), dur = e.at("dur").get<double>();
    EXPECT_GE(dur, 0.0);
    tracks[{e.at("pid").get<int>(), e.at("tid").get<int>()}].emplace_back(ts, ts + dur);
    names.insert(e.at("name").get<std::string>());
    steps.insert(e.at("args").at("step").get<int>());
    EXPECT_TRUE(e.at("args").contains("layer"));
  }
  EXPECT_EQ(policies.size(), 7u);  // the quickstart's policies
  EXPECT_EQ(steps, (std::set<int>{1, 2}));
  for (const char* kind : {"attention", "gate", "dispatch", "experts", "combine", "LM head", "experts bwd", "dispatch bwd",
                           "dense grad all-reduce bwd", "optimizer"}) {
    EXPECT_TRUE(names.count(kind)) << kind;
  }
  EXPECT_EQ(tracks.size(), 7u * 32 * 3);  // every policy, every GPU, compute and both communication streams
  for (auto& [track, spans] : tracks) {
    std::sort(spans.begin(), spans.end());
    for (size_t i = 1; i < spans.size(); ++i) {
      // Microseconds printed to double precision: allow a picosecond of rounding.
      ASSERT_LE(spans[i - 1].second, spans[i].first + 1e-6) << "pid " << track.first << " tid " << track.second << " span " << i;
    }
  }
}

// Weight gradients run apart from their backward: under the overlap with Megatron's delayed
// weight gradients, and under DualPipeV's zero-bubble weight passes; they take the compute track
// like any kernel, never beside another.
TEST_F(Cli, TimelineShowsWeightGradientsRunApart) {
  const fs::path scenario = dir_ / "pipelined.yaml";
  std::ofstream(scenario) << "cluster: {preset: h100-dgx, nodes: 2}\nmodel: {preset: qwen3-30b-a3b, layers: 4}\n"
                             "parallelism: {pp: 2, vp: 2, ep: 8}\ntraining: {global_batch: 32, micro_batch: 1, seq_len: 1024}\n"
                             "gating: {source: balanced}\n";
  for (const std::string schedule : {"overlap --set training.delay_wgrad=true", "dualpipev"}) {
    SCOPED_TRACE(schedule);
    const fs::path out = dir_ / (schedule.substr(0, 7));
    const Result r = moesim("run " + scenario.string() + " --steps 1 --timeline -q --out " + out.string() + " --set schedule=" + schedule);
    ASSERT_EQ(r.status, 0) << r.err;
    const json doc = json::parse(slurp(out / "timeline.json"));
    int weight_grads = 0;
    std::map<std::pair<int, int>, std::vector<std::pair<double, double>>> tracks;
    for (const json& e : doc.at("traceEvents")) {
      if (e.at("ph") != "X") continue;
      const double ts = e.at("ts").get<double>();
      tracks[{e.at("pid").get<int>(), e.at("tid").get<int>()}].emplace_back(ts, ts + e.at("dur").get<double>());
      weight_grads += e.at("name") == "weight grad bwd";
    }
    EXPECT_GT(weight_grads, 0);
    for (auto& [track, spans] : tracks) {
      std::sort(spans.begin(), spans.end());
      for (size_t i = 1; i < spans.size(); ++i) EXPECT_LE(spans[i - 1].second, spans[i].first + 1e-6);
    }
  }
}

TEST_F(Cli, PlainTimelineIsTheLastStep) {
  const Result r = moesim("run --timeline " + quickstart() + " --steps 2 -q --out " + dir_.string());
  ASSERT_EQ(r.status, 0) << r.err;
  std::set<int> steps;
  const json doc = json::parse(slurp(dir_ / "timeline.json"));
  for (const json& e : doc.at("traceEvents")) {
    if (e.at("ph") == "X") steps.insert(e.at("args").at("step").get<int>());
  }
  EXPECT_EQ(steps, std::set<int>{1});
}

TEST_F(Cli, TimelineStepsOutsideTheRunExitTwo) {
  for (const std::string steps : {"3", "2:1", "x", "1:", "last"}) {
    const Result r = moesim("run " + quickstart() + " --steps 3 --timeline-steps " + steps + " -q --out " + (dir_ / "out").string());
    EXPECT_EQ(r.status, 2) << steps;
    EXPECT_NE(r.err.find("--timeline-steps " + steps), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "out")) << steps;  // checked before anything is written
  }
}

// The timeline is streamed: recording every step of a run takes no more memory than recording
// a few (it used to buffer the JSON, gigabytes for the quickstart's 300 steps).
TEST_F(Cli, TimelineMemoryDoesNotGrowWithTheStepsRecorded) {
#ifdef MOESIM_SANITIZED
  GTEST_SKIP() << "under a sanitizer the peak grows with its shadow memory (and AddressSanitizer's quarantine), not the program's";
#endif
  const fs::path tiny = write("tiny.yaml", kTinyScenario);
  const auto peak_of = [&](const std::string& steps) {
    const pid_t pid =
        spawn({"run", tiny.string(), "-q", "--set", "steps=400", "--timeline-steps", steps, "--out", (dir_ / steps).string()});
    int status = 0;
    struct rusage usage {};
    ::wait4(pid, &status, 0, &usage);
    EXPECT_EQ(WEXITSTATUS(status), 0) << steps;
    return static_cast<double>(usage.ru_maxrss) * 1024;
  };
  const double few = peak_of("0:3"), all = peak_of("0:399");
  EXPECT_GT(fs::file_size(dir_ / "0:399" / "timeline.json"), 50 * fs::file_size(dir_ / "0:3" / "timeline.json"));
  EXPECT_LT(all, few + 8e6) << "peak RSS " << few << " B for 4 steps, " << all << " B for 400";
  EXPECT_TRUE(json::parse(slurp(dir_ / "0:399" / "timeline.json"))["traceEvents"].is_array());  // still one valid document
}

}  // namespace
}  // namespace moesim::e2e
