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

}  // namespace

FlowDemand route_traffic(hardware::Router& router, const TrafficMatrix& traffic, std::vector<double>& scratch) {
  scratch.resize(router.link_count(), 0.0);
  std::vector<hardware::LinkId> touched;
  const hardware::Router::Table& routes = router.table(traffic.gpus());
  for (size_t s = 0; s < traffic.size(); ++s) {
    for (size_t d = 0; d < traffic.size(); ++d) {
      const double b = traffic.at(s, d);
      if (s != d && b > 0) add_hops(routes.route(s, d), b, scratch, touched);
    }
  }
  return compact(scratch, touched);
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
    : capacity_(std::move(capacity)), potential_(capacity_.size(), 0.0), residual_(capacity_.size(), 0.0), weight_(capacity_.size(), 0.0) {}

void FlowNetwork::reset() {
  demand_.clear();
  flows_.clear();
  now_ = SimTime::Zero();
  next_finish_.reset();
  std::fill(potential_.begin(), potential_.end(), 0.0);
}

void FlowNetwork::set_demand(engine::TaskId t, std::span<const FlowDemand> phases) {
  if (demand_.size() <= t) demand_.resize(t + 1);
  demand_[t] = phases;
}

bool FlowNetwork::next_phase(Flow& f) {
  for (; f.phase < f.phases.size(); ++f.phase) {
    f.busiest = 0;
    for (const auto& [link, bytes] : f.links()) f.busiest = std::max(f.busiest, bytes);
    if (f.busiest > 0) {
      f.remaining = 1;
      f.solo_level = std::numeric_limits<double>::infinity();
      for (const auto& [link, bytes] : f.links()) f.solo_level = std::min(f.solo_level, capacity_[link] * f.busiest / bytes);
      add_potential(f, 1);
      return true;
    }
  }
  f.remaining = 0;
  return false;
}

void FlowNetwork::add_potential(const Flow& f, double sign) {
  for (const auto& [link, bytes] : f.links()) potential_[link] += sign * f.solo_level * bytes / f.busiest;
}

void FlowNetwork::start(engine::TaskId t, SimTime now) {
  advance(now);
  Flow f{t, t < demand_.size() ? demand_[t] : std::span<const FlowDemand>()};
  next_phase(f);
  flows_.push_back(f);
  allocate();
}

std::optional<engine::TaskId> FlowNetwork::finish(SimTime now) {
  assert(next_finish_ && now == *next_finish_);
  advance(now);
  Flow& f = flows_[next_index_];
  // The phases of a collective follow each other without a gap; their latencies come as the
  // task's tail.
  if (f.phase < f.phases.size()) add_potential(f, -1);  // a flow that sends nothing has none
  ++f.phase;
  std::optional<engine::TaskId> done;
  if (!next_phase(f)) {
    done = f.task;
    flows_.erase(flows_.begin() + static_cast<std::ptrdiff_t>(next_index_));
  }
  allocate();
  return done;
}

void FlowNetwork::advance(SimTime now) {
  const double dt = (now - now_).seconds();
  if (dt > 0) {
    for (Flow& f : flows_) f.remaining = std::max(0.0, f.remaining - f.rate * dt);
  }
  now_ = now;
}

void FlowNetwork::allocate() {
  // Progressive filling on each flow's bandwidth at its busiest link: a flow at level x puts
  // x * bytes_l / busiest on link l.
  used_.clear();
  can_fill_.clear();
  can_fill_end_.assign(flows_.size(), 0);
  size_t unfrozen = 0;
  frozen_.assign(flows_.size(), 0);
  level_.assign(flows_.size(), 0.0);
  for (size_t i = 0; i < flows_.size(); ++i) {
    const Flow& f = flows_[i];
    if (f.remaining <= 0) {
      frozen_[i] = 1;
    } else {
      ++unfrozen;
      for (const auto& [link, bytes] : f.links()) {
        if (potential_[link] < capacity_[link] * kCanFill) continue;
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
    for (size_t i = 0; i < flows_.size(); ++i) {
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

  next_finish_.reset();
  for (size_t i = 0; i < flows_.size(); ++i) {
    Flow& f = flows_[i];
    f.rate = f.remaining > 0 ? level_[i] / f.busiest : 0;
    const SimTime done = f.remaining > 0 ? now_ + Seconds(f.remaining / f.rate) : now_;
    if (!next_finish_ || done < *next_finish_) {
      next_finish_ = done;
      next_index_ = i;
    }
  }
}

}  // namespace moesim::network
