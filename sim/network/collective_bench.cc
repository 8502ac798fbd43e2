#include "sim/network/collective_bench.h"

#include <array>
#include <cmath>

#include "sim/engine/task_graph.h"

namespace moesim::network {
namespace {

// In CollectiveOp's order.
constexpr std::array<CollectiveOpInfo, 4> kOps{{
    {CollectiveOp::kAllReduce, "all_reduce", "all_reduce_perf", "sum", false},
    {CollectiveOp::kAllGather, "all_gather", "all_gather_perf", "none", true},
    {CollectiveOp::kReduceScatter, "reduce_scatter", "reduce_scatter_perf", "sum", true},
    {CollectiveOp::kAllToAll, "all_to_all", "alltoall_perf", "none", true},
}};

CollectiveCost cost_of(NetworkModel& network, CollectiveOp op, std::span<const int> gpus, int64_t bytes) {
  switch (op) {
    case CollectiveOp::kAllReduce: return network.all_reduce(gpus, Bytes(static_cast<double>(bytes)));
    case CollectiveOp::kAllGather:
    case CollectiveOp::kReduceScatter: return network.all_gather(gpus, Bytes(static_cast<double>(bytes)));
    case CollectiveOp::kAllToAll: break;
  }
  // Every rank sends 1/n of its buffer to each rank, itself included (which costs nothing).
  TrafficMatrix traffic(std::vector<int>(gpus.begin(), gpus.end()));
  const double share = static_cast<double>(bytes) / static_cast<double>(gpus.size());
  for (size_t s = 0; s < gpus.size(); ++s)
    for (size_t d = 0; d < gpus.size(); ++d) traffic.at(s, d) = s == d ? 0 : share;
  return network.all_to_all(traffic);
}

}  // namespace

std::span<const CollectiveOpInfo> collective_ops() { return kOps; }

const CollectiveOpInfo* find_collective_op(std::string_view name) {
  for (const auto& info : kOps)
    if (info.name == name) return &info;
  return nullptr;
}

std::vector<int64_t> collective_sizes(int64_t min_bytes, int64_t max_bytes, double factor) {
  std::vector<int64_t> out;
  for (double size = static_cast<double>(min_bytes); size <= static_cast<double>(max_bytes); size *= factor) {
    out.push_back(static_cast<int64_t>(size));
    if (factor <= 1) break;
  }
  return out;
}

double bus_factor(CollectiveOp op, int ranks) {
  const double n = ranks;
  return op == CollectiveOp::kAllReduce ? 2 * (n - 1) / n : (n - 1) / n;
}

std::vector<CollectiveSample> bench_collective(NetworkModel& network, CollectiveOp op, std::span<const int> gpus,
                                               std::span<const int64_t> sizes) {
  const int n = static_cast<int>(gpus.size());
  const bool per_rank = kOps[static_cast<size_t>(op)].count_per_rank;
  const int64_t unit = kElementBytes * (per_rank ? n : 1);
  std::vector<CollectiveSample> out;
  engine::TaskGraph graph(1);
  engine::TaskGraphExecutor executor;
  engine::Schedule schedule;
  for (int64_t size : sizes) {
    CollectiveSample s;
    s.count = size / unit;
    if (s.count == 0) continue;
    s.bytes = s.count * unit;
    // Under the flow model a collective's time is known once it has run, so each runs as a task.
    const CollectiveCost cost = cost_of(network, op, gpus, s.bytes);
    graph.reset(1);
    engine::SharedCapacity* shared = network.begin_step();  // before add_task, which hands the flows their demand
    const engine::ResourceId stream = 0;
    network.add_task(graph, cost, std::span<const engine::ResourceId>(&stream, 1), {}, 0, 0);
    executor.execute(graph, schedule, shared);
    s.time = schedule.makespan.since_start();
    const double seconds = s.time.seconds();
    s.algbw = seconds > 0 ? static_cast<double>(s.bytes) / seconds / 1e9 : 0;
    s.busbw = s.algbw * bus_factor(op, n);
    out.push_back(s);
  }
  return out;
}

}  // namespace moesim::network
