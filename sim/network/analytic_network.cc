#include "sim/network/analytic_network.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

namespace moesim::network {

AnalyticNetwork make_analytic_network(const hardware::ClusterSpec& c) {
  const hardware::Topology topo = hardware::build_topology(c);
  AnalyticNetwork net{c, c.intra_node.link.latency, c.intra_node.link.latency, Duration()};
  const auto lat = [&](int a, int b) { return hardware::path_latency(topo, a, b).value_or(Duration()); };
  if (c.gpus_per_node > 1) net.intra_group_latency = lat(0, 1);
  if (c.gpus_per_node > c.intra_node.group_size) net.cross_group_latency = lat(0, c.intra_node.group_size);
  // The farthest node from node 0 (another pod, if there are several).
  if (c.nodes > 1) net.inter_node_latency = lat(0, (c.nodes - 1) * c.gpus_per_node);
  return net;
}

AllToAllCost all_to_all_time(const AnalyticNetwork& net, const TrafficMatrix& t) {
  std::vector<Transfer> transfers;
  for (size_t s = 0; s < t.size(); ++s) {
    for (size_t d = 0; d < t.size(); ++d) {
      if (s != d && t.at(s, d) > 0) transfers.push_back({static_cast<uint32_t>(s), static_cast<uint32_t>(d), t.at(s, d)});
    }
  }
  return transfers_time(net, t.gpus(), transfers);
}

AllToAllCost transfers_time(const AnalyticNetwork& net, std::span<const int> gpu, std::span<const Transfer> transfers) {
  const hardware::ClusterSpec& c = net.cluster;
  const size_t n = gpu.size();
  AllToAllCost cost;
  // Per participant: its node, intra-node group and NIC (numbered among the participants' NICs,
  // in increasing global order), worked out once rather than per transfer.
  std::vector<int> node(n), group(n), nic(n);
  std::vector<std::pair<int, int>> nics(n);  // (global NIC id, participant)
  for (size_t i = 0; i < n; ++i) {
    node[i] = c.node_of(gpu[i]);
    group[i] = c.intra_group_of(gpu[i]);
    nics[i] = {node[i] * c.nic.count + c.nic_of(gpu[i]), static_cast<int>(i)};
  }
  std::sort(nics.begin(), nics.end());
  int nic_count = 0;
  for (size_t k = 0; k < n; ++k) {
    if (k > 0 && nics[k].first != nics[k - 1].first) ++nic_count;
    nic[nics[k].second] = nic_count;
  }
  // Per participant: bytes to / from the same intra-node group and other groups of the node.
  std::vector<double> same_send(n, 0), same_recv(n, 0), cross_send(n, 0), cross_recv(n, 0);
  std::vector<int> messages(n, 0);
  std::vector<double> nic_send(n, 0.0), nic_recv(n, 0.0);  // by the participants' NIC numbers
  bool any_same = false, any_cross = false, any_inter = false;
  for (const Transfer& tr : transfers) {
    const size_t s = tr.src, d = tr.dst;
    const double b = tr.bytes;
    if (s == d || b <= 0) continue;
    cost.messages = std::max(cost.messages, ++messages[s]);
    if (node[s] != node[d]) {
      nic_send[nic[s]] += b;
      nic_recv[nic[d]] += b;
      cost.inter_node += Bytes(b);
      any_inter = true;
    } else if (group[s] == group[d]) {
      same_send[s] += b;
      same_recv[d] += b;
      cost.intra_node += Bytes(b);
      any_same = true;
    } else {
      cross_send[s] += b;
      cross_recv[d] += b;
      cost.intra_node += Bytes(b);
      any_cross = true;
    }
  }
  const double intra_bw = c.intra_node.link.effective().bytes_per_second();
  const double cross_bw = c.intra_node.cross_group_link.effective().bytes_per_second();
  const double nic_bw = c.nic.link.effective().bytes_per_second();
  double slowest = 0;  // seconds
  for (size_t i = 0; i < n; ++i) {
    slowest = std::max({slowest, same_send[i] / intra_bw, same_recv[i] / intra_bw, cross_send[i] / cross_bw, cross_recv[i] / cross_bw});
  }
  for (size_t i = 0; i < nic_send.size(); ++i) slowest = std::max({slowest, nic_send[i] / nic_bw, nic_recv[i] / nic_bw});
  Duration latency;
  if (any_same) latency = Max(latency, net.intra_group_latency);
  if (any_cross) latency = Max(latency, net.cross_group_latency);
  if (any_inter) latency = Max(latency, net.inter_node_latency);
  cost.latency = latency;
  cost.time = Seconds(slowest) + latency;
  return cost;
}

size_t ring_count(const hardware::ClusterSpec& c, std::span<const int> gpus) {
  std::map<int, std::set<int>> nics_in_use;  // node -> NICs of participants
  for (int g : gpus) nics_in_use[c.node_of(g)].insert(c.nic_of(g));
  if (nics_in_use.size() <= 1) return 1;
  size_t rings = SIZE_MAX;
  for (const auto& [node, nics] : nics_in_use) rings = std::min(rings, nics.size());
  return rings;
}

namespace {

struct Ring {
  double bandwidth = 0;  // bytes per second
  Duration alpha;        // per hop
};

Ring ring_over(const AnalyticNetwork& net, std::span<const int> gpus) {
  const hardware::ClusterSpec& c = net.cluster;
  std::map<int, int> per_node;  // node -> participants
  std::set<int> groups;
  for (int g : gpus) {
    ++per_node[c.node_of(g)];
    groups.insert(c.node_of(g) * 1'000'000 + c.intra_group_of(g));
  }
  if (per_node.size() == 1) {
    const bool one_group = groups.size() == 1;
    return {(one_group ? c.intra_node.link : c.intra_node.cross_group_link).effective().bytes_per_second(),
            one_group ? net.intra_group_latency : net.cross_group_latency};
  }
  const size_t rings = ring_count(c, gpus);
  int most_per_node = 0;
  for (const auto& [node, count] : per_node) most_per_node = std::max(most_per_node, count);
  // Inside a node the ring hops over the intra-node link (the cross-group one if it spans groups).
  const auto& hop = groups.size() > per_node.size() ? c.intra_node.cross_group_link : c.intra_node.link;
  const double intra = most_per_node > 1 ? hop.effective().bytes_per_second() : std::numeric_limits<double>::infinity();
  return {std::min(intra, static_cast<double>(rings) * c.nic.link.effective().bytes_per_second()), net.inter_node_latency};
}

}  // namespace

Duration ring_time(const AnalyticNetwork& net, std::span<const int> gpus, Bytes bytes, int passes) {
  const size_t n = gpus.size();
  if (n <= 1 || bytes.count() <= 0) return Duration();
  const Ring ring = ring_over(net, gpus);
  const double volume = passes * static_cast<double>(n - 1) / static_cast<double>(n) * bytes.count();
  return Seconds(volume / ring.bandwidth) + ring.alpha * static_cast<int64_t>(passes * (n - 1));
}

Duration ring_latency(const AnalyticNetwork& net, std::span<const int> gpus, int passes) {
  const size_t n = gpus.size();
  if (n <= 1) return Duration();
  return ring_over(net, gpus).alpha * static_cast<int64_t>(passes * (n - 1));
}

}  // namespace moesim::network
