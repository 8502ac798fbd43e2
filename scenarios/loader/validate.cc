#include "scenarios/loader/validate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "hardware/fabric.h"
#include "hardware/topology.h"
#include "models/gating/capacity.h"
#include "models/gating/routing/routing_rule.h"
#include "models/gating/source_registry.h"
#include "policies/placement/registry.h"
#include "sim/base/params.h"
#include "sim/network/network_model.h"
#include "sim/step/dispatcher.h"
#include "sim/step/parallel_layout.h"

namespace moesim::scenarios {
namespace {

std::string str(int64_t v) { return std::to_string(v); }

void validate_fabric(const hardware::ClusterSpec& cl, const Checker& c) {
  const auto& f = cl.fabric;
  const hardware::FabricEntry& kind = hardware::fabric_of(cl);
  c.require(!kind.top_of_rack || f.leaf_ports >= cl.nic.count, "cluster.fabric.leaf_ports",
            "expected at least nic.count (" + str(cl.nic.count) + ") ports, so that a node's NICs fit on its top-of-rack leaf, got " +
                str(f.leaf_ports));
  c.require(!network::find_network_model(cl.network.model)->shares_links || cl.network.all_to_all != hardware::AllToAllAlgorithm::kPairwise,
            "cluster.network.all_to_all",
            "expected flat or hierarchical with network.model " + cl.network.model +
                " (pairwise runs n-1 rounds, which only the analytic "
                "model costs), got pairwise");
  c.require(!network::find_network_model(cl.network.model)->shares_links || cl.network.share_nics, "cluster.network.share_nics",
            "expected true with network.model " + cl.network.model + ", which shares every link, NICs included, got false");
  // Counted, not built: the topology of a scenario too large to run must not be allocated here.
  const hardware::FabricLayout layout = hardware::fabric_layout(cl);
  c.require(layout.connected, "cluster.fabric.spines",
            "expected a connected topology, but its " + str(layout.leaves) + " leaf switches are joined by " + str(layout.spines) +
                " spines (" + str(f.spines) + " per " + (kind.plane_per_rail ? "plane" : "fabric") + "), so some GPUs cannot reach others");
}

void validate_routing(const Scenario& s, const Checker& c) {
  const auto& routing = *s.gating.routing;
  const auto& m = s.model;
  const std::string mode(routing.name());
  const gating::SourceEntry& source = *gating::find_source(s.gating.source->name());
  const std::string source_name(source.name);
  if (source.replays) {
    c.require(
        mode == "topk", "gating.routing",
        "expected topk with gating.source " + source_name +
            " (it sets each token's experts itself: a trace replays what it recorded, a workload draws them by its definition), got " +
            mode);
  }
  if (!source.gate_scores && !source.replays) {
    std::string gateless, per_token;
    for (const gating::RoutingEntry* entry : gating::routing_entries()) {
      std::string& list = entry->per_token ? per_token : gateless;
      list += (list.empty() ? "" : " or ") + std::string(entry->name);
    }
    c.require(!gating::find_routing(mode)->per_token, "gating.routing",
              "expected " + gateless + " with gating.source " + source_name + " (" + per_token +
                  " act on per-token gate scores, which only gating.source learned has), got " + mode);
  }
  const int64_t capacity = gating::expert_capacity(m.capacity_factor, s.training.tokens_per_rank(s.parallelism), 1, m.experts);
  const gating::RoutingFacts facts{m.top_k, m.experts, m.hidden, m.capacity_factor, capacity, s.steps};
  if (const auto problem = routing.check(facts)) c.require(false, problem->key, problem->message);
}

// Spare slots and replicas.
void validate_policies(const Scenario& s, const Checker& c) {
  const auto& m = s.model;
  const int ep = s.parallelism.ep;
  const int ranks_per_node = ParallelLayout(s.parallelism).ep_ranks_per_node(s.cluster.gpus_per_node);
  for (size_t i = 0; i < s.policies.size(); ++i) {
    const PolicySpec& p = s.policies[i];
    const std::string key = "policies." + std::to_string(i) + ".";
    const policies::PlacementFacts facts{ep, ranks_per_node, m.experts, m.top_k, p.spare_slots, to_string(s.dispatch.dedup)};
    if (const auto problem = p.placement->check(facts)) c.require(false, key + problem->key, problem->message);
    for (size_t j = 0; j < i; ++j) {
      c.require(s.policies[j].label != p.label, key + "label",
                "'" + p.label + "' is also policies." + std::to_string(j) +
                    "'s label: labels name the rows of every table and file, so each policy needs its own");
    }
  }
}

}  // namespace

void validate_cluster(const hardware::ClusterSpec& cl, const Checker& c) {
  const int gpus = cl.gpu_count();
  c.require(cl.gpus == 0 || cl.gpus == gpus, "cluster.gpus",
            "expected nodes x gpus_per_node = " + str(cl.nodes) + " x " + str(cl.gpus_per_node) + " = " + str(gpus) +
                " (the topology's GPU count), got " + str(cl.gpus));
  c.require(cl.gpus_per_node % cl.intra_node.group_size == 0, "cluster.intra_node.group_size",
            "expected a divisor of gpus_per_node (" + str(cl.gpus_per_node) + "), got " + str(cl.intra_node.group_size));
  c.require(cl.intra_node.nvls_efficiency == 0 || cl.intra_node.fabric == hardware::IntraNodeFabric::kNvSwitch,
            "cluster.intra_node.nvls_efficiency",
            std::string("expected 0 on a ") + hardware::to_string(cl.intra_node.fabric) +
                " fabric (only NVSwitch reduces in the switch), got " + params::format_number(cl.intra_node.nvls_efficiency));
  c.require(!cl.intra_node.nvls || cl.intra_node.nvls_efficiency > 0, "cluster.intra_node.nvls",
            std::string("expected false: this cluster's intra-node fabric (") + hardware::to_string(cl.intra_node.fabric) +
                ", nvls_efficiency 0) has no NVLink SHARP, got true");
  c.require(cl.nic.count <= cl.gpus_per_node && cl.gpus_per_node % cl.nic.count == 0, "cluster.nic.count",
            "expected a divisor of gpus_per_node (" + str(cl.gpus_per_node) + "), got " + str(cl.nic.count));
  validate_fabric(cl, c);
}

void validate(const Scenario& s, const SourceMap& sources) {
  const Checker c(sources);
  const auto& cl = s.cluster;
  const auto& m = s.model;
  const auto& p = s.parallelism;
  validate_cluster(cl, c);

  c.require(m.first_moe_layer < m.layers, "model.first_moe_layer",
            "expected a layer index below layers (" + str(m.layers) + "), got " + str(m.first_moe_layer));
  c.require(m.head_dim > 0 || m.attention == models::Attention::kMla || m.hidden % m.heads == 0, "model.heads",
            "expected a divisor of hidden (" + str(m.hidden) + ") when model.head_dim is 0, got " + str(m.heads));
  c.require(!m.qk_norm || m.attention != models::Attention::kMla, "model.qk_norm",
            "expected false with model.attention mla (MLA norms its latents, not each head's query and key), got true");
  c.require(m.heads % m.kv_heads == 0, "model.kv_heads", "expected a divisor of heads (" + str(m.heads) + "), got " + str(m.kv_heads));
  c.require(m.top_k <= m.experts, "model.top_k", "expected at most the number of experts (" + str(m.experts) + "), got " + str(m.top_k));
  c.require(m.experts % m.expert_groups == 0, "model.expert_groups",
            "expected a divisor of model.experts (" + str(m.experts) + "), got " + str(m.expert_groups));
  c.require(m.topk_groups <= m.expert_groups, "model.topk_groups",
            "expected at most model.expert_groups (" + str(m.expert_groups) + "), got " + str(m.topk_groups));
  c.require(static_cast<int64_t>(m.topk_groups) * (m.experts / m.expert_groups) >= m.top_k, "model.topk_groups",
            "expected groups that hold top_k (" + str(m.top_k) + ") experts: topk_groups x experts / expert_groups = " +
                str(static_cast<int64_t>(m.topk_groups) * (m.experts / m.expert_groups)) + ", got topk_groups " + str(m.topk_groups));
  c.require(m.dtype != models::Dtype::kFp8 || cl.gpu.fp8_peak.per_second() > 0, "model.dtype",
            "fp8 needs a GPU with FP8 tensor cores, but cluster.gpu.fp8_peak of " + cl.gpu.name + " is 0");

  validate_parallelism(s, c);
  validate_routing(s, c);
  validate_policies(s, c);
  const gating::SourceContext context{
      {m.moe_layer_count(), p.stage_gpus(), m.experts, m.top_k, s.training.tokens_per_rank(p), m.expert_groups, m.topk_groups},
      s.seed,
      s.steps,
      s.gating.routing,
      m.capacity_factor};
  if (const auto problem = s.gating.source->check(context)) c.require(false, "gating." + problem->key, problem->message);
  if (s.dispatch.dedup != Dedup::kNone) {
    // Name the key the scenario set: the kernel where it fixes the deduplication.
    const bool by_kernel = find_dispatcher(s.dispatch.kernel)->dedup.has_value();
    const std::string key = by_kernel ? "dispatch.kernel" : "dispatch.dedup";
    const std::string got = by_kernel ? "got " + s.dispatch.kernel + " (" + to_string(s.dispatch.dedup) + " deduplication)"
                                      : std::string("got ") + to_string(s.dispatch.dedup);
    // What to write instead: no deduplication, or a kernel that does none.
    std::string instead = "none";
    if (by_kernel) {
      std::string kernels;
      for (const DispatcherEntry* d : dispatcher_entries()) {
        if (d->dedup.value_or(Dedup::kNone) == Dedup::kNone) kernels += (kernels.empty() ? "" : " | ") + std::string(d->name);
      }
      instead = "a kernel that does not deduplicate (" + kernels + ")";
    }
    c.require(s.training.expert_execution == ExpertExecution::kDropless, key,
              "expected " + instead + " with training.expert_execution capacity (padded buffers move full capacity), " + got);
    const gating::SourceEntry& source = *gating::find_source(s.gating.source->name());
    c.require(m.top_k == 1 || source.token_destinations, key,
              "expected " + instead + " with gating.source " + std::string(source.name) +
                  ": deduplicating needs to know which experts each token chose together, which only the sources that route "
                  "tokens (learned, balanced) track (or top_k 1), " +
                  got);
    // Node deduplication forwards inside the destination node itself (DeepEP): 2DH's NVLink phase
    // on top of it would forward twice.
    c.require(
        s.dispatch.dedup != Dedup::kNode || s.cluster.network.all_to_all != hardware::AllToAllAlgorithm::kHierarchical,
        "cluster.network.all_to_all",
        "expected flat with dispatch.kernel " + s.dispatch.kernel + " (its NVLink forwarding already is the hierarchy), got hierarchical");
  }
  c.require(s.training.tokens_per_rank(p) * m.top_k < (int64_t{1} << 31), "training.tokens_per_step",
            "expected at most 2^31 token assignments per GPU per layer, got " + str(s.training.tokens_per_rank(p) * m.top_k));
}

}  // namespace moesim::scenarios
