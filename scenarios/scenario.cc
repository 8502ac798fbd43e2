#include "scenarios/scenario.h"

#include "policies/placement/registry.h"

namespace moesim::scenarios {

const char* to_string(ExpertExecution e) { return e == ExpertExecution::kDropless ? "dropless" : "capacity"; }

const char* to_string(Dedup d) { return d == Dedup::kNone ? "none" : d == Dedup::kGpu ? "gpu" : "node"; }

const char* to_string(Recompute r) { return r == Recompute::kNone ? "none" : r == Recompute::kSelective ? "selective" : "full"; }

std::string_view PolicySpec::placement_name() const { return placement->name(); }

StepConfig step_config(const Scenario& s, MigrationMode migration, int spare_slots) {
  StepConfig c;
  c.cluster = s.cluster;
  c.model = s.model;
  c.parallel = s.parallelism;
  c.tokens_per_rank = s.training.tokens_per_rank(s.parallelism);
  c.seq_len = s.training.seq_len;
  c.micro_batches = static_cast<int>(s.training.micro_batches(s.parallelism));
  c.schedule = s.training.schedule;
  c.delay_wgrad = s.training.delay_wgrad;
  c.logit_bytes = s.training.cross_entropy == "fp32" ? 6.0 : 2.0;
  c.expert_execution = s.training.expert_execution;
  c.dispatcher = s.dispatch.kernel;
  c.dedup = s.dispatch.dedup;
  c.dispatch_bytes = s.dispatch.dtype == models::Dtype::kFp8 ? 1.0 + 4.0 / 128 : 2.0;
  c.combine_bytes = 2.0;
  c.comm_sms = s.dispatch.comm_sms;
  c.migration = migration;
  c.spare_slots = spare_slots;
  return c;
}

}  // namespace moesim::scenarios
