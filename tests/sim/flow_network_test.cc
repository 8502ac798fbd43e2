// The flow-level network against hand-computed cases, against the analytic model where that is
// exact, and where it is not (oversubscribed fabrics, collectives that overlap). Its rates as flows
// come and go: flow_network_fairness_test.cc.
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
#include "tests/sim/flow_test_clusters.h"
#include "tests/sim/uniform_traffic.h"

namespace moesim::network {
namespace {

using engine::ResourceId;
using engine::TaskId;

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

// Demands are kept for the tasks given them only, in any order; the last given for a task holds,
// a task given none sends nothing, and reset() forgets them all.
TEST(FlowNetwork, EachTaskSendsTheDemandLastGivenItWhateverTheOrder) {
  FlowNetwork net({10e6, 10e6});
  const FlowDemand on_0{{{0, 10}}}, on_1{{{1, 30}}}, replaced{{{0, 99}}};
  net.set_demand(7, std::span<const FlowDemand>(&on_1, 1));
  net.set_demand(2, std::span<const FlowDemand>(&replaced, 1));
  net.set_demand(2, std::span<const FlowDemand>(&on_0, 1));
  net.start(2, SimTime::Zero());
  net.start(5, SimTime::Zero());  // no demand: done at once
  net.start(7, SimTime::Zero());
  EXPECT_EQ(net.next_finish()->since_start(), Microseconds(0));
  EXPECT_EQ(net.finish(*net.next_finish()), std::optional<TaskId>(5));
  EXPECT_EQ(net.next_finish()->since_start(), Microseconds(1));  // 10 bytes on link 0, not 99
  EXPECT_EQ(net.finish(*net.next_finish()), std::optional<TaskId>(2));
  EXPECT_EQ(net.next_finish()->since_start(), Microseconds(3));  // 30 bytes on link 1 beside it
  EXPECT_EQ(net.finish(*net.next_finish()), std::optional<TaskId>(7));

  net.reset();
  net.start(7, SimTime::Zero());
  EXPECT_EQ(net.next_finish()->since_start(), Microseconds(0));
  EXPECT_EQ(net.finish(*net.next_finish()), std::optional<TaskId>(7));
}

// The next to end is found to the picosecond: on links of a byte a picosecond, a flow of 1,000,000
// bytes started after one of 1,000,001 ends first, and one that ends with another ends after it.
TEST(FlowNetwork, TheNextToEndIsFoundToThePicosecond) {
  FlowNetwork net({1e12, 1e12, 1e12});
  const FlowDemand longer{{{0, 1000001}}}, shorter{{{1, 1000000}}}, tied{{{2, 1000000}}};
  net.set_demand(0, std::span<const FlowDemand>(&longer, 1));
  net.set_demand(1, std::span<const FlowDemand>(&shorter, 1));
  net.set_demand(2, std::span<const FlowDemand>(&tied, 1));
  for (TaskId t : {0, 1, 2}) net.start(t, SimTime::Zero());
  EXPECT_EQ(net.next_finish()->since_start(), Picoseconds(1000000));
  EXPECT_EQ(net.finish(*net.next_finish()), std::optional<TaskId>(1));
  EXPECT_EQ(net.next_finish()->since_start(), Picoseconds(1000000));
  EXPECT_EQ(net.finish(*net.next_finish()), std::optional<TaskId>(2));
  EXPECT_EQ(net.next_finish()->since_start(), Picoseconds(1000001));
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

// A flow rising alone is held by its narrowest link, not its busiest: a sends 40 bytes on link 0
// (10/us), 20 on link 1 (4/us) and 10 on link 2 (2/us), so links 1 and 2 fill together and it takes
// 5 us. Flow b, 10 bytes on link 2 alone, starts beside it: a is above the level at which link 2
// would fill for b, so it comes down and they fill together. Levels (bytes per second on each one's
// busiest link) rise equally: link 2 carries x / 4 + x = 2/us at x = 1.6/us, so b takes 6.25 us and
// a sends 0.4/us there, a quarter of its bytes by then; alone again, its 7.5 bytes left on link 2
// take 3.75 us more: 10 us.
TEST(FlowNetwork, AFlowAloneRunsAtItsNarrowestLinkAndComesDownForOneThatJoins) {
  FlowNetwork net({10e6, 4e6, 2e6});
  const FlowDemand a{{{0, 40}, {1, 20}, {2, 10}}}, b{{{2, 10}}};
  net.set_demand(0, std::span<const FlowDemand>(&a, 1));
  net.set_demand(1, std::span<const FlowDemand>(&b, 1));
  net.start(0, SimTime::Zero());
  EXPECT_EQ(net.next_finish()->since_start(), Microseconds(5));
  net.start(1, SimTime::Zero());
  EXPECT_EQ(net.next_finish()->since_start(), Nanoseconds(6250));
  EXPECT_EQ(net.finish(*net.next_finish()), std::optional<TaskId>(1));
  EXPECT_EQ(net.next_finish()->since_start(), Microseconds(10));
  EXPECT_EQ(net.finish(*net.next_finish()), std::optional<TaskId>(0));
}

// A flow that starts rises alone, around what the others keep: c, held at 1/us by link 3, keeps
// 1/us of link 1 (5/us). a then sends 40 bytes on link 0 (10/us), 20 on link 1 and 8 on link 2
// (2/us): links 0 and 2 would let it finish in 4 us, but link 1 has 4/us left, so 5 us.
TEST(FlowNetwork, AFlowStartingBesideOthersIsHeldWhereTheirUseLeavesLeast) {
  FlowNetwork net({10e6, 5e6, 2e6, 1e6});
  const FlowDemand c{{{1, 10}, {3, 10}}}, a{{{0, 40}, {1, 20}, {2, 8}}};
  net.set_demand(0, std::span<const FlowDemand>(&c, 1));
  net.set_demand(1, std::span<const FlowDemand>(&a, 1));
  net.start(0, SimTime::Zero());
  EXPECT_EQ(net.next_finish()->since_start(), Microseconds(10));
  net.start(1, SimTime::Zero());
  EXPECT_EQ(net.next_finish()->since_start(), Microseconds(5));
  EXPECT_EQ(net.finish(*net.next_finish()), std::optional<TaskId>(1));
  EXPECT_EQ(net.next_finish()->since_start(), Microseconds(10));
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
