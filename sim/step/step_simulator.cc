#include "sim/step/step_simulator.h"

#include "policies/placement/migration.h"

namespace moesim {

StepSimulator::StepSimulator(const StepConfig& config)
    : config_(config),
      network_(network::make_network_model(config.cluster)),
      costs_(step_costs(config_, *network_)),
      shares_links_(network::find_network_model(config.cluster.network.model)->shares_links) {
  layers_.resize(config.model.moe_layer_count());
}

StepResult StepSimulator::simulate(const gating::RoutingMatrix& routing, const policies::Placement& placement,
                                   const std::function<void()>& routing_read) {
  StepResult result;
  result.imbalance = 0;
  const int layers = static_cast<int>(layers_.size());
  for (int l = 0; l < layers; ++l) begin_layer_traffic(config_, costs_, *network_, placement.layers[l], l, layers_[l]);
  // Group by group: a group's routes (under the flow model, hundreds of kilobytes) are read by each
  // of its layers while they are still in cache.
  for (int g = 0; g < costs_.groups; ++g) {
    for (int l = 0; l < layers; ++l) group_traffic(config_, costs_, *network_, routing, l, g, layers_[l]);
  }
  for (int l = 0; l < layers; ++l) {
    end_layer_traffic(config_, costs_, *network_, layers_[l], result);
    const int64_t assignments = layers_[l].assignments, dropped = gating::count_total(routing.layer_dropped_rows(l));
    result.assignments += assignments + dropped;
    result.dropped += dropped;
  }
  result.imbalance = layers_.empty() ? 1.0 : result.imbalance / static_cast<double>(layers_.size());
  if (routing_read) routing_read();

  std::vector<policies::ExpertMove> moves;
  if (move_to(placement) && before_change_) moves = policies::plan_migration(*before_change_, placement);
  migration_traffic(costs_, *network_, moves, migration_, result);

  engine::SharedCapacity* shared = network_->begin_step();
  lanes_ = shares_links_ ? every_gpu(costs_) : identical_gpus(costs_, layers_, migration_);
  tasks_ = build_step_dag(config_, costs_, lanes_, layers_, migration_, *network_, graph_);
  executor_.execute(graph_, schedule_, shared);
  record_times(executed(), result, metrics_);
  return result;
}

bool StepSimulator::would_repeat(const StepSimulator& twin, const policies::Placement& placement) const {
  if (twin.previous_ != placement) return false;  // twin's last step went elsewhere
  return (twin.placement_changed_ ? twin.before_change_ : twin.previous_) == previous_;
}

void StepSimulator::repeat(const policies::Placement& placement) { move_to(placement); }

bool StepSimulator::move_to(const policies::Placement& placement) {
  placement_changed_ = previous_ != placement;
  if (placement_changed_) {
    before_change_ = std::move(previous_);
    previous_ = placement;
  }
  return placement_changed_;
}

}  // namespace moesim
