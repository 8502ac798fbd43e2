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

namespace {

// One all-to-all's load on every port: per participant, bytes to and from its own intra-node
// group, other groups of its node, and through its NIC. A step costs thousands of all-to-alls, so
// each thread keeps these buffers rather than allocating a dozen vectors per call.
class PortLoads {
 public:
  void reset(const hardware::ClusterSpec& c, std::span<const int> gpu) {
    const size_t n = gpu.size();
    node_.resize(n);
    group_.resize(n);
    nic_.resize(n);
    nics_.resize(n);
    // Each participant's NIC, numbered among the participants' NICs in increasing global order.
    for (size_t i = 0; i < n; ++i) {
      node_[i] = c.node_of(gpu[i]);
      group_[i] = c.intra_group_of(gpu[i]);
      nics_[i] = {node_[i] * c.nic.count + c.nic_of(gpu[i]), static_cast<int>(i)};
    }
    std::sort(nics_.begin(), nics_.end());
    int nic_count = 0;
    for (size_t k = 0; k < n; ++k) {
      if (k > 0 && nics_[k].first != nics_[k - 1].first) ++nic_count;
      nic_[nics_[k].second] = nic_count;
    }
    for (auto* v : {&same_send_, &same_recv_, &cross_send_, &cross_recv_, &nic_send_, &nic_recv_}) v->assign(n, 0.0);
    messages_.assign(n, 0);
    cost_ = AllToAllCost{};
    any_same_ = any_cross_ = any_inter_ = false;
  }

  void add(size_t s, size_t d, double b) {
    cost_.messages = std::max(cost_.messages, ++messages_[s]);
    if (node_[s] != node_[d]) {
      nic_send_[nic_[s]] += b;
      nic_recv_[nic_[d]] += b;
      cost_.inter_node += Bytes(b);
      any_inter_ = true;
    } else if (group_[s] == group_[d]) {
      same_send_[s] += b;
      same_recv_[d] += b;
      cost_.intra_node += Bytes(b);
      any_same_ = true;
    } else {
      cross_send_[s] += b;
      cross_recv_[d] += b;
      cost_.intra_node += Bytes(b);
      any_cross_ = true;
    }
  }

  // Every entry of `t` but the diagonal, as add() would add them one by one in row order. The sums
  // that one row adds to again and again run in registers: as members they would be stored and
  // reloaded at each addition (the compiler cannot tell them apart from the vectors' doubles), a
  // chain that set the pace of the whole loop. The order of additions, and so every bit, is add()'s.
  void add_matrix(const TrafficMatrix& t) {
    const size_t n = t.size();
    double inter = cost_.inter_node.count(), intra = cost_.intra_node.count();
    for (size_t s = 0; s < n; ++s) {
      double same = same_send_[s], cross = cross_send_[s], nic = nic_send_[nic_[s]];
      int messages = messages_[s];
      for (size_t d = 0; d < n; ++d) {
        const double b = t.at(s, d);
        if (s == d || !(b > 0)) continue;
        ++messages;
        if (node_[s] != node_[d]) {
          nic += b;
          nic_recv_[nic_[d]] += b;
          inter += b;
          any_inter_ = true;
        } else if (group_[s] == group_[d]) {
          same += b;
          same_recv_[d] += b;
          intra += b;
          any_same_ = true;
        } else {
          cross += b;
          cross_recv_[d] += b;
          intra += b;
          any_cross_ = true;
        }
      }
      same_send_[s] = same;
      cross_send_[s] = cross;
      nic_send_[nic_[s]] = nic;
      messages_[s] = messages;
      cost_.messages = std::max(cost_.messages, messages);
    }
    cost_.inter_node = Bytes(inter);
    cost_.intra_node = Bytes(intra);
  }

  // The busiest port's time, plus the latency of the farthest class of peer used.
  AllToAllCost finish(const AnalyticNetwork& net) const {
    const hardware::ClusterSpec& c = net.cluster;
    const double intra_bw = c.intra_node.link.effective().bytes_per_second();
    const double cross_bw = c.intra_node.cross_group_link.effective().bytes_per_second();
    const double nic_bw = c.nic.link.effective().bytes_per_second();
    double slowest = 0;  // seconds
    for (size_t i = 0; i < node_.size(); ++i) {
      slowest =
          std::max({slowest, same_send_[i] / intra_bw, same_recv_[i] / intra_bw, cross_send_[i] / cross_bw, cross_recv_[i] / cross_bw});
    }
    double nic_most = 0;
    for (size_t i = 0; i < nic_send_.size(); ++i) nic_most = std::max({nic_most, nic_send_[i], nic_recv_[i]});
    slowest = std::max(slowest, nic_most / nic_bw);
    Duration latency;
    if (any_same_) latency = Max(latency, net.intra_group_latency);
    if (any_cross_) latency = Max(latency, net.cross_group_latency);
    if (any_inter_) latency = Max(latency, net.inter_node_latency);
    AllToAllCost cost = cost_;
    cost.latency = latency;
    cost.time = Seconds(slowest) + latency;
    cost.nic_busy = Seconds(nic_most / nic_bw);
    return cost;
  }

 private:
  std::vector<int> node_, group_, nic_, messages_;
  std::vector<std::pair<int, int>> nics_;  // (global NIC id, participant)
  std::vector<double> same_send_, same_recv_, cross_send_, cross_recv_, nic_send_, nic_recv_;
  AllToAllCost cost_;
  bool any_same_ = false, any_cross_ = false, any_inter_ = false;
};

thread_local PortLoads port_loads;

}  // namespace

AllToAllCost all_to_all_time(const AnalyticNetwork& net, const TrafficMatrix& t) {
  port_loads.reset(net.cluster, t.gpus());
  port_loads.add_matrix(t);
  return port_loads.finish(net);
}

AllToAllCost transfers_time(const AnalyticNetwork& net, std::span<const int> gpu, std::span<const Transfer> transfers) {
  port_loads.reset(net.cluster, gpu);
  for (const Transfer& tr : transfers) {
    if (tr.src != tr.dst && tr.bytes > 0) port_loads.add(tr.src, tr.dst, tr.bytes);
  }
  return port_loads.finish(net);
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

// A ring's latency follows NCCL's own cost model (src/graph/tuning.cc, the ring case): of each
// pass's n - 1 steps, the nodes - 1 that cross to another node pay the network's latency and the
// others an intra-node hop's. The ring goes through each node's GPUs group by group, so a node
// whose participants sit in k intra-node groups (HCCS) has k - 1 steps across groups.
struct Ring {
  double bandwidth = 0;  // bytes per second
  Duration per_pass;     // latency of one pass round the ring
};

// Bytes through each GPU of a ring of n: each pass moves (n-1)/n of the buffer.
double ring_volume(size_t n, Bytes bytes, int passes) {
  return passes * static_cast<double>(n - 1) / static_cast<double>(n) * bytes.count();
}

Ring ring_over(const AnalyticNetwork& net, std::span<const int> gpus) {
  const hardware::ClusterSpec& c = net.cluster;
  std::map<int, int> per_node;  // node -> participants
  std::set<int> groups;
  for (int g : gpus) {
    ++per_node[c.node_of(g)];
    groups.insert(c.node_of(g) * 1'000'000 + c.intra_group_of(g));
  }
  const int64_t nodes = static_cast<int64_t>(per_node.size()), n = static_cast<int64_t>(gpus.size());
  const int64_t cross_steps = static_cast<int64_t>(groups.size()) - nodes, inter_steps = nodes - 1;
  const Duration per_pass =
      net.intra_group_latency * (n - nodes - cross_steps) + net.cross_group_latency * cross_steps + net.inter_node_latency * inter_steps;
  if (nodes == 1) {
    return {(cross_steps == 0 ? c.intra_node.link : c.intra_node.cross_group_link).effective().bytes_per_second(), per_pass};
  }
  const size_t rings = ring_count(c, gpus);
  int most_per_node = 0;
  for (const auto& [node, count] : per_node) most_per_node = std::max(most_per_node, count);
  // Inside a node the ring hops over the intra-node link (the cross-group one if it spans groups).
  const auto& hop = cross_steps > 0 ? c.intra_node.cross_group_link : c.intra_node.link;
  const double intra = most_per_node > 1 ? hop.effective().bytes_per_second() : std::numeric_limits<double>::infinity();
  return {std::min(intra, static_cast<double>(rings) * c.nic.link.effective().bytes_per_second()), per_pass};
}

}  // namespace

Duration ring_time(const AnalyticNetwork& net, std::span<const int> gpus, Bytes bytes, int passes) {
  const size_t n = gpus.size();
  if (n <= 1 || bytes.count() <= 0) return Duration();
  const Ring ring = ring_over(net, gpus);
  return Seconds(ring_volume(n, bytes, passes) / ring.bandwidth) + ring.per_pass * static_cast<int64_t>(passes);
}

Duration ring_nic_busy(const AnalyticNetwork& net, std::span<const int> gpus, Bytes bytes, int passes) {
  const hardware::ClusterSpec& c = net.cluster;
  const size_t n = gpus.size();
  const bool one_node = std::all_of(gpus.begin(), gpus.end(), [&](int g) { return c.node_of(g) == c.node_of(gpus.front()); });
  if (n <= 1 || bytes.count() <= 0 || one_node) return Duration();
  return Seconds(ring_volume(n, bytes, passes) / (static_cast<double>(ring_count(c, gpus)) * c.nic.link.effective().bytes_per_second()));
}

Duration ring_latency(const AnalyticNetwork& net, std::span<const int> gpus, int passes) {
  const size_t n = gpus.size();
  if (n <= 1) return Duration();
  return ring_over(net, gpus).per_pass * static_cast<int64_t>(passes);
}

std::optional<Duration> nvls_all_reduce_time(const AnalyticNetwork& net, std::span<const int> gpus, Bytes bytes) {
  const hardware::ClusterSpec& c = net.cluster;
  if (!c.intra_node.nvls || c.intra_node.nvls_efficiency <= 0 || gpus.size() <= 1 || bytes.count() <= 0) return std::nullopt;
  const int node = c.node_of(gpus.front()), group = c.intra_group_of(gpus.front());
  const auto on_the_switch = [&](int g) { return c.node_of(g) == node && c.intra_group_of(g) == group; };
  if (!std::all_of(gpus.begin(), gpus.end(), on_the_switch)) return std::nullopt;
  const double rate = c.intra_node.link.bandwidth.bytes_per_second() * c.intra_node.nvls_efficiency;
  return Seconds(bytes.count() / rate) + nvls_all_reduce_latency(net);
}

AllReduceChoice all_reduce_choice(const AnalyticNetwork& net, std::span<const int> gpus, Bytes bytes) {
  const Duration ring = ring_all_reduce_time(net, gpus, bytes);
  const auto nvls = nvls_all_reduce_time(net, gpus, bytes);
  return nvls && *nvls < ring ? AllReduceChoice{*nvls, true} : AllReduceChoice{ring, false};
}

}  // namespace moesim::network
