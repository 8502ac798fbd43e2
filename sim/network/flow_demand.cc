#include "sim/network/flow_demand.h"

#include <algorithm>
#include <map>

#include "sim/network/analytic_network.h"

namespace moesim::network {
namespace {

// Collects the entries of `scratch` at `touched` (by link) into a demand and zeroes them.
FlowDemand compact(std::vector<double>& scratch, std::vector<hardware::LinkId>& touched) {
  std::sort(touched.begin(), touched.end());  // each link once: pushed when first touched
  FlowDemand d;
  d.links.reserve(touched.size());
  for (hardware::LinkId l : touched) {
    d.links.emplace_back(l, scratch[l]);
    scratch[l] = 0;
  }
  return d;
}

void add_hops(std::span<const hardware::RouteHop> route, double bytes, std::vector<double>& scratch,
              std::vector<hardware::LinkId>& touched) {
  for (const hardware::RouteHop& hop : route) {
    if (scratch[hop.link] == 0) touched.push_back(hop.link);
    scratch[hop.link] += bytes * hop.share;
  }
}

// A pair's bytes, where it sends any: a route carries only positive bytes.
inline double sent(std::span<const double> bytes, uint32_t pair) { return bytes[pair] > 0 ? bytes[pair] : 0.0; }

// The sum over `pairs` of sent() times `shares` (1 where empty), pair by pair in order.
double link_sum(std::span<const double> bytes, std::span<const uint32_t> pairs, std::span<const double> shares, size_t from, double sum) {
  if (shares.empty()) {
    for (size_t k = from; k < pairs.size(); ++k) sum += sent(bytes, pairs[k]);
  } else {
    for (size_t k = from; k < pairs.size(); ++k) sum += sent(bytes, pairs[k]) * shares[k];
  }
  return sum;
}

}  // namespace

FlowDemand route_traffic(hardware::Router& router, const TrafficMatrix& traffic, std::vector<double>& scratch) {
  const hardware::Router::Table& routes = router.table(traffic.gpus());
  const std::span<const double> bytes = traffic.bytes();
  const std::span<const hardware::LinkId> links = routes.links();
  // Each link's bytes added pair by pair in the order of the pairs, as routing pair after pair and
  // adding each route's bytes to its links gave; but four links at a time, so that four additions
  // are in flight, not one waiting on the last (links crossed by alike many pairs go together).
  std::vector<double>& sums = scratch;
  sums.assign(links.size(), 0.0);
  const std::span<const uint32_t> order = routes.links_by_pairs();
  size_t i = 0;
  for (; i + 4 <= order.size(); i += 4) {
    const uint32_t at[4] = {order[i], order[i + 1], order[i + 2], order[i + 3]};
    const std::span<const uint32_t> pairs[4] = {routes.pairs_across(at[0]), routes.pairs_across(at[1]), routes.pairs_across(at[2]),
                                                routes.pairs_across(at[3])};
    const size_t together = pairs[3].size();  // the shortest of the four
    double sum[4] = {0, 0, 0, 0};
    if (routes.shares_across(at[0]).empty()) {
      for (size_t k = 0; k < together; ++k) {
        for (int j = 0; j < 4; ++j) sum[j] += sent(bytes, pairs[j][k]);
      }
    } else {
      const std::span<const double> shares[4] = {routes.shares_across(at[0]), routes.shares_across(at[1]), routes.shares_across(at[2]),
                                                 routes.shares_across(at[3])};
      for (size_t k = 0; k < together; ++k) {
        for (int j = 0; j < 4; ++j) sum[j] += sent(bytes, pairs[j][k]) * shares[j][k];
      }
    }
    for (int j = 0; j < 4; ++j) sums[at[j]] = link_sum(bytes, pairs[j], routes.shares_across(at[j]), together, sum[j]);
  }
  for (; i < order.size(); ++i) sums[order[i]] = link_sum(bytes, routes.pairs_across(order[i]), routes.shares_across(order[i]), 0, 0.0);
  FlowDemand d;
  d.links.reserve(links.size());
  for (size_t l = 0; l < links.size(); ++l) {
    if (sums[l] > 0) d.links.emplace_back(links[l], sums[l]);
  }
  return d;
}

FlowDemand ring_demand(hardware::Router& router, const hardware::ClusterSpec& cluster, std::span<const int> gpus, Bytes bytes, int passes,
                       std::vector<double>& scratch) {
  scratch.resize(router.link_count(), 0.0);
  std::vector<hardware::LinkId> touched;
  const size_t n = gpus.size();
  if (n <= 1 || bytes.count() <= 0) return {};
  std::map<int, std::vector<int>> by_node;  // node -> its participants, in the order given
  for (int g : gpus) by_node[cluster.node_of(g)].push_back(g);
  const size_t rings = ring_count(cluster, gpus);
  const double per_hop = passes * static_cast<double>(n - 1) / static_cast<double>(n) * bytes.count() / static_cast<double>(rings);
  // Ring k enters each node at a different participant, so that rings leave nodes from different
  // GPUs (and so NICs).
  for (size_t k = 0; k < rings; ++k) {
    std::vector<int> order;
    size_t node_index = 0;
    for (const auto& [node, members] : by_node) {
      const size_t c = members.size();
      const size_t first = (k * c / rings + node_index++) % c;
      for (size_t i = 0; i < c; ++i) order.push_back(members[(first + i) % c]);
    }
    for (size_t i = 0; i < n; ++i) add_hops(router.route(order[i], order[(i + 1) % n]), per_hop, scratch, touched);
  }
  return compact(scratch, touched);
}

}  // namespace moesim::network
