#include "scenarios/loader/cluster_reader.h"

#include <algorithm>
#include <string>

#include "hardware/fabric.h"
#include "hardware/presets.h"
#include "sim/network/network_model.h"

namespace moesim::scenarios {
namespace {

void read_attention_curve(MapReader r, hardware::AttentionCurve& c) {
  c.efficiency = r.get_double("efficiency", c.efficiency, 0, 1);
  c.half_seq = r.get_double("half_seq", c.half_seq, 0, 1e9);
  c.half_head_dim = r.get_double("half_head_dim", c.half_head_dim, 0, 1e9);
  r.finish();
}

void read_attention(MapReader r, hardware::AttentionSpec& a) {
  read_attention_curve(r.child("forward"), a.forward);
  read_attention_curve(r.child("backward"), a.backward);
  read_attention_curve(r.child("unmasked_forward"), a.unmasked_forward);
  read_attention_curve(r.child("unmasked_backward"), a.unmasked_backward);
  r.finish();
}

void read_gpu(MapReader r, hardware::GpuSpec& g) {
  g.name = r.get_string("name", g.name);
  g.bf16_peak = r.get_flop_rate("bf16_peak", g.bf16_peak);
  g.fp8_peak = r.get_flop_rate("fp8_peak", g.fp8_peak, /*allow_zero=*/true);
  g.hbm_capacity = r.get_bytes("hbm_capacity", g.hbm_capacity);
  g.hbm_bandwidth = r.get_bandwidth("hbm_bandwidth", g.hbm_bandwidth);
  g.gemm_efficiency = r.get_double("gemm_efficiency", g.gemm_efficiency, 0, 1, false);
  g.gemm_half_rows = r.get_double("gemm_half_rows", g.gemm_half_rows, 0, 1e9);
  g.gemm_half_width = r.get_double("gemm_half_width", g.gemm_half_width, 0, 1e9);
  read_attention(r.child("attention"), g.attention);
  g.memory_efficiency = r.get_double("memory_efficiency", g.memory_efficiency, 0, 1, false);
  g.kernel_launch = r.get_duration("kernel_launch", g.kernel_launch);
  g.launch_hidden = r.get_bool("launch_hidden", g.launch_hidden);
  g.sms = static_cast<int>(r.get_int("sms", g.sms, 1, 1 << 16));
  g.comm_sm_bandwidth = r.get_bandwidth("comm_sm_bandwidth", g.comm_sm_bandwidth);
  g.comm_sm_bandwidth_intranode = r.get_bandwidth("comm_sm_bandwidth_intranode", g.comm_sm_bandwidth_intranode);
  r.finish();
}

}  // namespace

hardware::ClusterSpec read_cluster(MapReader r) {
  const auto presets = names_of(hardware::cluster_presets());
  const std::string preset = r.get_choice("preset", presets, std::nullopt);
  hardware::ClusterSpec c = *hardware::cluster_preset(preset);
  c.gpus_per_node = static_cast<int>(r.get_int("gpus_per_node", c.gpus_per_node, 1, 1024));
  // A planner may give the GPU count instead of (or as well as) the node count; validate() checks
  // that the two agree.
  c.gpus = r.get_int("gpus", 0, 1, 1 << 26);
  const int64_t default_nodes = c.gpus > 0 ? std::max<int64_t>(1, c.gpus / c.gpus_per_node) : c.nodes;
  c.nodes = static_cast<int>(r.get_int("nodes", default_nodes, 1, 1 << 20));
  read_gpu(r.child("gpu"), c.gpu);

  MapReader intra = r.child("intra_node");
  const std::string fabric = intra.get_choice("fabric", {"nvswitch", "pcie", "hccs"}, hardware::to_string(c.intra_node.fabric));
  c.intra_node.fabric = fabric == "nvswitch" ? hardware::IntraNodeFabric::kNvSwitch
                        : fabric == "pcie"   ? hardware::IntraNodeFabric::kPcie
                                             : hardware::IntraNodeFabric::kHccs;
  // NVSwitch joins all GPUs of a node unless told otherwise.
  const int default_group =
      c.intra_node.fabric == hardware::IntraNodeFabric::kNvSwitch ? c.gpus_per_node : std::min(c.intra_node.group_size, c.gpus_per_node);
  c.intra_node.group_size = static_cast<int>(intra.get_int("group_size", default_group, 1, 1024));
  c.intra_node.link.bandwidth = intra.get_bandwidth("bandwidth", c.intra_node.link.bandwidth);
  c.intra_node.link.efficiency = intra.get_double("efficiency", c.intra_node.link.efficiency, 0, 1, false);
  c.intra_node.link.latency = intra.get_duration("latency", c.intra_node.link.latency);
  c.intra_node.cross_group_link.bandwidth = intra.get_bandwidth("cross_group_bandwidth", c.intra_node.cross_group_link.bandwidth);
  c.intra_node.cross_group_link.efficiency =
      intra.get_double("cross_group_efficiency", c.intra_node.cross_group_link.efficiency, 0, 1, false);
  c.intra_node.cross_group_link.latency = intra.get_duration("cross_group_latency", c.intra_node.cross_group_link.latency);
  // Only NVSwitch reduces in the switch: another fabric on a Hopper preset leaves NVLS out.
  const double default_nvls = c.intra_node.fabric == hardware::IntraNodeFabric::kNvSwitch ? c.intra_node.nvls_efficiency : 0.0;
  c.intra_node.nvls_efficiency = intra.get_double("nvls_efficiency", default_nvls, 0, 1);
  c.intra_node.nvls = intra.get_bool("nvls", c.intra_node.nvls);
  intra.finish();

  MapReader nic = r.child("nic");
  c.nic.count = static_cast<int>(nic.get_int("count", c.nic.count, 1, 1024));
  c.nic.link.bandwidth = nic.get_bandwidth("bandwidth", c.nic.link.bandwidth);
  c.nic.link.efficiency = nic.get_double("efficiency", c.nic.link.efficiency, 0, 1, false);
  c.nic.link.latency = nic.get_duration("latency", c.nic.link.latency);
  nic.finish();

  MapReader fabric_r = r.child("fabric");
  c.fabric.kind = fabric_r.get_choice("kind", hardware::fabric_names(), c.fabric.kind);
  c.fabric.leaf_ports = static_cast<int>(fabric_r.get_int("leaf_ports", c.fabric.leaf_ports, 1, 1 << 20));
  c.fabric.oversubscription = fabric_r.get_double("oversubscription", c.fabric.oversubscription, 1, 1e6);
  // A spine per rail, or one per plane where every rail is a plane of its own.
  const int default_spines = hardware::default_spines(c);
  c.fabric.spines = static_cast<int>(fabric_r.get_int("spines", default_spines, 0, 1 << 16));
  c.fabric.switch_latency = fabric_r.get_duration("switch_latency", c.fabric.switch_latency);
  c.fabric.routing = fabric_r.get_choice("routing", {"ecmp", "adaptive"}, hardware::to_string(c.fabric.routing)) == "ecmp"
                         ? hardware::FabricRouting::kEcmp
                         : hardware::FabricRouting::kAdaptive;
  fabric_r.finish();

  MapReader network = r.child("network");
  c.network.model = network.get_choice("model", network::network_model_names(), c.network.model);
  const std::string a2a = network.get_choice("all_to_all", {"flat", "hierarchical", "pairwise"}, hardware::to_string(c.network.all_to_all));
  c.network.all_to_all = a2a == "flat"           ? hardware::AllToAllAlgorithm::kFlat
                         : a2a == "hierarchical" ? hardware::AllToAllAlgorithm::kHierarchical
                                                 : hardware::AllToAllAlgorithm::kPairwise;
  c.network.message_overhead = network.get_duration("message_overhead", c.network.message_overhead);
  c.network.share_nics = network.get_bool("share_nics", c.network.share_nics);
  network.finish();
  r.finish();
  return c;
}

// A preset or a Hugging Face config.json (relative to the scenario's file), then the keys given.

}  // namespace moesim::scenarios
