// What a task of the step DAG is, kept in its tag with its layer (tag = kind | layer << 8).
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
  kDenseGradAllReduce,
  kExpertGradAllReduce,
  kOptimizer,
  kMigration,
};

// The name of a task kind, as timelines show it.
const char* to_string(TaskKind kind);

inline uint32_t task_tag(TaskKind kind, int layer) { return static_cast<uint32_t>(kind) | (static_cast<uint32_t>(layer) << 8); }
inline TaskKind tag_kind(uint32_t tag) { return static_cast<TaskKind>(tag & 0xff); }
inline int tag_layer(uint32_t tag) { return static_cast<int>(tag >> 8); }

}  // namespace moesim
