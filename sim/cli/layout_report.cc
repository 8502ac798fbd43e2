#include "sim/cli/layout_report.h"

#include <algorithm>
#include <cstdio>

#include "sim/step/memory_model.h"
#include "sim/step/parallel_layout.h"
#include "sim/step/pipeline_layout.h"
#include "sim/step/schedule.h"

namespace moesim::cli {
namespace {

std::string format(const char* f, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, f, args...);
  return buf;
}

// "0-31", "0, 16", "0, 2, 4, ... 30" or "5": a group's GPUs, and the nodes they span.
std::string gpus(const scenarios::Scenario& s, const std::vector<int>& group) {
  std::string list;
  const bool consecutive = group.back() - group.front() + 1 == static_cast<int>(group.size());
  if (group.size() == 1) {
    list = std::to_string(group[0]);
  } else if (consecutive) {
    list = format("%d-%d", group.front(), group.back());
  } else {
    // All of a short group; the first three and the last of a longer one.
    const size_t shown = group.size() <= 4 ? group.size() - 1 : 3;
    for (size_t i = 0; i < shown; ++i) list += std::to_string(group[i]) + ", ";
    list += (group.size() > 4 ? "... " : "") + std::to_string(group.back());
  }
  const int first = s.cluster.node_of(group.front()), last = s.cluster.node_of(group.back());
  const std::string nodes = first == last ? format("node %d", first) : format("nodes %d-%d", first, last);
  return list + format(" (%zu GPU%s, %s)", group.size(), group.size() == 1 ? "" : "s", nodes.c_str());
}

std::string gb(double bytes) { return format("%.1f GB", bytes / 1e9); }

// A memory term's name in a column of 12.
std::string short_name(const std::string& what) {
  if (what == "optimizer state") return "optimizer";
  if (what == "all-to-all buffers") return "a2a buffers";
  if (what == "embedding gradient") return "embed. grad";
  return what;
}

// Every term any stage has, each after the terms that come before it in a stage that has it.
std::vector<std::string> term_columns(const GpuMemory& memory) {
  std::vector<std::string> columns;
  for (const StageMemory& stage : memory.stages) {
    auto next = columns.begin();
    for (const MemoryTerm& t : stage.terms) {
      const auto found = std::find(columns.begin(), columns.end(), t.what);
      next = found != columns.end() ? found + 1 : columns.insert(next, t.what) + 1;
    }
  }
  return columns;
}

}  // namespace

std::string layout_report(const scenarios::Scenario& s, const std::string& prefix) {
  const auto& p = s.parallelism;
  const ParallelLayout layout(p);
  const std::string stages = p.pp == 1 ? "one pipeline stage" : format("each of PP %d pipeline stages (VP %d)", p.pp, p.vp);
  std::string out = prefix + format("parallel layout: TP %d x CP %d x DP %d in %s, Megatron's order (tp innermost, then cp, dp, pp)\n",
                                    p.tp, p.cp, p.dp, stages.c_str());
  if (p.ep_layout == EpLayout::kPacked) {
    out += prefix + format("  MoE layers fold onto each stage's %d GPUs as ETP %d x EP %d x expert-DP %d\n", p.stage_gpus(), p.etp, p.ep,
                           p.expert_dp());
  } else {
    out += prefix + format("  MoE layers fold onto each stage's %d GPUs as ETP %d x expert-DP %d x EP %d (ep_layout spread)\n",
                           p.stage_gpus(), p.etp, p.expert_dp(), p.ep);
  }
  for (int stage = 0; stage < p.pp; ++stage) {
    if (stage == 3 && p.pp > 5) {
      out += prefix + format("  ... stages 3-%d alike\n", p.pp - 2);
      stage = p.pp - 1;
    }
    std::vector<int> all(p.stage_gpus());
    for (int i = 0; i < p.stage_gpus(); ++i) all[i] = layout.gpu(stage, i);
    out += prefix + format("  stage %-3d GPUs %s\n", stage, gpus(s, all).c_str());
  }
  if (p.pp > 1) {
    const int count = virtual_stages(s.training.schedule, p.pp, p.vp).count();
    const std::string split = format_pipeline_layout(layout_of_split(stage_layers(s.model, p, count), s.model.layers));
    out +=
        prefix + "  layers over the " + std::to_string(count) + " virtual stages: " + split +
        (p.pipeline_layout.empty() ? " (the even split; parallelism.pipeline_layout sets another)\n" : " (parallelism.pipeline_layout)\n");
  }
  out += prefix + "  groups of GPU 0:\n";
  out += prefix + "    tensor parallel   " + gpus(s, layout.tp_group(0)) + "\n";
  if (p.cp > 1) out += prefix + "    context parallel  " + gpus(s, layout.cp_group(0)) + "\n";
  out += prefix + "    data parallel     " + gpus(s, layout.dense_dp_group(0)) + "\n";
  out += prefix + "    expert parallel   " + gpus(s, layout.ep_group(0, 0)) + "\n";
  out += prefix + "    expert-data-par.  " + gpus(s, layout.expert_dp_group(0, 0)) + "\n";
  if (p.pp > 1) out += prefix + format("    next stage        GPU %d (node %d)\n", layout.gpu(1, 0), s.cluster.node_of(layout.gpu(1, 0)));
  if (virtual_stages(s.training.schedule, p.pp, p.vp).bidirectional) {
    const int mirror = layout.gpu(p.pp - 1, 0);
    out += prefix + format("    mirror (DualPipe) GPU %d (node %d): holds the other copy of its layers; they sum their gradients\n", mirror,
                           s.cluster.node_of(mirror));
  }
  return out;
}

std::string memory_report(const scenarios::Scenario& s, const std::string& prefix) {
  const GpuMemory memory = gpu_memory(step_config(s));
  std::string out = prefix + format("memory per GPU and stage (of %s), with the first policy's expert slots:\n",
                                    gb(s.cluster.gpu.hbm_capacity.count()).c_str());
  std::string header = prefix + "  stage  in flight";
  const std::vector<std::string> columns = term_columns(memory);
  for (const std::string& what : columns) header += format("  %12s", short_name(what).c_str());
  out += header + format("  %12s\n", "total");
  for (const StageMemory& stage : memory.stages) {
    std::string line = prefix + format("  %-5d  %9d", stage.stage, stage.in_flight);
    for (const std::string& what : columns) {
      const auto it = std::find_if(stage.terms.begin(), stage.terms.end(), [&](const MemoryTerm& m) { return m.what == what; });
      line += format("  %12s", it == stage.terms.end() ? "-" : gb(it->bytes).c_str());
    }
    out += line + format("  %12s%s\n", gb(stage.total()).c_str(), &stage == &memory.peak() ? "  peak" : "");
  }
  return out;
}

}  // namespace moesim::cli
