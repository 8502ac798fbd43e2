// A model from a Hugging Face config.json (`model.config`), one explicit mapping per architecture:
// MixtralForCausalLM, Qwen2MoeForCausalLM, Qwen3MoeForCausalLM, DeepseekV2ForCausalLM,
// DeepseekV3ForCausalLM, OlmoeForCausalLM and GptOssForCausalLM (models/README.md lists the
// fields each reads). Fields the mapping does not read are kept by name, for `validate --print`.
#pragma once

#include <string>

#include "models/moe_model.h"

namespace moesim::scenarios {

// Reads `path`. Throws ScenarioError located at the file (and line:column of the field where
// it can), naming the field, what was expected and what was found; an architecture without a
// mapping is an error listing those that have one.
models::MoeModel read_hf_config(const std::string& path);

}  // namespace moesim::scenarios
