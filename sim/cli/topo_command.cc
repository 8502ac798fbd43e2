#include "sim/cli/topo_command.h"

#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>

#include "hardware/fabric.h"
#include "hardware/topology.h"
#include "scenarios/loader/loader.h"
#include "sim/cli/layout_report.h"
#include "sim/cli/scenario_args.h"
#include "sim/cli/usage_error.h"
#include "sim/files/output_file.h"

namespace po = boost::program_options;

namespace moesim::cli {
namespace {

std::string us(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f us", d.seconds() * 1e6);
  return buf;
}

std::string gb_per_s(Bandwidth b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GB/s", b.bytes_per_second() / 1e9);
  return buf;
}

}  // namespace

int cmd_topo(const std::vector<std::string>& args) {
  po::options_description o("moesim topo options");
  o.add_options()("help,h", "show this help")("dot", po::value<std::string>()->value_name("FILE"),
                                              "also write the topology graph as Graphviz DOT (render: dot -Tsvg FILE)");
  o.add(scenario_options());
  bool help = false;
  const auto vm = parse(args, o, "usage: moesim topo SCENARIO [--set key.path=value]... [--dot FILE]", help);
  if (help) return 0;
  const ScenarioArgs a = scenario_args(vm, "topo");
  const scenarios::Scenario s = scenarios::load_scenario_file(a.path, a.overrides);
  if (vm.count("dot")) require_output_file("--dot", vm["dot"].as<std::string>(), files::Target::kStream, {a.path});
  const hardware::ClusterSpec& c = s.cluster;
  const hardware::Topology topology = hardware::build_topology(c);
  const hardware::TopologySummary t = hardware::summarize(topology);

  if (vm.count("dot")) {
    const std::string path = vm["dot"].as<std::string>();
    std::ostringstream dot;
    hardware::write_dot(topology, dot);
    try {
      files::write_file_atomically(path, dot.str(), files::Target::kStream);
    } catch (const files::FileError& e) {
      throw OptionError(std::string("--dot: ") + e.what());
    }
  }
  std::printf("topology of %s: %d x %s, %d GPUs\n", s.name.c_str(), c.nodes, c.preset.c_str(), c.gpu_count());
  std::printf("  fabric        %s, %d node-facing ports per leaf, %d spine%s%s, oversubscription %g:1\n", c.fabric.kind.c_str(),
              c.fabric.leaf_ports, c.fabric.spines, c.fabric.spines == 1 ? "" : "s",
              hardware::fabric_of(c).plane_per_rail ? " per plane" : "", c.fabric.oversubscription);
  // The PCIe switches that join a node's groups (HCCS), where it has several.
  const std::string between_groups = t.pcie_switches > 0 ? ", " + std::to_string(t.pcie_switches) + " PCIe between groups" : "";
  std::printf("  switches      %d intra-node (%s)%s, %d leaves, %d spines\n", t.intra_switches, hardware::to_string(c.intra_node.fabric),
              between_groups.c_str(), t.leaves, t.spines);
  std::printf("  endpoints     %d GPUs, %d NICs of %s\n", t.gpus, t.nics, gb_per_s(c.nic.link.bandwidth).c_str());
  std::printf("  links         %d\n", t.links);
  if (c.gpu_count() > 1) {
    const int half = c.gpu_count() / 2;
    std::printf("  bisection     %s per direction at line rate (GPUs 0-%d | %d-%d)\n",
                gb_per_s(hardware::bisection_bandwidth(topology)).c_str(), half - 1, half, c.gpu_count() - 1);
    std::printf("  latency       %s to a GPU of the same node", us(*hardware::path_latency(topology, 0, 1 % c.gpus_per_node)).c_str());
    if (c.nodes > 1) std::printf(", %s to the last node", us(*hardware::path_latency(topology, 0, c.gpu_count() - 1)).c_str());
    std::printf("\n");
  }
  std::printf("  network       %s model, %s all-to-all%s%s\n", c.network.model.c_str(), hardware::to_string(c.network.all_to_all),
              c.network.share_nics ? "" : ", each collective priced alone (NICs not shared)",
              c.intra_node.nvls ? ", NVLink SHARP all-reduce within a node where it beats the ring" : "");
  std::fputs(layout_report(s, "  ").c_str(), stdout);
  if (vm.count("dot")) std::printf("wrote %s\n", vm["dot"].as<std::string>().c_str());
  return 0;
}

}  // namespace moesim::cli
