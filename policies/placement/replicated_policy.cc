#include "policies/placement/replicated_policy.h"

#include <algorithm>

#include "policies/placement/eplb.h"
#include "policies/placement/registry.h"

namespace moesim::policies {

namespace {

void describe_replication(params::Visitor& v, ReplicatedParams& p) {
  v.count("replicas", p.replicas, 0, 1 << 20, "extra replicas per MoE layer (default: every spare slot of the EP group)");
  params::enumeration(v, "mode", p.mode, kReplicationModeNames,
                      "node_by_node: moesim's plan (swap-refined packing); hierarchical, global: DeepSeek's EPLB exactly, every spare "
                      "slot filled (hierarchical: expert groups to nodes)");
  v.count("groups", p.groups, 1, 1 << 16, "expert groups that hierarchical mode packs onto nodes (a multiple of the EP group's nodes)");
}

}  // namespace

void ReplicatedParams::describe(params::Visitor& v) {
  describe_replication(v, *this);
  planning.describe(v);
}

void PhaseAwareParams::describe(params::Visitor& v) {
  describe_replication(v, replicated);
  v.count("phase_window", phase_window, 2, 1'000'000, "steps of the phase detector's variance");
  v.real("phase_threshold", phase_threshold, {0, 1, false}, "a layer is stable once its variance stays below this share of its peak");
  replicated.planning.describe(v);
}

ReplicationShape replication_shape(const ReplicatedParams& p, const PlacementContext& c) {
  return {c.shape.ep, c.ranks_per_node, c.shape.experts / c.shape.ep + c.spare_slots, p.replicas, p.mode, p.groups};
}

ReplicatedPolicy::ReplicatedPolicy(const PlacementShape& shape, Placement initial, const PlanningParams& params,
                                   std::unique_ptr<Predictor> predictor, const ReplicationShape& replication)
    : ForecastingPolicy(shape, std::move(initial), params, std::move(predictor)), replication_(replication) {}

PhaseAwarePolicy::PhaseAwarePolicy(const PlacementShape& shape, Placement initial, const PlanningParams& params,
                                   std::unique_ptr<Predictor> predictor, const ReplicationShape& replication, int phase_window,
                                   double phase_threshold)
    : ReplicatedPolicy(shape, std::move(initial), params, std::move(predictor), replication),
      phases_(SeriesShape{shape.moe_layers, shape.experts}, phase_window, phase_threshold) {}

void PhaseAwarePolicy::learn(const StepLoads& finished, std::span<const float> proportions) {
  ReplicatedPolicy::learn(finished, proportions);
  phases_.observe(proportions);
}

std::span<const double> PhaseAwarePolicy::planning_loads(int layer, const std::vector<double>& expected) const {
  return ReplicatedPolicy::planning_loads(layer, phases_.stable(layer) ? expected : headroom_);
}

namespace {

std::optional<PlacementProblem> check_replicas(std::string_view policy, const ReplicatedParams& p, const PlacementFacts& f) {
  const int spare = f.ep * f.spare_slots;
  if (p.replicas > spare) {
    return PlacementProblem{"replicas", "expected at most the spare slots of an EP group, ep x spare_slots = " + std::to_string(f.ep) +
                                            " x " + std::to_string(f.spare_slots) + " = " + std::to_string(spare) + ", got " +
                                            std::to_string(p.replicas)};
  }
  if (p.mode == ReplicationMode::kNodeByNode) {
    if (p.groups != 1)
      return PlacementProblem{"groups", "expected 1: expert groups are for mode hierarchical, got " + std::to_string(p.groups)};
    return check_node_by_node(policy, f);
  }
  const std::string mode(kReplicationModeNames[static_cast<int>(p.mode)]);
  if (p.replicas != spare) {
    return PlacementProblem{"replicas", "mode " + mode + " is EPLB's plan, which fills every spare slot: expected ep x spare_slots = " +
                                            std::to_string(spare) + " (or no replicas key), got " + std::to_string(p.replicas)};
  }
  const EplbShape shape{f.ep * (f.experts / f.ep + f.spare_slots), p.groups, f.ep / f.ranks_per_node, f.ep};
  const std::string problem =
      eplb_shape_problem(f.experts, shape, p.mode == ReplicationMode::kHierarchical ? EplbMode::kHierarchical : EplbMode::kGlobal);
  if (!problem.empty()) return PlacementProblem{p.mode == ReplicationMode::kHierarchical ? "groups" : "mode", problem};
  return std::nullopt;
}

}  // namespace

const PlacementEntry& placement_entry_replicated() {
  using Config = PlacementConfigOf<ReplicatedParams>;
  static const PlacementEntry entry{
      .name = "replicated",
      .summary = "replicas of hot experts in spare slots, planned node by node as EPLB does",
      .forecasts = true,
      .moves = true,
      .default_spare_slots = 1,
      .defaults = [](const PlacementDefaults& d) -> std::unique_ptr<PlacementConfig> {
        return std::make_unique<Config>(
            "replicated", ReplicatedParams{d.ep * d.spare_slots, {}},
            [](const ReplicatedParams& p, const PlacementFacts& f) { return check_replicas("replicated", p, f); },
            [](const ReplicatedParams& p, const PlacementContext& c) -> std::unique_ptr<PlacementPolicy> {
              return std::make_unique<ReplicatedPolicy>(c.shape, static_placement(c.shape, c.layout), p.planning,
                                                        make_context_predictor(c.predictor, c.shape), replication_shape(p, c));
            });
      },
      .label = [](StaticLayout, std::string_view, int) { return std::string("replicated"); },
      .family = [](int) -> std::string_view { return "replication"; },
  };
  return entry;
}

const PlacementEntry& placement_entry_phase_aware() {
  using Config = PlacementConfigOf<PhaseAwareParams>;
  static const PlacementEntry entry{
      .name = "phase_aware",
      .summary = "replicated, with headroom for the layers still in their transient phase",
      .forecasts = true,
      .moves = true,
      .default_spare_slots = 1,
      .defaults = [](const PlacementDefaults& d) -> std::unique_ptr<PlacementConfig> {
        return std::make_unique<Config>(
            "phase_aware", PhaseAwareParams{{d.ep * d.spare_slots, {}}},
            [](const PhaseAwareParams& p, const PlacementFacts& f) { return check_replicas("phase_aware", p.replicated, f); },
            [](const PhaseAwareParams& p, const PlacementContext& c) -> std::unique_ptr<PlacementPolicy> {
              return std::make_unique<PhaseAwarePolicy>(c.shape, static_placement(c.shape, c.layout), p.replicated.planning,
                                                        make_context_predictor(c.predictor, c.shape), replication_shape(p.replicated, c),
                                                        p.phase_window, p.phase_threshold);
            });
      },
      .label = [](StaticLayout, std::string_view, int) { return std::string("phase_aware"); },
      .family = [](int) -> std::string_view { return "replication"; },
  };
  return entry;
}

}  // namespace moesim::policies
