#include "sim/network/flow_network.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
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

// A link counts as one that can fill from this share of its capacity on: far below what rounding
// leaves (below 1e-12 of capacity is full), so that no link that fills is left out.
constexpr double kCanFill = 1 - 1e-6;

FlowNetwork::FlowNetwork(std::vector<double> capacity)
    : capacity_(std::move(capacity)),
      on_link_(capacity_.size()),
      potential_(capacity_.size(), 0.0),
      residual_(capacity_.size(), 0.0),
      weight_(capacity_.size(), 0.0) {}

void FlowNetwork::reset() {
  demand_.clear();
  flows_.clear();
  free_.clear();
  active_.clear();
  for (auto& flows : on_link_) flows.clear();
  started_ = 0;
  now_ = SimTime::Zero();
  next_finish_.reset();
  std::fill(potential_.begin(), potential_.end(), 0.0);
}

void FlowNetwork::set_demand(engine::TaskId t, std::span<const FlowDemand> phases) {
  if (demand_.size() <= t) demand_.resize(t + 1);
  demand_[t] = phases;
}

bool FlowNetwork::can_fill(hardware::LinkId l) const { return potential_[l] >= capacity_[l] * kCanFill; }

bool FlowNetwork::next_phase(Slot slot) {
  Flow& f = flows_[slot];
  for (; f.phase < f.phases.size(); ++f.phase) {
    f.busiest = 0;
    for (const auto& [link, bytes] : f.links()) f.busiest = std::max(f.busiest, bytes);
    if (f.busiest > 0) {
      f.remaining = 1;
      f.solo_level = std::numeric_limits<double>::infinity();
      for (const auto& [link, bytes] : f.links()) f.solo_level = std::min(f.solo_level, capacity_[link] * f.busiest / bytes);
      enter_phase(slot, 1);
      return true;
    }
  }
  f.remaining = 0;
  return false;
}

void FlowNetwork::enter_phase(Slot slot, double sign) {
  const Flow& f = flows_[slot];
  for (const auto& [link, bytes] : f.links()) {
    potential_[link] += sign * f.solo_level * bytes / f.busiest;
    auto& flows = on_link_[link];
    if (sign > 0) {
      flows.push_back(slot);
    } else {
      *std::find(flows.begin(), flows.end(), slot) = flows.back();
      flows.pop_back();
    }
  }
}

void FlowNetwork::seed_from(Slot slot) {
  const Flow& f = flows_[slot];
  if (f.phase >= f.phases.size()) return;
  for (const auto& [link, bytes] : f.links()) seeds_.insert(seeds_.end(), on_link_[link].begin(), on_link_[link].end());
}

void FlowNetwork::start(engine::TaskId t, SimTime now) {
  advance(now);
  Slot slot;
  if (free_.empty()) {
    slot = static_cast<Slot>(flows_.size());
    flows_.emplace_back();
  } else {
    slot = free_.back();
    free_.pop_back();
  }
  flows_[slot] = Flow{t, t < demand_.size() ? demand_[t] : std::span<const FlowDemand>(), started_++};
  active_.push_back(slot);
  seeds_.assign(1, slot);
  if (next_phase(slot)) seed_from(slot);
  reallocate();
}

std::optional<engine::TaskId> FlowNetwork::finish(SimTime now) {
  assert(next_finish_ && now == *next_finish_);
  advance(now);
  const Slot slot = next_;
  Flow& f = flows_[slot];
  seeds_.clear();
  // The phases of a collective follow each other without a gap; their latencies come as the
  // task's tail.
  if (f.phase < f.phases.size()) {  // a flow that sends nothing has no links
    seed_from(slot);
    enter_phase(slot, -1);
  }
  ++f.phase;
  std::optional<engine::TaskId> done;
  if (next_phase(slot)) {
    seed_from(slot);
  } else {
    done = f.task;
    active_.erase(std::find(active_.begin(), active_.end(), slot));
    free_.push_back(slot);
  }
  // A flow still sending is on its own links, so among the seeds; a finished one must not be.
  if (done) std::erase(seeds_, slot);
  reallocate();
  return done;
}

void FlowNetwork::advance(SimTime now) {
  const double dt = (now - now_).seconds();
  if (dt > 0) {
    for (Slot slot : active_) flows_[slot].remaining = std::max(0.0, flows_[slot].remaining - flows_[slot].rate * dt);
  }
  now_ = now;
}

void FlowNetwork::reallocate() {
  // The group: every flow reachable from the seeds over links that can fill (the seeds' own
  // links changed potential, so the flows on them are seeds whatever their links now are).
  seen_.resize(flows_.size(), 0);
  ++epoch_;
  group_.clear();
  auto visit = [&](Slot slot) {
    if (seen_[slot] == epoch_) return;
    seen_[slot] = epoch_;
    group_.push_back(slot);
  };
  for (Slot slot : seeds_) visit(slot);
  for (size_t i = 0; i < group_.size(); ++i) {
    const Flow& f = flows_[group_[i]];
    if (f.remaining <= 0) continue;
    for (const auto& [link, bytes] : f.links()) {
      if (!can_fill(link)) continue;
      for (Slot other : on_link_[link]) visit(other);
    }
  }
  std::sort(group_.begin(), group_.end(), [&](Slot a, Slot b) { return flows_[a].started < flows_[b].started; });
  fill(group_);

  next_finish_.reset();
  for (Slot slot : active_) {
    const Flow& f = flows_[slot];
    const SimTime done = f.remaining > 0 ? now_ + Seconds(f.remaining / f.rate) : now_;
    if (!next_finish_ || done < *next_finish_) {
      next_finish_ = done;
      next_ = slot;
    }
  }
}

void FlowNetwork::fill(std::span<const Slot> group) {
  // Progressive filling on each flow's bandwidth at its busiest link: a flow at level x puts
  // x * bytes_l / busiest on link l.
  used_.clear();
  can_fill_.clear();
  can_fill_end_.assign(group.size(), 0);
  size_t unfrozen = 0;
  frozen_.assign(group.size(), 0);
  level_.assign(group.size(), 0.0);
  for (size_t i = 0; i < group.size(); ++i) {
    const Flow& f = flows_[group[i]];
    if (f.remaining <= 0) {
      frozen_[i] = 1;
    } else {
      ++unfrozen;
      for (const auto& [link, bytes] : f.links()) {
        if (!can_fill(link)) continue;
        if (weight_[link] == 0) {
          used_.push_back(link);
          residual_[link] = capacity_[link];
        }
        weight_[link] += bytes / f.busiest;
        can_fill_.emplace_back(link, bytes / f.busiest);
      }
    }
    can_fill_end_[i] = can_fill_.size();
  }
  const auto links_that_can_fill = [&](size_t i) {
    return std::span(can_fill_).subspan(i == 0 ? 0 : can_fill_end_[i - 1], can_fill_end_[i] - (i == 0 ? 0 : can_fill_end_[i - 1]));
  };
  while (unfrozen > 0) {
    double step = std::numeric_limits<double>::infinity();
    for (hardware::LinkId l : used_) {
      if (weight_[l] > 1e-12) step = std::min(step, residual_[l] / weight_[l]);
    }
    assert(std::isfinite(step));
    for (hardware::LinkId l : used_) residual_[l] -= step * weight_[l];
    for (size_t i = 0; i < group.size(); ++i) {
      if (frozen_[i]) continue;
      level_[i] += step;
      bool full = false;
      for (const auto& [link, weight] : links_that_can_fill(i)) full |= residual_[link] <= capacity_[link] * 1e-12;
      if (!full) continue;
      frozen_[i] = 1;
      --unfrozen;
      for (const auto& [link, weight] : links_that_can_fill(i)) weight_[link] -= weight;
    }
  }
  for (hardware::LinkId l : used_) weight_[l] = 0;
  for (size_t i = 0; i < group.size(); ++i) {
    Flow& f = flows_[group[i]];
    f.rate = f.remaining > 0 ? level_[i] / f.busiest : 0;
  }
}

}  // namespace moesim::network
