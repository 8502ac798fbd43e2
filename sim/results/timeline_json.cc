#include "sim/results/timeline_json.h"

#include <optional>

#include <nlohmann/json.hpp>

namespace moesim::results {
namespace {

using nlohmann::json;

double microseconds(Duration d) { return d.seconds() * 1e6; }

// Thread ids: the compute stream of GPU g is 2g, its communication stream 2g + 1, so that a GPU's
// two streams sit together.
int thread_id(int gpu, bool comm) { return 2 * gpu + (comm ? 1 : 0); }

json metadata(const char* name, int pid, std::optional<int> tid, json args) {
  json e = {{"name", name}, {"ph", "M"}, {"pid", pid}, {"args", std::move(args)}};
  if (tid) e["tid"] = *tid;
  return e;
}

}  // namespace

std::string timeline_json(const scenarios::Scenario& s, const RunResult& run) {
  json events = json::array();
  const int gpus = s.cluster.gpu_count();
  for (size_t p = 0; p < run.policies.size(); ++p) {
    const int pid = static_cast<int>(p);
    events.push_back(metadata("process_name", pid, std::nullopt, {{"name", run.policies[p].label}}));
    events.push_back(metadata("process_sort_index", pid, std::nullopt, {{"sort_index", pid}}));
    for (int g = 0; g < gpus; ++g) {
      for (bool comm : {false, true}) {
        const int tid = thread_id(g, comm);
        events.push_back(metadata("thread_name", pid, tid, {{"name", "GPU " + std::to_string(g) + (comm ? " comm" : " compute")}}));
        events.push_back(metadata("thread_sort_index", pid, tid, {{"sort_index", tid}}));
      }
    }
    for (const TimelineSpan& span : run.policies[p].timeline) {
      json args = {{"step", span.step}, {"layer", span.layer}, {"pass", span.backward ? "backward" : "forward"}};
      if (span.tokens > 0) args["tokens"] = span.tokens;
      if (span.bytes > 0) args["bytes"] = span.bytes;
      events.push_back({{"name", std::string(to_string(span.kind)) + (span.backward && span.kind != TaskKind::kOptimizer ? " bwd" : "")},
                        {"cat", span.comm ? "communication" : "compute"},
                        {"ph", "X"},
                        {"pid", pid},
                        {"tid", thread_id(span.gpu, span.comm)},
                        {"ts", microseconds(span.start)},
                        {"dur", microseconds(span.duration)},
                        {"args", std::move(args)}});
    }
  }
  const json doc = {{"traceEvents", std::move(events)},
                    {"displayTimeUnit", "ms"},
                    {"otherData", {{"generator", "moesim"}, {"scenario", s.name}, {"seed", s.seed}}}};
  return doc.dump() + "\n";
}

}  // namespace moesim::results
