// The GEMMs behind each kernel the step prices, per GPU after tensor parallelism, for the compute
// model's width term (compute_model.h), their HBM traffic and their FP8 casts. Partitioned as
// Megatron-Core does: column-parallel projections (QKV, MLA's up-projections, an FFN's fused gate
// and up) split their output width over TP, row-parallel ones (the attention output, an FFN's
// down) their depth; MLA's down-projections are replicated; the router is not split.
#pragma once

#include <span>
#include <vector>

#include "models/moe_model.h"
#include "sim/step/compute_model.h"

namespace moesim {

struct LayerGemms {
  std::vector<GemmShape> attention;          // the projections, not the attention core
  std::vector<GemmShape> mla_up_projection;  // MLA's query and key-value up-projections (none without MLA)
  std::vector<GemmShape> dense_ffn;
  std::vector<GemmShape> shared_experts;  // all of a layer's shared experts, fused
  std::vector<GemmShape> expert;          // one routed expert, split over ETP
  GemmShape gate;
  GemmShape lm_head;
  GemmShape mtp_projection;  // a prediction module's 2·hidden -> hidden projection, column-parallel
};

LayerGemms layer_gemms(const models::MoeModel& m, int tp, int etp);

// What GEMMs over the same rows move through HBM, linear in the rows: each reads its weight and
// its input rows and writes its output rows. A GEMM in `dtype` FP8 reads FP8 weights (Transformer
// Engine casts them once a step and keeps them across micro-batches) and FP8 inputs; outputs are
// BF16 either way.
struct GemmTraffic {
  double weight_bytes = 0;
  double bytes_per_row = 0;
  Bytes at(double rows) const { return Bytes(weight_bytes + rows * bytes_per_row); }
};
GemmTraffic gemm_traffic(std::span<const GemmShape> gemms, models::Dtype dtype);

// Elements per token that FP8 training quantizes around `gemms`: each one's input (its depth)
// forward, its output gradient (its width) backward.
double quantized_elements(std::span<const GemmShape> gemms, bool backward);

}  // namespace moesim
