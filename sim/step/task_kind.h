// What a task of the step DAG is, kept in its tag with its layer, micro-batch and pass:
// tag = kind | backward << 7 | layer << 8 | micro-batch << 20.
#pragma once

#include <cstdint>

namespace moesim {

enum class TaskKind : uint8_t {
  kAttention,
  kDenseFfn,
  kGate,
  kSharedExperts,
  kExperts,
  kDispatch,
  kCombine,
  kLmHead,
  kDenseGradAllReduce,   // all-reduce, or reduce-scatter under ZeRO
  kExpertGradAllReduce,  // likewise, over the expert-data-parallel group
  kOptimizer,
  kMigration,
  kTensorParallel,        // sequence-parallel all-gather or reduce-scatter in a TP group
  kContextParallel,       // keys and values exchanged in a CP group
  kPipelineSend,          // activations (forward) or their gradients (backward) to the next stage
  kParamAllGather,        // sharded weights gathered before use (ZeRO)
  kExpertTensorParallel,  // dispatched tokens gathered, or expert outputs scattered, in an ETP group
  kReplicaGradReduce,     // a replicated expert's copies reduce their gradients among themselves
  kWeightGrad,            // a layer's weight gradients, run apart from its backward (zero bubble)
  kMirrorGradSum,         // DualPipe: a layer's two copies sum their gradients between mirror stages
  kMtpProjection,         // a prediction module's norms and projection, before its layer
  kEmbeddingGradSum,      // the word embedding's gradient summed between the two stages that hold it
  kEmbedding,             // the word embedding's lookup (forward) or its weight gradient (backward)
  kLossAllReduce,         // the vocabulary-parallel loss's all-reduces in a TP group
};

// The name of a task kind, as timelines show it.
const char* to_string(TaskKind kind);

constexpr int kMaxTagLayers = 1 << 12, kMaxTagMicroBatches = 1 << 12;

inline uint32_t task_tag(TaskKind kind, int layer, int micro_batch = 0, bool backward = false) {
  return static_cast<uint32_t>(kind) | (backward ? 0x80u : 0u) | (static_cast<uint32_t>(layer) << 8) |
         (static_cast<uint32_t>(micro_batch) << 20);
}
inline TaskKind tag_kind(uint32_t tag) { return static_cast<TaskKind>(tag & 0x7f); }
inline bool tag_backward(uint32_t tag) { return (tag & 0x80u) != 0; }
inline int tag_layer(uint32_t tag) { return static_cast<int>((tag >> 8) & 0xfff); }
inline int tag_micro_batch(uint32_t tag) { return static_cast<int>(tag >> 20); }

}  // namespace moesim
