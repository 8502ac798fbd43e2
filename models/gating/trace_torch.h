// Routing dumps that PyTorch programs write with torch.save (read by torch_file.h):
//
// - SGLang's expert distribution recorder in `stat` mode (python/sglang/srt/eplb/
//   expert_distribution.py; `--expert-distribution-recorder-mode stat`, then
//   /start_expert_distribution_record, /stop_..., /dump_expert_distribution_record): files
//   `expert_distribution_recorder_{time}.pt` holding {"rank": 0, "logical_count": int tensor
//   [forward passes][layers][logical experts], "average_utilization_rate_over_window": ...},
//   counts summed over every rank. Layers are all of the model's layers: the dense ones, never
//   routed, are all zeros and dropped; so are forward passes with no counts (the unfilled part of
//   the recorder's circular buffer). Each forward pass is a record.
// - Hugging Face transformers' router logits (`output_router_logits=True` on Mixtral, Qwen2-MoE,
//   Qwen3-MoE, OLMoE, GPT-OSS, ...), one file per logged step (and rank) as saved by
//   `torch.save(outputs.router_logits, f"router_logits_step{step}.pt")`: a tuple (or list) with
//   one float tensor [tokens, experts] (or [batch, tokens, experts]) per MoE layer. Each token
//   counts for its top-k logits (ties to the lower expert), as a softmax top-k router routes; every
//   row counts, so leave padding out before saving.
#pragma once

#include <string>
#include <vector>

#include "models/gating/trace_import.h"

namespace moesim::gating {

inline constexpr const char* kDefaultRouterLogitsPattern = "router_logits_step{step}.pt";

ImportedCounts read_sglang_dumps(const std::vector<std::string>& paths);
ImportedCounts read_router_logits(const std::vector<std::string>& inputs, const std::string& pattern, int top_k);

}  // namespace moesim::gating
