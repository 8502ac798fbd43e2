#include "scenarios/scenario.h"

#include <algorithm>

#include "policies/placement/registry.h"

namespace moesim::scenarios {

const char* to_string(ExpertExecution e) { return e == ExpertExecution::kDropless ? "dropless" : "capacity"; }

const char* to_string(Dedup d) { return d == Dedup::kNone ? "none" : d == Dedup::kGpu ? "gpu" : "node"; }

const char* to_string(Recompute r) { return r == Recompute::kNone ? "none" : r == Recompute::kSelective ? "selective" : "full"; }

const std::vector<std::string>& names_of_recompute_modules() {
  static const std::vector<std::string> names{"core_attn", "layernorm", "moe_act", "mla_up_proj", "mlp", "moe", "shared_experts"};
  return names;
}

unsigned recompute_modules_of(const std::vector<std::string>& names) {
  unsigned bits = 0;
  const auto& all = names_of_recompute_modules();
  for (size_t i = 0; i < all.size(); ++i)
    if (std::find(names.begin(), names.end(), all[i]) != names.end()) bits |= 1u << i;
  return bits;
}

std::vector<std::string> recompute_module_names(unsigned modules) {
  std::vector<std::string> names;
  const auto& all = names_of_recompute_modules();
  for (size_t i = 0; i < all.size(); ++i)
    if (modules & (1u << i)) names.push_back(all[i]);
  return names;
}

std::string_view PolicySpec::placement_name() const { return placement->name(); }

StepConfig step_config(const Scenario& s, MigrationMode migration, int spare_slots) {
  StepConfig c;
  c.cluster = s.cluster;
  c.model = s.model;
  c.parallel = s.parallelism;
  c.tokens_per_rank = s.training.tokens_per_rank(s.parallelism);
  c.seq_len = s.training.seq_len;
  c.micro_batches = static_cast<int>(s.training.micro_batches(s.parallelism));
  c.pipeline_runs = static_cast<int>(s.training.pipeline_runs(s.parallelism));
  c.grad_sync = s.training.grad_sync == "step" ? GradSync::kStep : s.training.grad_sync == "run" ? GradSync::kRun : GradSync::kMicroBatch;
  c.schedule = s.training.schedule;
  c.delay_wgrad = s.training.delay_wgrad;
  c.ddp_bucket_params = static_cast<double>(s.training.ddp_bucket_size);
  c.loss_upcast = s.training.cross_entropy == "fp32";
  c.expert_bias_apart = s.training.expert_bias_add == "apart";
  c.glu_clamps_apart = s.training.glu_clamp == "apart";
  c.fp8_activation_input = s.training.activation_func_fp8_input_store;
  c.e5m6_attention_output = s.training.attention_output_e5m6;
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
