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
    case TaskKind::kReplicaGradReduce: return "replica grad reduce";
    case TaskKind::kOptimizer: return "optimizer";
    case TaskKind::kMigration: return "migration";
    case TaskKind::kTensorParallel: return "TP gather/scatter";
    case TaskKind::kContextParallel: return "CP exchange";
    case TaskKind::kPipelineSend: return "pipeline send";
    case TaskKind::kParamAllGather: return "weight all-gather";
    case TaskKind::kExpertTensorParallel: return "ETP gather/scatter";
    case TaskKind::kWeightGrad: return "weight grad";
    case TaskKind::kMirrorGradSum: return "copies' grad sum";
    case TaskKind::kMtpProjection: return "MTP projection";
    case TaskKind::kEmbeddingGradSum: return "embedding grad sum";
    case TaskKind::kEmbedding: return "embedding";
    case TaskKind::kLossAllReduce: return "loss all-reduce";
  }
  return "?";
}

void append_timeline(const ExecutedStep& executed, int step, Duration offset, std::vector<TimelineSpan>& out) {
  const auto& graph = executed.graph;
  const auto& schedule = executed.schedule;
  const auto& layer_to_moe = executed.costs.layer_to_moe;
  const auto& layout = executed.costs.layout;
  for (engine::TaskId t = 0; t < graph.task_count(); ++t) {
    TimelineSpan span;
    span.step = step;
    span.kind = tag_kind(graph.tag(t));
    span.backward = tag_backward(graph.tag(t));
    span.layer = tag_layer(graph.tag(t));
    span.micro_batch = tag_micro_batch(graph.tag(t));
    span.start = offset + schedule.tasks[t].start.since_start();
    span.duration = schedule.tasks[t].end - schedule.tasks[t].start;
    const int moe = span.layer < static_cast<int>(layer_to_moe.size()) ? layer_to_moe[span.layer] : -1;
    for (engine::ResourceId r : graph.resources(t)) {
      span.gpu = executed.lanes.gpu[lane_of_stream(r)];
      span.stage = layout.stage_of(span.gpu);
      span.stream = stream_kind(r);
      const int local = layout.local_of(span.gpu);
      span.tokens = 0;
      span.bytes = 0;
      switch (span.kind) {
        case TaskKind::kDispatch:
        case TaskKind::kCombine:
          span.bytes = (span.kind == TaskKind::kDispatch ? executed.layers[moe].sent : executed.layers[moe].sent_combine)[local];
          span.tokens = executed.layers[moe].sent_rows[local];
          break;
        case TaskKind::kExperts: span.tokens = executed.layers[moe].rows[local]; break;
        case TaskKind::kDenseGradAllReduce: span.bytes = executed.costs.dense_bucket_bytes[span.layer]; break;
        case TaskKind::kExpertGradAllReduce: span.bytes = executed.costs.expert_bucket_bytes[span.layer]; break;
        case TaskKind::kReplicaGradReduce: span.bytes = executed.layers[moe].replica_grad_sent[local]; break;
        case TaskKind::kMirrorGradSum: span.bytes = executed.costs.mirror_grad_bytes[span.layer]; break;
        case TaskKind::kEmbeddingGradSum: span.bytes = executed.costs.embedding_grad_bytes; break;
        case TaskKind::kMigration:
          span.bytes = executed.migration.sent[static_cast<size_t>(span.stage) * layout.stage_gpus() + local];
          break;
        case TaskKind::kOptimizer:
        case TaskKind::kTensorParallel:
        case TaskKind::kLossAllReduce:
        case TaskKind::kContextParallel:
        case TaskKind::kPipelineSend:
        case TaskKind::kParamAllGather:
        case TaskKind::kExpertTensorParallel: break;
        default: span.tokens = executed.costs.rows;
      }
      out.push_back(span);
    }
  }
}

}  // namespace moesim
