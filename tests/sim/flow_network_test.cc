// The flow-level network against hand-computed cases, against the analytic model where that is
// exact, and where it is not (oversubscribed fabrics, collectives that overlap).
#include "sim/network/flow_network.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>

#include "hardware/presets.h"
#include "models/gating/routing_matrix.h"
#include "policies/placement/static_placement.h"
#include "scenarios/loader/loader.h"
#include "sim/base/random.h"
#include "sim/network/analytic_network.h"
#include "sim/runner.h"
#include "sim/step/step_simulator.h"
#include "tests/sim/uniform_traffic.h"

namespace moesim::network {
namespace {

using engine::ResourceId;
using engine::TaskId;

hardware::ClusterSpec h100(int nodes) {
  hardware::ClusterSpec c = *hardware::cluster_preset("h100-dgx");
  c.nodes = nodes;
  return c;
}

// Two nodes per top-of-rack leaf (16 NIC ports), bytes spread over every uplink.
hardware::ClusterSpec fat_tree(int nodes, double oversubscription) {
  hardware::ClusterSpec c = h100(nodes);
  c.fabric.kind = "fat_tree";
  c.fabric.leaf_ports = 16;
  c.fabric.oversubscription = oversubscription;
  c.fabric.routing = hardware::FabricRouting::kAdaptive;
  return c;
}

// Runs each traffic matrix as one shared task (all starting at zero, each on its own resource)
// through the engine with the flow network; returns when each finished its transfer.
std::vector<Duration> run_flows(const hardware::ClusterSpec& c, const std::vector<TrafficMatrix>& traffic) {
  const hardware::Topology topology = hardware::build_topology(c);
  hardware::Router router(topology, c.fabric.routing);
  std::vector<double> capacity(router.link_count()), scratch;
  for (hardware::LinkId l = 0; l < capacity.size(); ++l) capacity[l] = router.capacity(l);
  FlowNetwork net(capacity);
  std::vector<FlowDemand> demands;
  for (const auto& t : traffic) demands.push_back(route_traffic(router, t, scratch));
  engine::TaskGraph graph(static_cast<uint32_t>(traffic.size()));
  for (size_t i = 0; i < traffic.size(); ++i) {
    const TaskId t = graph.add_shared_task(Duration(), std::array<ResourceId, 1>{static_cast<ResourceId>(i)});
    net.set_demand(t, std::span<const FlowDemand>(&demands[i], 1));
  }
  engine::TaskGraphExecutor executor;
  engine::Schedule schedule;
  executor.execute(graph, schedule, &net);
  std::vector<Duration> out;
  for (const auto& task : schedule.tasks) out.push_back(task.end.since_start());
  return out;
}

TEST(FlowNetwork, FlowsOnOneLinkShareItAndSpeedUpWhenOneEnds) {
  // One link of 10 bytes/us: flows of 10 and 30 bytes start together. Both get 5 bytes/us until
  // the small one ends at 2 us; the large one then has 20 left at the full rate: done at 4 us.
  FlowNetwork net({10e6});
  const FlowDemand small{{{0, 10}}}, large{{{0, 30}}};
  net.set_demand(0, std::span<const FlowDemand>(&small, 1));
  net.set_demand(1, std::span<const FlowDemand>(&large, 1));
  net.start(0, SimTime::Zero());
  net.start(1, SimTime::Zero());
  ASSERT_TRUE(net.next_finish());
  EXPECT_EQ(net.next_finish()->since_start(), Microseconds(2));
  EXPECT_EQ(net.finish(*net.next_finish()), std::optional<TaskId>(0));
  EXPECT_EQ(net.next_finish()->since_start(), Microseconds(4));
  EXPECT_EQ(net.finish(*net.next_finish()), std::optional<TaskId>(1));
  EXPECT_FALSE(net.next_finish());
}

TEST(FlowNetwork, PhasesRunOneAfterTheOther) {
  // Phase one: 10 bytes on link 0; phase two: 20 bytes on link 1 (both 10 bytes/us).
  FlowNetwork net({10e6, 10e6});
  const std::vector<FlowDemand> phases{{{{0, 10}}}, {{{1, 20}}}};
  net.set_demand(0, phases);
  net.start(0, SimTime::Zero());
  EXPECT_EQ(net.next_finish()->since_start(), Microseconds(1));
  EXPECT_EQ(net.finish(*net.next_finish()), std::nullopt);  // on to phase two
  EXPECT_EQ(net.next_finish()->since_start(), Microseconds(3));
  EXPECT_EQ(net.finish(*net.next_finish()), std::optional<TaskId>(0));
}

TEST(FlowNetwork, MaxMinFairnessGivesTheUnconstrainedFlowTheRest) {
  // Links 0 (10/us) and 1 (4/us). Flow a uses both, flow b only link 0. Link 1 caps a at 4/us,
  // so b gets the remaining 6/us of link 0 (max-min fair, not an equal split).
  FlowNetwork net({10e6, 4e6});
  const FlowDemand a{{{0, 40}, {1, 40}}}, b{{{0, 60}}};
  net.set_demand(0, std::span<const FlowDemand>(&a, 1));
  net.set_demand(1, std::span<const FlowDemand>(&b, 1));
  net.start(0, SimTime::Zero());
  net.start(1, SimTime::Zero());
  EXPECT_EQ(net.next_finish()->since_start(), Microseconds(10));  // both: 40 / 4 = 60 / 6 = 10 us
}

// Link 0 (10/us) is shared by flows a and b, each also on a link of its own. Where their own links
// cap them below 10/us together, link 0 cannot fill and each runs at its own cap; where they could
// fill it, it is split between them. A flow that sends nothing finishes at once beside them.
TEST(FlowNetwork, ASharedLinkFillsOnlyWhereTheFlowsCanFillIt) {
  for (const double own_cap : {4e6, 6e6}) {
    SCOPED_TRACE(own_cap);
    FlowNetwork net({10e6, own_cap, own_cap});
    const FlowDemand a{{{0, 60}, {1, 60}}}, b{{{0, 60}, {2, 60}}}, nothing{};
    net.set_demand(0, std::span<const FlowDemand>(&a, 1));
    net.set_demand(1, std::span<const FlowDemand>(&b, 1));
    net.set_demand(2, std::span<const FlowDemand>(&nothing, 1));
    net.start(0, SimTime::Zero());
    net.start(1, SimTime::Zero());
    net.start(2, SimTime::Zero());
    EXPECT_EQ(net.finish(*net.next_finish()), std::optional<TaskId>(2));
    EXPECT_EQ(net.next_finish()->since_start(), Microseconds(own_cap < 5e6 ? 15 : 12));  // 60 / 4, or 60 / 5
    net.finish(*net.next_finish());
    EXPECT_EQ(net.next_finish()->since_start(), Microseconds(own_cap < 5e6 ? 15 : 12));
  }
}

// Max-min fair rates over every current flow, by progressive filling of every link (what the
// network computes for only the flows a start or an end can affect).
void reference_rates(const std::vector<const FlowDemand*>& flows, const std::vector<double>& remaining, const std::vector<double>& capacity,
                     std::vector<double>& rate) {
  const size_t n = flows.size();
  std::vector<double> residual = capacity, level(n, 0.0), busiest(n, 0.0);
  std::vector<bool> frozen(n);
  size_t unfrozen = 0;
  for (size_t i = 0; i < n; ++i) {
    for (const auto& [link, bytes] : flows[i]->links) busiest[i] = std::max(busiest[i], bytes);
    frozen[i] = remaining[i] <= 0;
    unfrozen += !frozen[i];
  }
  while (unfrozen > 0) {
    std::vector<double> weight(capacity.size(), 0.0);
    for (size_t i = 0; i < n; ++i)
      for (const auto& [link, bytes] : flows[i]->links) weight[link] += frozen[i] ? 0.0 : bytes / busiest[i];
    double step = std::numeric_limits<double>::infinity();
    for (size_t l = 0; l < capacity.size(); ++l)
      if (weight[l] > 0) step = std::min(step, residual[l] / weight[l]);
    for (size_t l = 0; l < capacity.size(); ++l) residual[l] -= step * weight[l];
    for (size_t i = 0; i < n; ++i) {
      if (frozen[i]) continue;
      level[i] += step;
      for (const auto& [link, bytes] : flows[i]->links) frozen[i] = frozen[i] || residual[link] <= capacity[link] * 1e-9;
      unfrozen -= frozen[i];
    }
  }
  rate.resize(n);
  for (size_t i = 0; i < n; ++i) rate[i] = remaining[i] > 0 ? level[i] / busiest[i] : 0.0;
}

// Flows in neighbourhoods of 4 links, each on 1 to 3 links of one and now and then one of
// another, starting over 30 us: groups of flows that share links form, merge and split as flows
// come and go. `rings` of them cross every third link with the same bytes on each, as a ring
// collective does (filling every link it crosses at once); with `twins`, every other flow is the
// one before it again (and on one more link), so that flows finish at the same instant;
// `chained`, the second half each start when one of the first ends, as tasks that depend on them.
struct RandomFlows {
  size_t flows, links, rings;
  bool twins = false, chained = false;
  uint64_t seed;
};

// Flows to run: the first `half` start at `starts`, each of the others when flow f - half ends.
struct FlowsOverTime {
  std::vector<double> capacity;
  std::vector<FlowDemand> demands;
  std::vector<double> starts;
  size_t half;
};

FlowsOverTime random_flows(const RandomFlows& p) {
  Rng rng(p.seed, "flow-network-test");
  std::vector<double> capacity(p.links);
  for (double& c : capacity) c = 1e6 * static_cast<double>(1 + rng.below(9));
  std::vector<FlowDemand> demands(p.flows);
  std::vector<double> starts(p.flows);
  for (size_t f = 0; f < demands.size(); ++f) {
    if (p.twins && f % 2 == 1) {
      // Held back where its twin is or on a link of its own, where it may hold back others.
      demands[f] = demands[f - 1];
      const auto extra = static_cast<hardware::LinkId>(rng.below(p.links));
      if (std::none_of(demands[f].links.begin(), demands[f].links.end(), [&](const auto& e) { return e.first == extra; })) {
        demands[f].links.emplace_back(extra, static_cast<double>(1 + rng.below(50)));
        std::sort(demands[f].links.begin(), demands[f].links.end());
      }
      starts[f] = starts[f - 1];
      continue;
    }
    std::vector<hardware::LinkId> chosen;
    if (f < p.rings) {
      for (size_t l = f % 3; l < p.links; l += 3) chosen.push_back(static_cast<hardware::LinkId>(l));
    } else {
      const int home = static_cast<int>(rng.below(p.links / 4)) * 4, links = 1 + static_cast<int>(rng.below(3));
      for (int k = 0; k < links; ++k) chosen.push_back(static_cast<hardware::LinkId>(home + rng.below(4)));
      if (rng.below(4) == 0) chosen.push_back(static_cast<hardware::LinkId>(rng.below(p.links)));
      std::sort(chosen.begin(), chosen.end());
      chosen.erase(std::unique(chosen.begin(), chosen.end()), chosen.end());
    }
    const double ring_bytes = 1.0 + static_cast<double>(rng.below(100));
    for (hardware::LinkId l : chosen)
      demands[f].links.emplace_back(l, f < p.rings ? ring_bytes : 1.0 + static_cast<double>(rng.below(100)));
    starts[f] = 1e-6 * static_cast<double>(rng.below(30));
  }
  return {capacity, demands, starts, p.chained ? demands.size() / 2 : demands.size()};
}

// All-to-alls of four expert-parallel groups of 16 GPUs (skewed, each GPU sending to a few
// peers) and ring all-reduces over their data-parallel copies, on 64 GPUs of a fat tree
// oversubscribed 2:1, half of them following others.
FlowsOverTime collectives_on_a_fat_tree(uint64_t seed) {
  const hardware::ClusterSpec c = fat_tree(8, 2.0);
  const hardware::Topology topology = hardware::build_topology(c);
  hardware::Router router(topology, c.fabric.routing);
  FlowsOverTime out;
  for (hardware::LinkId l = 0; l < router.link_count(); ++l) out.capacity.push_back(router.capacity(l));
  Rng rng(seed, "flow-network-test collectives");
  std::vector<double> scratch;
  for (int round = 0; round < 6; ++round) {
    for (int group = 0; group < 4; ++group) {
      std::vector<int> gpus(16);
      for (int i = 0; i < 16; ++i) gpus[i] = group * 16 + i;
      TrafficMatrix t(gpus);
      for (int s = 0; s < 16; ++s) {
        for (int d = 0; d < 16; ++d) t.at(s, d) = s == d || rng.below(3) != 0 ? 0.0 : 1e5 * std::pow(10.0, rng.uniform());
      }
      out.demands.push_back(route_traffic(router, t, scratch));
    }
    for (int copy = 0; copy < 4; ++copy) {
      std::vector<int> gpus;
      for (int g = copy; g < 64; g += 4) gpus.push_back(g);
      out.demands.push_back(ring_all_reduce_demand(router, c, gpus, Bytes(static_cast<int64_t>(1e5 * (1 + rng.below(20)))), scratch));
    }
  }
  for (size_t f = 0; f < out.demands.size(); ++f) out.starts.push_back(1e-6 * static_cast<double>(rng.below(30)));
  out.half = out.demands.size() / 2;
  return out;
}

void expect_max_min_fair_throughout(const FlowsOverTime& flows) {
  const auto& [capacity, demands, starts, half] = flows;
  // The network, driven as the engine drives it.
  FlowNetwork net(capacity);
  for (size_t f = 0; f < demands.size(); ++f) net.set_demand(static_cast<TaskId>(f), std::span<const FlowDemand>(&demands[f], 1));
  std::vector<size_t> order(demands.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return starts[a] < starts[b]; });
  std::erase_if(order, [&](size_t f) { return f >= half; });
  std::vector<double> finished(demands.size(), -1);
  size_t next_start = 0;
  std::vector<size_t> followers;
  while (next_start < order.size() || net.next_finish()) {
    const bool starts_first =
        next_start < order.size() && (!net.next_finish() || Seconds(starts[order[next_start]]) <= net.next_finish()->since_start());
    if (starts_first) {
      const size_t f = order[next_start++];
      net.start(static_cast<TaskId>(f), SimTime::Zero() + Seconds(starts[f]));
      continue;
    }
    // As the engine does: every flow done at this instant ends before any that follows starts.
    const SimTime at = *net.next_finish();
    for (; net.next_finish() == at;) {
      const auto done = net.finish(at);
      if (!done) continue;
      finished[*done] = at.since_start().seconds();
      if (*done < half && *done + half < demands.size()) followers.push_back(*done + half);
    }
    for (size_t f : followers) net.start(static_cast<TaskId>(f), at);
    followers.clear();
  }
  // The reference: every rate recomputed from scratch at every start and end.
  std::vector<double> expected(demands.size(), -1), remaining, rate;
  std::vector<size_t> active;
  std::vector<const FlowDemand*> running;
  double now = 0;
  next_start = 0;
  while (next_start < order.size() || !active.empty()) {
    running.clear();
    for (size_t f : active) running.push_back(&demands[f]);
    reference_rates(running, remaining, capacity, rate);
    double end = std::numeric_limits<double>::infinity();
    size_t ending = 0;
    for (size_t i = 0; i < active.size(); ++i) {
      const double done = remaining[i] <= 0 ? now : rate[i] > 0 ? now + remaining[i] / rate[i] : end;
      if (done < end) end = done, ending = i;
    }
    const bool starts_first = next_start < order.size() && starts[order[next_start]] <= end;
    const double at = starts_first ? starts[order[next_start]] : end;
    for (size_t i = 0; i < active.size(); ++i) remaining[i] -= rate[i] * (at - now);
    now = at;
    if (starts_first) {
      active.push_back(order[next_start++]);
      remaining.push_back(1.0);
    } else {
      const size_t f = active[ending];
      expected[f] = now;
      active.erase(active.begin() + static_cast<std::ptrdiff_t>(ending));
      remaining.erase(remaining.begin() + static_cast<std::ptrdiff_t>(ending));
      if (f < half && f + half < demands.size()) {
        active.push_back(f + half);
        remaining.push_back(1.0);
      }
    }
  }
  for (size_t f = 0; f < demands.size(); ++f) EXPECT_NEAR(finished[f], expected[f], 1e-6 * expected[f] + 2e-12) << "flow " << f;
}

TEST(FlowNetwork, RatesStayMaxMinFairOverEveryFlowThoughOnlyTheAffectedAreRefilled) {
  expect_max_min_fair_throughout(random_flows({.flows = 40, .links = 24, .rings = 0, .seed = 11}));
}

// Rings tie the neighbourhoods together while they run; flows that start or end beside them
// change the rates of flows they share no link with.
TEST(FlowNetwork, RatesStayMaxMinFairWhereRingsFillEveryLinkTheyCross) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(seed);
    expect_max_min_fair_throughout(random_flows({.flows = 120, .links = 48, .rings = 1 + seed % 3, .seed = seed}));
  }
}

// A flow done at the same instant as another gives its links back as soon as a re-fill takes it
// in, even before its own end is handled: the flows it held back speed up then.
TEST(FlowNetwork, RatesStayMaxMinFairWhereFlowsFinishTogetherAndOthersFollow) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE(seed);
    expect_max_min_fair_throughout(
        random_flows({.flows = 120, .links = 48, .rings = 2 * (seed % 2), .twins = true, .chained = true, .seed = seed}));
  }
}

TEST(FlowNetwork, RatesStayMaxMinFairForCollectivesOnAnOversubscribedFatTree) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    SCOPED_TRACE(seed);
    expect_max_min_fair_throughout(collectives_on_a_fat_tree(seed));
  }
}

// Layers as the step simulator lays them out, for four expert-parallel groups of 16 GPUs on a
// fat tree oversubscribed 2:1: per layer and group a dispatch all-to-all, the experts' compute
// (skewed: some groups wait on others), a combine in two phases; after each layer a ring
// all-reduce over the groups' copies that overlaps the layers after it. Returns when every task
// ended, run through the engine.
std::vector<SimTime> run_layers(Refill refill, uint64_t seed) {
  const hardware::ClusterSpec c = fat_tree(8, 2.0);
  const hardware::Topology topology = hardware::build_topology(c);
  hardware::Router router(topology, c.fabric.routing);
  std::vector<double> capacity, scratch;
  for (hardware::LinkId l = 0; l < router.link_count(); ++l) capacity.push_back(router.capacity(l));
  Rng rng(seed, "flow-network-test layers");
  const auto all_to_all = [&](int group) {
    std::vector<int> gpus(16);
    for (int i = 0; i < 16; ++i) gpus[i] = group * 16 + i;
    TrafficMatrix t(gpus);
    for (int s = 0; s < 16; ++s) {
      for (int d = 0; d < 16; ++d) t.at(s, d) = s == d || rng.below(3) != 0 ? 0.0 : 1e5 * std::pow(10.0, rng.uniform());
    }
    return route_traffic(router, t, scratch);
  };
  constexpr int kLayers = 6, kGroups = 4;
  std::vector<std::vector<FlowDemand>> demands;  // by shared task, its phases
  engine::TaskGraph graph(kGroups + 1);
  std::vector<std::optional<TaskId>> last(kGroups);
  std::optional<TaskId> last_ring;
  const auto shared = [&](std::vector<FlowDemand> phases, ResourceId on) {
    demands.push_back(std::move(phases));
    return graph.add_shared_task(Microseconds(2), std::array<ResourceId, 1>{on});
  };
  for (int layer = 0; layer < kLayers; ++layer) {
    std::vector<TaskId> combines;
    for (int g = 0; g < kGroups; ++g) {
      const ResourceId on = static_cast<ResourceId>(g);
      const TaskId dispatch = shared({all_to_all(g)}, on);
      if (last[g]) graph.add_dependency(*last[g], dispatch);
      const TaskId compute = graph.add_task(Microseconds(static_cast<double>(5 + rng.below(25))), on);
      graph.add_dependency(dispatch, compute);
      const TaskId combine = shared({all_to_all(g), all_to_all(g)}, on);
      graph.add_dependency(compute, combine);
      last[g] = combine;
      combines.push_back(combine);
    }
    std::vector<int> copies;
    for (int gpu = layer % 16; gpu < 64; gpu += 16) copies.push_back(gpu);
    const TaskId ring = shared({ring_all_reduce_demand(router, c, copies, Bytes(static_cast<int64_t>(1e5 * (1 + rng.below(20)))), scratch)},
                               static_cast<ResourceId>(kGroups));
    for (TaskId t : combines) graph.add_dependency(t, ring);
    if (last_ring) graph.add_dependency(*last_ring, ring);
    last_ring = ring;
  }
  FlowNetwork net(capacity, refill);
  TaskId shared_task = 0;
  for (TaskId t = 0; t < graph.task_count(); ++t) {
    if (graph.shared(t)) net.set_demand(t, demands[shared_task++]);
  }
  engine::TaskGraphExecutor executor;
  engine::Schedule schedule;
  executor.execute(graph, schedule, &net);
  std::vector<SimTime> ends;
  for (const auto& task : schedule.tasks) ends.push_back(task.end);
  return ends;
}

// Re-filling only the flows a start or an end can affect gives what re-filling every flow gives,
// task by task, through the engine (where flows that end at one instant end one by one, and the
// tasks that follow them start only then).
TEST(FlowNetwork, RefillingTheAffectedFlowsTimesEveryTaskAsRefillingAllDoes) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    SCOPED_TRACE(seed);
    const std::vector<SimTime> affected = run_layers(Refill::kAffected, seed), every = run_layers(Refill::kEvery, seed);
    ASSERT_EQ(affected.size(), every.size());
    for (size_t t = 0; t < every.size(); ++t) {
      EXPECT_NEAR(affected[t].since_start().seconds(), every[t].since_start().seconds(), 1e-9 * every[t].since_start().seconds() + 2e-12)
          << "task " << t;
    }
  }
}

// A matrix's bytes per link are what adding each pair's bytes to its route's links, pair after pair,
// gives, to the bit: the per-link sums keep that order (pairs that send nothing add nothing).
TEST(FlowNetwork, RoutedTrafficIsEachRoutesBytesAddedPairByPair) {
  for (hardware::FabricRouting routing : {hardware::FabricRouting::kEcmp, hardware::FabricRouting::kAdaptive}) {
    hardware::ClusterSpec c = fat_tree(4, 2.0);
    c.fabric.routing = routing;
    const hardware::Topology topology = hardware::build_topology(c);
    hardware::Router router(topology, routing);
    // Nodes taking part with 8, 5, 2 and 1 GPUs: links crossed by unlike numbers of pairs.
    std::vector<int> gpus{0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 13, 14, 19, 22, 29};
    TrafficMatrix traffic(gpus);
    Rng rng(7, "routed traffic");
    // Sizes over six orders of magnitude, so that sums in another order round otherwise.
    for (size_t s = 0; s < gpus.size(); ++s) {
      for (size_t d = 0; d < gpus.size(); ++d) traffic.at(s, d) = rng.next() % 4 == 0 ? 0.0 : std::pow(10.0, 6 * rng.uniform()) / 3.0;
    }
    std::vector<double> expected(router.link_count(), 0.0), scratch;
    for (size_t s = 0; s < gpus.size(); ++s) {
      for (size_t d = 0; d < gpus.size(); ++d) {
        if (s == d || traffic.at(s, d) <= 0) continue;
        for (const hardware::RouteHop& hop : router.route(gpus[s], gpus[d])) expected[hop.link] += traffic.at(s, d) * hop.share;
      }
    }
    const FlowDemand demand = route_traffic(router, traffic, scratch);
    size_t used = 0;
    for (hardware::LinkId l = 0; l < expected.size(); ++l) used += expected[l] > 0;
    ASSERT_EQ(demand.links.size(), used);
    for (size_t i = 0; i < demand.links.size(); ++i) {
      const auto [link, bytes] = demand.links[i];
      if (i > 0) {
        EXPECT_LT(demand.links[i - 1].first, link);
      }
      EXPECT_EQ(bytes, expected[link]) << link;  // exactly
    }
  }
}

TEST(FlowNetwork, AgreesWithTheAnalyticModelOnNonBlockingFabricsUnderUniformTraffic) {
  // Where the analytic model is exact: the busiest port decides. Within 5 %. Adaptive routing,
  // so that a non-blocking fabric is non-blocking (see the next test for ECMP).
  struct Case {
    int nodes;
    int leaf_ports;
    const char* kind;
  };
  for (const Case k : {Case{1, 64, "rail_optimized"}, Case{4, 64, "rail_optimized"}, Case{4, 2, "rail_optimized"}, Case{8, 16, "fat_tree"},
                       Case{4, 2, "multi_plane"}}) {
    hardware::ClusterSpec c = h100(k.nodes);
    c.fabric.leaf_ports = k.leaf_ports;
    c.fabric.kind = k.kind;
    c.fabric.routing = hardware::FabricRouting::kAdaptive;
    const TrafficMatrix t = uniform_traffic(c.gpu_count(), 64e6);
    const AllToAllCost analytic = all_to_all_time(make_analytic_network(c), t);
    const Duration flow = run_flows(c, {t})[0] + analytic.latency;
    EXPECT_NEAR(flow.seconds() / analytic.time.seconds(), 1.0, 0.05)
        << k.nodes << " nodes, " << k.kind << ", " << k.leaf_ports << " ports per leaf";
  }
}

TEST(FlowNetwork, EcmpHashCollisionsCostBandwidthThatAdaptiveRoutingKeeps) {
  // 8 nodes, two per top-of-rack leaf, 1:1: with adaptive routing the NICs are the limit; with
  // ECMP the 768 pairs leaving a leaf hash unevenly over its 8 uplinks, and the fullest decides.
  hardware::ClusterSpec c = fat_tree(8, 1);
  const TrafficMatrix t = uniform_traffic(64, 64e6);
  const double adaptive = run_flows(c, {t})[0].seconds();
  c.fabric.routing = hardware::FabricRouting::kEcmp;
  const double ecmp = run_flows(c, {t})[0].seconds();
  EXPECT_GT(ecmp, 1.03 * adaptive);
  EXPECT_LT(ecmp, 1.5 * adaptive);
}

TEST(FlowNetwork, OversubscribedFatTreeIsSlowerThanTheAnalyticModelSays) {
  // 4 nodes, two per top-of-rack leaf (16 NIC ports each), uplinks 4:1 oversubscribed: a leaf's
  // 16 x 50 GB/s of NICs share 200 GB/s of uplinks. Half of every GPU's peers sit under the other
  // leaf: 16 GPUs x 16 peers x b cross each leaf's uplinks, against 24 x b through each NIC.
  const hardware::ClusterSpec c = fat_tree(4, 4);
  const double b = 64e6;
  const TrafficMatrix t = uniform_traffic(32, b);
  const AllToAllCost analytic = all_to_all_time(make_analytic_network(c), t);
  const double eff = c.nic.link.efficiency;
  const double uplink_bound = 16 * 16 * b / (200e9 * eff);
  const double flow = run_flows(c, {t})[0].seconds();
  EXPECT_NEAR(analytic.time.seconds() - analytic.latency.seconds(), 24 * b / (50e9 * eff), 1e-9);
  EXPECT_NEAR(flow / uplink_bound, 1.0, 0.01);
  EXPECT_GT(flow, 2.5 * analytic.time.seconds());  // 2.7x the analytic estimate
}

TEST(FlowNetwork, ConcurrentCollectivesContendForAnOversubscribedSpine) {
  // Two all-to-alls, each between one node under leaf 0 and one under leaf 1, through the same
  // 4:1 uplinks: together each takes twice as long as alone.
  hardware::ClusterSpec c = fat_tree(4, 4);
  auto pair = [](int node_a, int node_b) {
    std::vector<int> ids;
    for (int node : {node_a, node_b})
      for (int i = 0; i < 8; ++i) ids.push_back(node * 8 + i);
    TrafficMatrix t(ids);
    for (size_t s = 0; s < 16; ++s)
      for (size_t d = 0; d < 16; ++d) t.at(s, d) = s == d ? 0 : 64e6;
    return t;
  };
  const Duration alone = run_flows(c, {pair(0, 2)})[0];
  const auto together = run_flows(c, {pair(0, 2), pair(1, 3)});
  EXPECT_NEAR(together[0].seconds() / alone.seconds(), 2.0, 0.02);
  EXPECT_NEAR(together[1].seconds() / alone.seconds(), 2.0, 0.02);
  // Without oversubscription the NICs are the limit and the two do not interfere.
  c.fabric.oversubscription = 1;
  const Duration alone_fast = run_flows(c, {pair(0, 2)})[0];
  EXPECT_NEAR(run_flows(c, {pair(0, 2), pair(1, 3)})[0].seconds() / alone_fast.seconds(), 1.0, 0.1);
}

TEST(FlowNetwork, RingAllReduceMatchesTheAnalyticRing) {
  const hardware::ClusterSpec c = h100(4);
  const hardware::Topology topology = hardware::build_topology(c);
  hardware::Router router(topology, c.fabric.routing);
  std::vector<double> scratch;
  std::vector<int> all(32);
  std::iota(all.begin(), all.end(), 0);
  const FlowDemand d = ring_all_reduce_demand(router, c, all, Bytes(1e9), scratch);
  double slowest = 0;
  for (const auto& [link, bytes] : d.links) slowest = std::max(slowest, bytes / router.capacity(link));
  const AnalyticNetwork net = make_analytic_network(c);
  const Duration analytic = ring_all_reduce_time(net, all, Bytes(1e9)) - ring_all_reduce_latency(net, all);
  EXPECT_NEAR(slowest / analytic.seconds(), 1.0, 0.05);
}

scenarios::Scenario four_nodes(const std::vector<std::string>& overrides) {
  return scenarios::load_scenario_text(R"(
cluster: {preset: h100-dgx, nodes: 4, fabric: {kind: fat_tree, leaf_ports: 8, routing: adaptive}}
model: {preset: gpt3-125m-moe, layers: 4}
parallelism: {ep: 16, dp: 32}
training: {tokens_per_step: 262144, seq_len: 2048}
)",
                                       "four-nodes.yaml", overrides);
}

TEST(FlowNetwork, StepUnderTheFlowModelMatchesAnalyticWhenNonBlockingAndSlowsWhenOversubscribed) {
  gating::RoutingMatrix routing(2, 32, 16);
  for (int l = 0; l < 2; ++l)
    for (int r = 0; r < 32; ++r)
      for (int e = 0; e < 16; ++e) routing.row(l, r)[e] = 512;
  auto step = [&](const std::vector<std::string>& overrides) {
    const scenarios::Scenario s = four_nodes(overrides);
    StepSimulator sim(step_config(s));
    const auto placement =
        policies::static_placement({s.model.moe_layer_count(), s.model.experts, s.parallelism.ep}, policies::StaticLayout::kContiguous);
    return sim.simulate(routing, placement);
  };
  const StepResult analytic = step({});
  const StepResult flow = step({"cluster.network.model=flow"});
  EXPECT_NEAR(flow.step_time.seconds() / analytic.step_time.seconds(), 1.0, 0.05);
  // The expert gradients' reduction (on the data-parallel stream) starts beside the last layer's
  // backward dispatch and shares its NICs: the flow model charges that, the analytic model, which
  // prices each collective alone, does not. Nothing else differs.
  const auto a2a_ratio = [](const StepResult& f, const StepResult& a) { return f.all_to_all_time.seconds() / a.all_to_all_time.seconds(); };
  EXPECT_GE(a2a_ratio(flow, analytic), 0.99);
  EXPECT_LE(a2a_ratio(flow, analytic), 1.15);
  // The hierarchical all-to-all runs as two phases under both models.
  const StepResult analytic_2dh = step({"cluster.network.all_to_all=hierarchical"});
  const StepResult flow_2dh = step({"cluster.network.model=flow", "cluster.network.all_to_all=hierarchical"});
  EXPECT_NE(analytic_2dh.all_to_all_time, analytic.all_to_all_time);
  EXPECT_GE(a2a_ratio(flow_2dh, analytic_2dh), 0.99);
  EXPECT_LE(a2a_ratio(flow_2dh, analytic_2dh), 1.15);
  // One node per leaf, so every EP group's all-to-all crosses the 4:1 spine.
  const StepResult oversubscribed = step({"cluster.network.model=flow", "cluster.fabric.oversubscription=4"});
  EXPECT_GT(oversubscribed.all_to_all_time.seconds(), 1.5 * flow.all_to_all_time.seconds());
  EXPECT_GT(oversubscribed.step_time, flow.step_time);
  // The analytic model cannot see the oversubscription.
  EXPECT_EQ(step({"cluster.fabric.oversubscription=4"}).step_time, analytic.step_time);
}

}  // namespace
}  // namespace moesim::network
