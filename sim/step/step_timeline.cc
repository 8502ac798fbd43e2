#include "sim/step/step_timeline.h"

namespace moesim {

const char* to_string(TaskKind kind) {
  switch (kind) {
    case TaskKind::kAttention: return "attention";
    case TaskKind::kDenseFfn: return "dense FFN";
    case TaskKind::kGate: return "gate";
    case TaskKind::kSharedExperts: return "shared experts";
    case TaskKind::kExperts: return "experts";
    case TaskKind::kDispatch: return "dispatch";
    case TaskKind::kCombine: return "combine";
    case TaskKind::kLmHead: return "LM head";
    case TaskKind::kDenseGradAllReduce: return "dense grad all-reduce";
    case TaskKind::kExpertGradAllReduce: return "expert grad all-reduce";
    case TaskKind::kOptimizer: return "optimizer";
    case TaskKind::kMigration: return "migration";
  }
  return "?";
}

void append_timeline(const ExecutedStep& executed, int step, Duration offset, std::vector<TimelineSpan>& out) {
  const auto& graph = executed.graph;
  const auto& schedule = executed.schedule;
  const auto& layer_to_moe = executed.costs.layer_to_moe;
  const double token_bytes = executed.config.model.hidden * executed.config.model.activation_bytes();
  for (engine::TaskId t = 0; t < graph.task_count(); ++t) {
    TimelineSpan span;
    span.step = step;
    span.backward = t >= executed.tasks.first_backward;
    span.kind = tag_kind(graph.tag(t));
    span.layer = tag_layer(graph.tag(t));
    span.start = offset + schedule.tasks[t].start.since_start();
    span.duration = schedule.tasks[t].end - schedule.tasks[t].start;
    const int moe = span.layer < static_cast<int>(layer_to_moe.size()) ? layer_to_moe[span.layer] : -1;
    for (engine::ResourceId r : graph.resources(t)) {
      span.gpu = static_cast<int>(r / 2);
      span.comm = r % 2 == 1;
      switch (span.kind) {
        case TaskKind::kDispatch:
        case TaskKind::kCombine:
          span.bytes = executed.layers[moe].sent[span.gpu];
          span.tokens = span.bytes / token_bytes;
          break;
        case TaskKind::kExperts: span.tokens = executed.layers[moe].rows[span.gpu]; break;
        case TaskKind::kDenseGradAllReduce: span.bytes = executed.costs.dense_grad_bytes[span.layer]; break;
        case TaskKind::kExpertGradAllReduce: span.bytes = executed.costs.expert_grad_bytes; break;
        case TaskKind::kMigration: span.bytes = executed.migration.sent[span.gpu]; break;
        case TaskKind::kOptimizer: break;
        default: span.tokens = static_cast<double>(executed.config.tokens_per_rank);
      }
      out.push_back(span);
    }
  }
}

}  // namespace moesim
