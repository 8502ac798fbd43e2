// An explicit pipeline split in Megatron's notation (--pipeline-model-parallel-layout,
// megatron/core/transformer/pipeline_parallel_layer_layout.py): virtual stages in the order the
// model's layers flow through them, split by '|'; 'E' the embedding, 't' a transformer layer, 'm'
// a multi-token prediction module's layer, 'L' the loss (the LM head). 'x*n' repeats a symbol and
// '(...)*n' a group, separators included; commas and spaces are cosmetic. DeepSeek-V3's 61 layers
// and one module over 32 virtual stages, as Megatron-Bridge splits them: "Et|(tt|)*30mL".
//
// A layout is kept unrolled: one string of symbols per virtual stage ({"Et", "tt", ..., "mL"}).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace moesim {

struct PipelineLayoutSyntaxError {
  size_t column = 0;  // from 1, in the text as given
  std::string message;
};

// The stages the text describes, or its first syntax error. Repetitions may nest, 64 deep; the
// unrolled layout is capped at kMaxPipelineLayoutSymbols symbols.
inline constexpr size_t kMaxPipelineLayoutSymbols = size_t{1} << 20;
std::variant<std::vector<std::string>, PipelineLayoutSyntaxError> parse_pipeline_layout(std::string_view text);

// A short form that parses back to `stages`: runs of three or more equal symbols as x*n, runs of
// two or more equal stages as (...|)*n.
std::string format_pipeline_layout(const std::vector<std::string>& stages);

// The symbols of a split into layer indices (numbered from 0; a prediction module's layers from
// `model_layers` on), with the embedding on the first virtual stage and the loss on the last.
std::vector<std::string> layout_of_split(const std::vector<std::vector<int>>& chunks, int model_layers);

// Layer indices per virtual stage, in order, from a layout that check_pipeline_layout accepts.
std::vector<std::vector<int>> split_of_layout(const std::vector<std::string>& stages);

// What moesim's step model needs of a layout against the model and the schedule's virtual stages:
// the first problem as "expected ..., got ...", or nothing. Megatron's own rules (one embedding
// first, one loss last, every layer once, the modules after the model's layers and all on one
// virtual stage: the loss's, or one of their own before it) and moesim's: the embedding on the
// first virtual stage, the loss on the last, a layer on every other virtual stage.
std::optional<std::string> check_pipeline_layout(const std::vector<std::string>& stages, int virtual_stages, int layers, int mtp_layers);

}  // namespace moesim
