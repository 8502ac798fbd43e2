#include "sim/dispatch_bench.h"

#include "policies/placement/placement.h"
#include "sim/network/network_model.h"
#include "sim/runner.h"
#include "sim/step/dispatch_cost.h"
#include "sim/step/dispatcher.h"
#include "sim/step/step_costs.h"
#include "sim/step/step_metrics.h"
#include "sim/step/traffic.h"

namespace moesim {

DispatchBench bench_dispatch(const scenarios::Scenario& s) {
  const StepConfig config = step_config(s);
  auto network = network::make_network_model(s.cluster);
  const StepCosts costs = step_costs(config, *network);
  const auto& m = s.model;
  const policies::Placement placement =
      policies::static_placement({m.moe_layer_count(), m.experts, s.parallelism.ep}, policies::StaticLayout::kContiguous);
  gating::RoutingMatrix routing(m.moe_layer_count(), s.parallelism.stage_gpus(), m.experts);
  auto source = make_gating_source(s);
  source->route(0, routing_view(s, placement), routing);
  LayerTraffic traffic;
  StepResult result;
  layer_traffic(config, costs, *network, routing, placement.layers[0], 0, traffic, result);

  DispatchBench out;
  out.ep = s.parallelism.ep;
  const std::vector<int>& group = costs.ep_groups[0];
  std::vector<int> gpus, nodes;
  for (int local : group) gpus.push_back(costs.layout.gpu(0, local));
  for (int g : gpus) nodes.push_back(s.cluster.node_of(g));
  out.intranode = within_one_node(s.cluster, gpus);
  out.nodes = 0;
  for (size_t i = 0; i < nodes.size(); ++i) out.nodes += i == 0 || nodes[i] != nodes[i - 1];
  out.tokens = static_cast<double>(s.training.tokens_per_rank(s.parallelism)) / costs.micro_batches;
  const double per_micro_batch = 1.0 / costs.micro_batches;
  // Destinations of the first rank's tokens, and what the first rank receives (over the group).
  const int first = group[0];
  if (routing.has_sends()) {
    const auto sends = routing.sends_row(0, first), node_sends = routing.node_sends_row(0, first);
    for (size_t j = 0; j < sends.size(); ++j) {
      out.gpus_per_token += sends[j] * per_micro_batch / out.tokens;
      if (j == 0 || nodes[j] != nodes[j - 1]) out.nodes_per_token += node_sends[j] * per_micro_batch / out.tokens;
    }
    for (int src : group) out.received += routing.sends_row(0, src)[0] * per_micro_batch;
  } else {
    // Without per-token destinations every assignment is its own copy.
    out.gpus_per_token = out.nodes_per_token = m.top_k;
    for (int src : group)
      for (int e = 0; e < m.experts / out.ep; ++e) out.received += routing.row(0, src)[e] * per_micro_batch;
  }
  out.dispatch_bytes = config.dispatch_bytes;
  out.combine_bytes = config.combine_bytes;
  out.count_exchange = traffic.count_exchange[0];
  out.dispatch = traffic.a2a[0].time - out.count_exchange;
  out.combine = traffic.a2a_combine[0].time;
  out.copy_per_expert = find_dispatcher(s.dispatch.kernel)->through_nic;
  if (out.copy_per_expert) out.nodes_per_token = m.top_k;
  const auto gbps = [](double bytes, Duration t) { return t > Duration() ? bytes / t.seconds() / 1e9 : 0.0; };
  out.nvl_dispatch = gbps(out.received * m.hidden * out.dispatch_bytes, out.dispatch);
  out.rdma_dispatch = gbps(out.tokens * out.nodes_per_token * m.hidden * out.dispatch_bytes, out.dispatch);
  out.nvl_combine = gbps(out.received * m.hidden * out.combine_bytes, out.combine);
  out.rdma_combine = gbps(out.tokens * out.nodes_per_token * m.hidden * out.combine_bytes, out.combine);
  return out;
}

}  // namespace moesim
