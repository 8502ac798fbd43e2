#include "results/timeline_json.h"

#include <optional>

#include <nlohmann/json.hpp>

#include <sys/statvfs.h>

#include "sim/files/output_file.h"
#include "sim/resources.h"

namespace moesim::results {
namespace {

using nlohmann::json;

double microseconds(Duration d) { return d.seconds() * 1e6; }

// Thread ids: GPU g's streams are 3g (compute), 3g + 1 (communication) and 3g + 2 (the
// data-parallel groups' communication), so that a GPU's streams sit together.
constexpr LaneStream kStreams[] = {LaneStream::kCompute, LaneStream::kComm, LaneStream::kDataParallel};
constexpr const char* kStreamNames[] = {" compute", " comm", " data-parallel comm"};
int thread_id(int gpu, LaneStream stream) { return kStreamsPerLane * gpu + static_cast<int>(stream); }

json metadata(const char* name, int pid, std::optional<int> tid, json args) {
  json e = {{"name", name}, {"ph", "M"}, {"pid", pid}, {"args", std::move(args)}};
  if (tid) e["tid"] = *tid;
  return e;
}

}  // namespace

TimelineWriter::TimelineWriter(const std::string& path, const scenarios::Scenario& s, int steps)
    : path_(path),
      out_(path, std::ios::binary | std::ios::trunc),
      scenario_name_(s.name),
      seed_(s.seed),
      steps_to_record_(static_cast<int64_t>(steps) * static_cast<int64_t>(s.policies.size())) {
  if (!out_) throw files::FileError("cannot write '" + path + "'");
  out_ << "{\"traceEvents\":[";
  const int gpus = s.cluster.gpu_count();
  for (size_t p = 0; p < s.policies.size(); ++p) {
    const int pid = static_cast<int>(p);
    event(metadata("process_name", pid, std::nullopt, {{"name", s.policies[p].label}}).dump());
    event(metadata("process_sort_index", pid, std::nullopt, {{"sort_index", pid}}).dump());
    for (int g = 0; g < gpus; ++g) {
      for (LaneStream stream : kStreams) {
        const int tid = thread_id(g, stream);
        const std::string stage = s.parallelism.pp > 1 ? " (stage " + std::to_string(g / s.parallelism.stage_gpus()) + ")" : "";
        const char* name = kStreamNames[static_cast<int>(stream)];
        event(metadata("thread_name", pid, tid, {{"name", "GPU " + std::to_string(g) + stage + name}}).dump());
        event(metadata("thread_sort_index", pid, tid, {{"sort_index", tid}}).dump());
      }
    }
  }
}

void TimelineWriter::event(const std::string& text) {
  if (!first_) out_ << ',';
  first_ = false;
  out_ << text;
}

void TimelineWriter::add(int policy, const std::vector<TimelineSpan>& spans) {
  const std::streamoff before = out_.tellp();
  for (const TimelineSpan& span : spans) {
    json args = {{"step", span.step},
                 {"layer", span.layer},
                 {"micro_batch", span.micro_batch},
                 {"stage", span.stage},
                 {"pass", span.backward ? "backward" : "forward"}};
    if (span.tokens > 0) args["tokens"] = span.tokens;
    if (span.bytes > 0) args["bytes"] = span.bytes;
    event(json{{"name", std::string(to_string(span.kind)) + (span.backward && span.kind != TaskKind::kOptimizer ? " bwd" : "")},
               {"cat", span.stream == LaneStream::kCompute ? "compute" : "communication"},
               {"ph", "X"},
               {"pid", policy},
               {"tid", thread_id(span.gpu, span.stream)},
               {"ts", microseconds(span.start)},
               {"dur", microseconds(span.duration)},
               {"args", std::move(args)}}
              .dump());
  }
  if (!out_) throw files::FileError("cannot write '" + path_ + "'");
  if (added_++ == 0) {
    const double need = static_cast<double>(out_.tellp() - before) * static_cast<double>(steps_to_record_);
    struct statvfs fs {};
    if (::statvfs(path_.c_str(), &fs) == 0) {
      const double free_bytes = static_cast<double>(fs.f_bavail) * static_cast<double>(fs.f_frsize);
      if (need > free_bytes) {
        throw files::FileError("the timeline of " + std::to_string(steps_to_record_) + " policy-steps needs about " + format_bytes(need) +
                               " and its file system has " + format_bytes(free_bytes) + " free: record fewer steps (--timeline-steps)");
      }
    }
  }
}

void TimelineWriter::finish() {
  const json other = {{"generator", "moesim"}, {"scenario", scenario_name_}, {"seed", seed_}};
  out_ << "],\"displayTimeUnit\":\"ms\",\"otherData\":" << other.dump() << "}\n";
  out_.close();
  if (!out_) throw files::FileError("cannot write '" + path_ + "'");
}

}  // namespace moesim::results
