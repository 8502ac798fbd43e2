#include <yaml-cpp/yaml.h>

#include <utility>

#include "models/gating/routing/routing_rule.h"
#include "models/gating/source_registry.h"
#include "scenarios/loader/loader.h"
#include "scenarios/loader/policy_keys.h"
#include "scenarios/loader/quantity.h"
#include "sim/step/pipeline_layout.h"

namespace moesim::scenarios {
namespace {

void emit_link(YAML::Emitter& out, const char* prefix, const hardware::LinkSpec& l) {
  const std::string p = prefix;
  out << YAML::Key << p + "bandwidth" << YAML::Value << format_bandwidth(l.bandwidth);
  out << YAML::Key << p + "efficiency" << YAML::Value << format_number(l.efficiency);
  out << YAML::Key << p + "latency" << YAML::Value << format_duration(l.latency);
}

using YAML::BeginMap, YAML::EndMap, YAML::Key, YAML::Value;

void emit_attention(YAML::Emitter& out, const hardware::AttentionSpec& a) {
  out << Key << "attention" << Value << BeginMap;
  const std::pair<const char*, const hardware::AttentionCurve*> curves[] = {{"forward", &a.forward},
                                                                            {"backward", &a.backward},
                                                                            {"unmasked_forward", &a.unmasked_forward},
                                                                            {"unmasked_backward", &a.unmasked_backward}};
  for (const auto& [key, curve] : curves) {
    out << Key << key << Value << YAML::Flow << BeginMap;
    out << Key << "efficiency" << Value << format_number(curve->efficiency);
    out << Key << "half_seq" << Value << format_number(curve->half_seq);
    out << Key << "half_head_dim" << Value << format_number(curve->half_head_dim);
    out << EndMap;
  }
  out << EndMap;
}

void emit_gpu(YAML::Emitter& out, const hardware::GpuSpec& g) {
  out << Key << "gpu" << Value << BeginMap;
  out << Key << "name" << Value << g.name;
  out << Key << "bf16_peak" << Value << format_flop_rate(g.bf16_peak);
  out << Key << "fp8_peak" << Value << format_flop_rate(g.fp8_peak);
  out << Key << "hbm_capacity" << Value << format_bytes(g.hbm_capacity);
  out << Key << "hbm_bandwidth" << Value << format_bandwidth(g.hbm_bandwidth);
  out << Key << "gemm_efficiency" << Value << format_number(g.gemm_efficiency);
  out << Key << "gemm_half_rows" << Value << format_number(g.gemm_half_rows);
  out << Key << "gemm_half_width" << Value << format_number(g.gemm_half_width);
  emit_attention(out, g.attention);
  out << Key << "memory_efficiency" << Value << format_number(g.memory_efficiency);
  out << Key << "kernel_launch" << Value << format_duration(g.kernel_launch);
  out << Key << "launch_hidden" << Value << g.launch_hidden;
  out << Key << "sms" << Value << g.sms;
  out << Key << "comm_sm_bandwidth" << Value << format_bandwidth(g.comm_sm_bandwidth);
  out << Key << "comm_sm_bandwidth_intranode" << Value << format_bandwidth(g.comm_sm_bandwidth_intranode);
  out << EndMap;
}

void emit_fabrics(YAML::Emitter& out, const hardware::ClusterSpec& c) {
  out << Key << "fabric" << Value << BeginMap;
  out << Key << "kind" << Value << c.fabric.kind;
  out << Key << "leaf_ports" << Value << c.fabric.leaf_ports;
  out << Key << "oversubscription" << Value << format_number(c.fabric.oversubscription);
  out << Key << "spines" << Value << c.fabric.spines;
  out << Key << "switch_latency" << Value << format_duration(c.fabric.switch_latency);
  out << Key << "routing" << Value << hardware::to_string(c.fabric.routing);
  out << EndMap;
  out << Key << "network" << Value << BeginMap;
  out << Key << "model" << Value << c.network.model;
  out << Key << "all_to_all" << Value << hardware::to_string(c.network.all_to_all);
  out << Key << "message_overhead" << Value << format_duration(c.network.message_overhead);
  out << Key << "share_nics" << Value << c.network.share_nics;
  out << EndMap;
}

void emit_cluster(YAML::Emitter& out, const hardware::ClusterSpec& c) {
  out << Key << "cluster" << Value << BeginMap;
  out << Key << "preset" << Value << c.preset;
  out << Key << "nodes" << Value << c.nodes;
  out << Key << "gpus_per_node" << Value << c.gpus_per_node;
  emit_gpu(out, c.gpu);
  out << Key << "intra_node" << Value << BeginMap;
  out << Key << "fabric" << Value << hardware::to_string(c.intra_node.fabric);
  out << Key << "group_size" << Value << c.intra_node.group_size;
  emit_link(out, "", c.intra_node.link);
  emit_link(out, "cross_group_", c.intra_node.cross_group_link);
  out << Key << "nvls_efficiency" << Value << format_number(c.intra_node.nvls_efficiency);
  out << Key << "nvls" << Value << c.intra_node.nvls;
  out << EndMap;
  out << Key << "nic" << Value << BeginMap;
  out << Key << "count" << Value << c.nic.count;
  emit_link(out, "", c.nic.link);
  out << EndMap;
  emit_fabrics(out, c);
  out << EndMap;
}

void emit_model(YAML::Emitter& out, const models::MoeModel& m) {
  out << Key << "model" << Value << BeginMap;
  if (m.config.empty()) {
    out << Key << "preset" << Value << m.preset;
  } else {
    out << Key << "config" << Value << m.config;
    std::string unmodelled;
    for (const auto& key : m.config_unmodelled) unmodelled += (unmodelled.empty() ? "" : ", ") + key;
    out << YAML::Comment("not modelled from it: " + (unmodelled.empty() ? std::string("none") : unmodelled));
  }
  out << Key << "layers" << Value << m.layers;
  out << Key << "mtp_layers" << Value << m.mtp_layers;
  out << Key << "first_moe_layer" << Value << m.first_moe_layer;
  out << Key << "moe_every" << Value << m.moe_every;
  out << Key << "hidden" << Value << m.hidden;
  out << Key << "heads" << Value << m.heads;
  out << Key << "kv_heads" << Value << m.kv_heads;
  out << Key << "head_dim" << Value << m.head_dim;
  out << Key << "attention" << Value << models::to_string(m.attention);
  if (m.attention == models::Attention::kMla) {
    out << Key << "mla" << Value << YAML::Flow << BeginMap;
    out << Key << "q_lora_rank" << Value << m.mla.q_lora_rank << Key << "kv_lora_rank" << Value << m.mla.kv_lora_rank;
    out << Key << "qk_nope_head_dim" << Value << m.mla.qk_nope_head_dim << Key << "qk_rope_head_dim" << Value << m.mla.qk_rope_head_dim;
    out << Key << "v_head_dim" << Value << m.mla.v_head_dim << EndMap;
  }
  out << Key << "sliding_window" << Value << m.sliding_window;
  out << Key << "qk_norm" << Value << m.qk_norm;
  out << Key << "glu_clamp" << Value << m.glu_clamp;
  out << Key << "expert_bias" << Value << m.expert_bias;
  out << Key << "ffn_hidden" << Value << m.ffn_hidden;
  out << Key << "expert_ffn_hidden" << Value << m.expert_ffn_hidden;
  out << Key << "experts" << Value << m.experts;
  out << Key << "shared_experts" << Value << m.shared_experts;
  out << Key << "top_k" << Value << m.top_k;
  out << Key << "vocab" << Value << m.vocab;
  out << Key << "tied_embeddings" << Value << m.tied_embeddings;
  out << Key << "expert_groups" << Value << m.expert_groups;
  out << Key << "topk_groups" << Value << m.topk_groups;
  out << Key << "capacity_factor" << Value << format_number(m.capacity_factor);
  out << Key << "dtype" << Value << models::to_string(m.dtype);
  out << Key << "fp8_recipe" << Value << models::to_string(m.fp8_recipe);
  out << Key << "gated_ffn" << Value << m.gated_ffn;
  out << Key << "grad_bytes_per_param" << Value << format_number(m.grad_bytes_per_param);
  out << Key << "optimizer_bytes_per_param" << Value << format_number(m.optimizer_bytes_per_param);
  out << EndMap;
}

void emit_parallelism(YAML::Emitter& out, const ParallelismSpec& p) {
  out << Key << "parallelism" << Value << BeginMap;
  for (const auto& [key, value] :
       {std::pair{"tp", p.tp}, {"pp", p.pp}, {"vp", p.vp}, {"cp", p.cp}, {"ep", p.ep}, {"etp", p.etp}, {"dp", p.dp}})
    out << Key << key << Value << value;
  out << Key << "zero" << Value << p.zero;
  if (p.zero >= 3) out << Key << "reshard_after_forward" << Value << p.reshard_after_forward;
  out << Key << "recompute" << Value << to_string(p.recompute);
  if (p.recompute == Recompute::kSelective)
    out << Key << "recompute_modules" << Value << YAML::Flow << recompute_module_names(p.recompute_modules);
  out << Key << "ep_layout" << Value << (p.ep_layout == EpLayout::kPacked ? "packed" : "spread");
  out << Key << "tp_comm_overlap" << Value << p.tp_comm_overlap;
  if (!p.pipeline_layout.empty()) out << Key << "pipeline_layout" << Value << format_pipeline_layout(p.pipeline_layout);
  out << EndMap;
}

// The source and the routing mode by name, then the mode's keys under its name, then the source's
// keys beside them.
void emit_gating(YAML::Emitter& out, const GatingSpec& g) {
  out << Key << "gating" << Value << BeginMap;
  out << Key << "source" << Value << std::string(g.source->name());
  const auto& routing = *g.routing;
  out << Key << "routing" << Value << std::string(routing.name());
  if (const auto values = routing.values(); !values.empty()) {
    out << Key << std::string(routing.name()) << Value << YAML::Flow << BeginMap;
    for (const auto& [key, value] : values) out << Key << key << Value << value;
    out << EndMap;
  }
  for (const auto& [key, value] : g.source->values()) out << Key << key << Value << value;
  out << EndMap;
}

}  // namespace

std::string cluster_yaml(const std::string& name, const hardware::ClusterSpec& cluster) {
  YAML::Emitter out;
  out << BeginMap << Key << "name" << Value << name;
  emit_cluster(out, cluster);
  out << EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string resolved_yaml(const Scenario& s) {
  YAML::Emitter out;
  out << BeginMap;
  out << Key << "name" << Value << s.name;
  out << Key << "seed" << Value << s.seed;
  out << Key << "steps" << Value << s.steps;
  emit_cluster(out, s.cluster);
  emit_model(out, s.model);
  emit_parallelism(out, s.parallelism);
  out << Key << "schedule" << Value << s.training.schedule;
  out << Key << "training" << Value << BeginMap;
  out << Key << "global_batch" << Value << s.training.global_batch();
  out << Key << "micro_batch" << Value << s.training.micro_batch;
  out << Key << "local_batch" << Value << s.training.local_batch;
  out << Key << "grad_sync" << Value << s.training.grad_sync;
  out << Key << "seq_len" << Value << s.training.seq_len;
  out << Key << "expert_execution" << Value << to_string(s.training.expert_execution);
  out << Key << "cross_entropy" << Value << s.training.cross_entropy;
  out << Key << "expert_bias_add" << Value << s.training.expert_bias_add;
  out << Key << "glu_clamp" << Value << s.training.glu_clamp;
  out << Key << "delay_wgrad" << Value << s.training.delay_wgrad;
  out << Key << "ddp_bucket_size" << Value << s.training.ddp_bucket_size;
  out << Key << "activation_func_fp8_input_store" << Value << s.training.activation_func_fp8_input_store;
  out << Key << "attention_output_e5m6" << Value << s.training.attention_output_e5m6;
  out << EndMap;
  out << Key << "dispatch" << Value << BeginMap << Key << "kernel" << Value << s.dispatch.kernel;
  out << Key << "dedup" << Value << to_string(s.dispatch.dedup);
  out << Key << "dtype" << Value << models::to_string(s.dispatch.dtype) << Key << "comm_sms" << Value << s.dispatch.comm_sms << EndMap;
  emit_gating(out, s.gating);
  out << Key << "policies" << Value << YAML::BeginSeq;
  for (const auto& p : s.policies) emit_policy(out, p);
  out << YAML::EndSeq;
  if (s.cost.gpu_hour > 0)
    out << Key << "cost" << Value << BeginMap << Key << "gpu_hour" << Value << format_number(s.cost.gpu_hour) << EndMap;
  out << Key << "output" << Value << BeginMap << Key << "dir" << Value << s.output_dir << EndMap;
  out << EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace moesim::scenarios
