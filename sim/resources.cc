#include "sim/resources.h"

#include <algorithm>
#include <cstdio>

#include <unistd.h>

#include "hardware/topology.h"
#include "models/gating/source_registry.h"
#include "policies/placement/registry.h"
#include "sim/network/network_model.h"
#include "sim/runner.h"

namespace moesim {
namespace {

std::string times(std::initializer_list<std::pair<double, const char*>> factors) {
  std::string out;
  for (const auto& [n, name] : factors) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%.0f %s", out.empty() ? "" : " x ", n, name);
    out += buf;
  }
  return out;
}

bool has_oracle(const scenarios::Scenario& s) {
  return std::any_of(s.policies.begin(), s.policies.end(),
                     [](const scenarios::PolicySpec& p) { return policies::find_placement(p.placement_name())->reads_future; });
}

// As the run decides it (run_scenario): placement-aware routing, or per-token destinations a
// deduplicating dispatch needs.
bool routing_depends_on_placement(const scenarios::Scenario& s) {
  if (s.dispatch.dedup != scenarios::Dedup::kNone) return true;
  const gating::SourceEntry* source = gating::find_source(s.gating.source->name());
  return source && source->gate_scores && s.gating.routing &&
         s.gating.routing->make({gating_shape(s), s.model.capacity_factor})->placement_aware();
}

}  // namespace

MemoryLimit physical_memory_limit() {
  const double pages = static_cast<double>(::sysconf(_SC_PHYS_PAGES));
  const double page = static_cast<double>(::sysconf(_SC_PAGE_SIZE));
  return {pages > 0 && page > 0 ? pages * page : 1e18, "the machine's physical memory"};
}

std::vector<MemoryPart> estimate_run_memory(const scenarios::Scenario& s) {
  const double gpus = s.cluster.gpu_count(), ranks = s.parallelism.stage_gpus(), experts = s.model.experts;
  const double moe_layers = s.model.moe_layer_count(), layers = s.model.transformer_layers(), steps = s.steps;
  const double micro_batches = static_cast<double>(s.training.micro_batches(s.parallelism));
  const double policies = static_cast<double>(s.policies.size());
  // The oracle's coming steps: queued from the run's own source, or a second source run ahead.
  const int lookahead = has_oracle(s) ? run_lookahead(s) : 0;
  const bool shared = lookahead > 0 && shares_gating_source(s, lookahead, routing_depends_on_placement(s));
  const double sources = lookahead > 0 && !shared ? 2 : 1, matrices = sources + (shared ? std::min(lookahead, s.steps) : 0);
  std::vector<MemoryPart> parts;
  // Token counts and per-peer sends, and drops where capacity applies: int32 per (layer, rank, expert).
  const double per_entry = s.training.expert_execution == scenarios::ExpertExecution::kCapacity ? 12 : 8;
  parts.push_back({matrices * moe_layers * ranks * experts * per_entry,
                   "routing matrices, " + times({{matrices, "steps"}, {moe_layers, "MoE layers"}, {ranks, "ranks"}, {experts, "experts"}}),
                   shared ? "policies (the oracle's horizon)" : "cluster.nodes"});
  // Each policy's step model: rows per (GPU of a stage, expert) of every MoE layer, and the task
  // graph at its largest, every GPU simulated: about 12 tasks per layer, micro-batch and pass on
  // each GPU of its stage, 64 bytes each with their schedule.
  parts.push_back({policies * (ranks * moe_layers * experts * 8 + gpus / s.parallelism.pp * layers * micro_batches * 24 * 64),
                   "step model, " + times({{policies, "policies"}, {gpus, "GPUs"}, {layers, "layers"}, {micro_batches, "micro-batches"}}),
                   micro_batches > 1 ? "training.micro_batch" : "cluster.nodes"});
  // Per step and policy: each GPU's busy time, and the expert loads.
  parts.push_back({policies * steps * (gpus * 8 + moe_layers * experts * 4),
                   "per-step results, " + times({{policies, "policies"}, {steps, "steps"}, {gpus, "GPUs"}}), "steps"});
  if (const auto source = s.gating.source->memory(source_context(s), sources)) parts.push_back({source->bytes, source->what, source->key});
  // The topology graph: a vertex per GPU, NIC and switch, about 256 bytes per link.
  const hardware::FabricLayout fabric = hardware::fabric_layout(s.cluster);
  const double uplinks = static_cast<double>(fabric.uplinks);
  parts.push_back({256 * (gpus * 4 + uplinks),
                   "topology, " + times({{gpus, "GPUs"}, {static_cast<double>(fabric.spines), "spines"}, {uplinks, "leaf-spine links"}}),
                   uplinks > gpus * 4 ? "cluster.fabric.spines" : "cluster.nodes"});
  const int peers = s.parallelism.ep * s.parallelism.etp;
  if (const double routes = network::find_network_model(s.cluster.network.model)->memory(s.cluster, peers); routes > 0) {
    parts.push_back({routes, s.cluster.network.model + " model routes, " + times({{gpus, "GPUs"}, {static_cast<double>(peers), "peers"}}),
                     "cluster.network.model"});
  }
  std::sort(parts.begin(), parts.end(), [](const MemoryPart& a, const MemoryPart& b) { return a.bytes > b.bytes; });
  return parts;
}

double total_bytes(const std::vector<MemoryPart>& parts) {
  double sum = 0;
  for (const auto& p : parts) sum += p.bytes;
  return sum;
}

void require_memory(const std::vector<MemoryPart>& parts, int copies, const MemoryLimit& limit, const std::string& subject) {
  const double need = total_bytes(parts) * copies;
  if (need <= limit.bytes || parts.empty()) return;
  const MemoryPart& largest = parts.front();
  throw ResourceError(subject + " needs about " + format_bytes(need) + " of memory" +
                      (copies > 1 ? " (" + std::to_string(copies) + " runs at once)" : std::string()) + ", more than the " +
                      format_bytes(limit.bytes) + " of " + limit.source + "; most of it is the " + largest.what + ", " +
                      format_bytes(largest.bytes) + " (driven by `" + largest.key + "`)");
}

std::string format_bytes(double bytes) {
  static const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  int u = 0;
  while (bytes >= 1000 && u < 6) {
    bytes /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, bytes >= 100 || u == 0 ? "%.0f %s" : bytes >= 10 ? "%.1f %s" : "%.2f %s", bytes, units[u]);
  return buf;
}

}  // namespace moesim
