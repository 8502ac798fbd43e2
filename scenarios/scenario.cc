#include "scenarios/scenario.h"

namespace moesim::scenarios {

const char* to_string(ExpertExecution e) { return e == ExpertExecution::kDropless ? "dropless" : "capacity"; }

const char* to_string(Dedup d) { return d == Dedup::kNone ? "none" : d == Dedup::kGpu ? "gpu" : "node"; }

const char* to_string(gating::SkewDistribution d) {
  switch (d) {
    case gating::SkewDistribution::kUniform: return "uniform";
    case gating::SkewDistribution::kZipf: return "zipf";
    case gating::SkewDistribution::kDirichlet: return "dirichlet";
  }
  return "?";
}

const char* to_string(GatingSourceKind k) {
  switch (k) {
    case GatingSourceKind::kSkewed: return "skewed";
    case GatingSourceKind::kLearned: return "learned";
    case GatingSourceKind::kTrace: return "trace";
  }
  return "?";
}

const char* to_string(PlacementKind p) {
  switch (p) {
    case PlacementKind::kStatic: return "static";
    case PlacementKind::kPredictive: return "predictive";
    case PlacementKind::kReplicated: return "replicated";
    case PlacementKind::kPhaseAware: return "phase_aware";
    case PlacementKind::kOracle: return "oracle";
    case PlacementKind::kAffinity: return "affinity";
  }
  return "?";
}

const char* to_string(MigrationMode m) { return m == MigrationMode::kBlocking ? "blocking" : "overlapped"; }

const char* to_string(policies::StaticLayout l) {
  return l == policies::StaticLayout::kContiguous ? "contiguous" : "round_robin";
}

}  // namespace moesim::scenarios
