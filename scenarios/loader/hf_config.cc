#include "scenarios/loader/hf_config.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "scenarios/errors.h"

namespace moesim::scenarios {
namespace {

using nlohmann::json;

// A config's fields, each read at most once: what is never read is what moesim does not model.
class Fields {
 public:
  Fields(std::string path, std::string text, json root) : path_(std::move(path)), text_(std::move(text)), root_(std::move(root)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    throw ScenarioError(location(key), "model.config: " + key, message);
  }
  bool has(const std::string& key) const { return root_.contains(key) && !root_[key].is_null(); }

  int count(const std::string& key, int min = 1) {
    used_.insert(key);
    if (!has(key)) fail(key, "is required (expected an integer >= " + std::to_string(min) + "), got nothing");
    return count_value(key, root_[key], min);
  }
  int count_or(const std::string& key, int fallback, int min = 0) {
    used_.insert(key);
    return has(key) ? count_value(key, root_[key], min) : fallback;
  }
  bool flag_or(const std::string& key, bool fallback) {
    used_.insert(key);
    if (!has(key)) return fallback;
    if (!root_[key].is_boolean()) fail(key, "expected true or false, got " + root_[key].dump());
    return root_[key].get<bool>();
  }
  double number_or(const std::string& key, double fallback, double min) {
    used_.insert(key);
    if (!has(key)) return fallback;
    if (!root_[key].is_number() || root_[key].get<double>() < min)
      fail(key, "expected a number >= " + std::to_string(static_cast<int>(min)) + ", got " + root_[key].dump());
    return root_[key].get<double>();
  }
  std::string text_or(const std::string& key, const std::string& fallback) {
    used_.insert(key);
    if (!has(key)) return fallback;
    if (!root_[key].is_string()) fail(key, "expected a string, got " + root_[key].dump());
    return root_[key].get<std::string>();
  }
  const json& value(const std::string& key) {
    used_.insert(key);
    return root_[key];
  }
  void ignore(const std::string& key) { used_.insert(key); }

  std::vector<std::string> unused() const {
    std::vector<std::string> out;
    for (const auto& [key, v] : root_.items())
      if (!used_.count(key)) out.push_back(key);
    return out;
  }

 private:
  int count_value(const std::string& key, const json& v, int min) const {
    if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > (1 << 24))
      fail(key, "expected an integer from " + std::to_string(min) + " to 16777216, got " + v.dump());
    return static_cast<int>(v.get<int64_t>());
  }
  // The file, and the line and column of the field's name where it appears.
  std::string location(const std::string& key) const {
    const size_t at = text_.find("\"" + key + "\"");
    if (at == std::string::npos) return path_;
    const size_t line = 1 + static_cast<size_t>(std::count(text_.begin(), text_.begin() + static_cast<ptrdiff_t>(at), '\n'));
    const size_t line_start = text_.rfind('\n', at);
    const size_t column = at - (line_start == std::string::npos ? 0 : line_start + 1) + 1;
    return path_ + ":" + std::to_string(line) + ":" + std::to_string(column);
  }

  std::string path_, text_;
  json root_;
  std::set<std::string> used_;
};

// The fields every mapping reads the same way.
void read_common(Fields& f, models::MoeModel& m) {
  m.layers = f.count("num_hidden_layers");
  m.hidden = f.count("hidden_size");
  m.heads = f.count("num_attention_heads");
  m.kv_heads = f.count_or("num_key_value_heads", m.heads, 1);
  m.head_dim = f.count_or("head_dim", 0, 1);
  m.vocab = f.count("vocab_size");
  m.tied_embeddings = f.flag_or("tie_word_embeddings", false);
  const std::string act = f.text_or("hidden_act", "silu");
  if (act != "silu" && act != "swiglu") f.fail("hidden_act", "expected silu (SwiGLU experts), got \"" + act + "\"");
  m.gated_ffn = true;
  f.ignore("architectures");
  f.ignore("model_type");
}

// Dense layers up to first_moe_layer, then an MoE layer every moe_every: Qwen's
// decoder_sparse_step (layer l is MoE when (l + 1) % step == 0) and mlp_only_layers (dense)
// map onto that when the dense-only layers are a leading run.
void qwen_layers(Fields& f, models::MoeModel& m) {
  const int step = f.count_or("decoder_sparse_step", 1, 1);
  m.moe_every = step;
  m.first_moe_layer = step - 1;
  const json& dense = f.value("mlp_only_layers");
  if (!dense.is_null()) {
    if (!dense.is_array()) f.fail("mlp_only_layers", "expected a list of layer numbers, got " + dense.dump());
    for (size_t i = 0; i < dense.size(); ++i) {
      if (!dense[i].is_number_integer() || dense[i].get<int64_t>() != static_cast<int64_t>(i) || step != 1) {
        f.fail("mlp_only_layers",
               "moesim's dense layers are the first ones (then an MoE layer every moe_every): expected 0, 1, 2, ... "
               "with decoder_sparse_step 1, got " +
                   dense.dump());
      }
    }
    m.first_moe_layer = static_cast<int>(dense.size());
  }
}

// Every layer MoE, `experts_key` experts as wide as the dense FFN would be (intermediate_size).
models::MoeModel every_layer_moe(Fields& f, const char* experts_key) {
  models::MoeModel m;
  read_common(f, m);
  m.first_moe_layer = 0;
  m.moe_every = 1;
  m.experts = f.count(experts_key);
  m.top_k = f.count("num_experts_per_tok");
  m.expert_ffn_hidden = m.ffn_hidden = f.count("intermediate_size");
  return m;
}

models::MoeModel qwen_moe(Fields& f, bool shared) {
  models::MoeModel m;
  read_common(f, m);
  qwen_layers(f, m);
  m.experts = f.count("num_experts");
  m.top_k = f.count("num_experts_per_tok");
  m.expert_ffn_hidden = f.count("moe_intermediate_size");
  m.ffn_hidden = f.count("intermediate_size");
  if (shared) {
    // One shared expert of width k x moe_intermediate_size costs what k shared experts do.
    const int width = f.count_or("shared_expert_intermediate_size", 0, 0);
    if (width % m.expert_ffn_hidden != 0)
      f.fail("shared_expert_intermediate_size",
             "expected a multiple of moe_intermediate_size (" + std::to_string(m.expert_ffn_hidden) + "), got " + std::to_string(width));
    m.shared_experts = width / m.expert_ffn_hidden;
  }
  return m;
}

models::MoeModel deepseek(Fields& f) {
  models::MoeModel m;
  read_common(f, m);
  m.attention = models::Attention::kMla;
  m.mla.q_lora_rank = f.count_or("q_lora_rank", 0, 1);
  m.mla.kv_lora_rank = f.count("kv_lora_rank");
  m.mla.qk_nope_head_dim = f.count("qk_nope_head_dim", 0);
  m.mla.qk_rope_head_dim = f.count("qk_rope_head_dim", 0);
  m.mla.v_head_dim = f.count("v_head_dim");
  m.experts = f.count("n_routed_experts");
  m.shared_experts = f.count_or("n_shared_experts", 0, 0);
  m.top_k = f.count("num_experts_per_tok");
  m.expert_ffn_hidden = f.count("moe_intermediate_size");
  m.ffn_hidden = f.count("intermediate_size");
  m.first_moe_layer = f.count_or("first_k_dense_replace", 0, 0);
  m.moe_every = f.count_or("moe_layer_freq", 1, 1);
  // DeepSeek's layer l is MoE when l >= first_k_dense_replace and l % moe_layer_freq == 0.
  if (m.first_moe_layer % m.moe_every != 0)
    f.fail("moe_layer_freq",
           "expected a divisor of first_k_dense_replace (" + std::to_string(m.first_moe_layer) + "), got " + std::to_string(m.moe_every));
  m.expert_groups = f.count_or("n_group", 1, 1);
  m.topk_groups = f.count_or("topk_group", 1, 1);
  m.mtp_layers = f.count_or("num_nextn_predict_layers", 0, 0);  // DeepSeek-V3's multi-token prediction modules
  if (f.has("quantization_config")) {
    const json& q = f.value("quantization_config");
    if (q.is_object() && q.contains("quant_method") && q["quant_method"] == "fp8") m.dtype = models::Dtype::kFp8;
  }
  return m;
}

models::MoeModel gpt_oss(Fields& f) {
  models::MoeModel m = every_layer_moe(f, "num_local_experts");
  m.glu_clamp = f.number_or("swiglu_limit", 0, 0);
  m.expert_bias = true;  // gpt-oss's experts have biases; its config has no field for them
  m.sliding_window = f.count_or("sliding_window", 0, 1);
  // moesim's window covers every other layer from layer 0, as gpt-oss's layer_types alternate.
  const json& types = f.value("layer_types");
  if (m.sliding_window > 0 && types.is_array()) {
    for (size_t l = 0; l < types.size(); ++l) {
      const char* expected = l % 2 == 0 ? "sliding_attention" : "full_attention";
      if (types[l] != expected)
        f.fail("layer_types", "moesim's sliding window covers every other layer from the first: expected \"" + std::string(expected) +
                                  "\" at layer " + std::to_string(l) + ", got " + types[l].dump());
    }
  }
  return m;
}

struct Mapping {
  const char* architecture;
  std::function<models::MoeModel(Fields&)> read;
};

const std::vector<Mapping>& mappings() {
  static const std::vector<Mapping> all = {
      {"MixtralForCausalLM", [](Fields& f) { return every_layer_moe(f, "num_local_experts"); }},
      {"Qwen2MoeForCausalLM", [](Fields& f) { return qwen_moe(f, true); }},
      {"Qwen3MoeForCausalLM",
       [](Fields& f) {
         models::MoeModel m = qwen_moe(f, false);
         m.qk_norm = true;  // Qwen3's attention norms each head's query and key (q_norm, k_norm)
         return m;
       }},
      {"DeepseekV2ForCausalLM", deepseek},
      {"DeepseekV3ForCausalLM", deepseek},
      {"OlmoeForCausalLM",
       [](Fields& f) {
         models::MoeModel m = every_layer_moe(f, "num_experts");
         m.qk_norm = true;  // OLMoE norms its queries and keys (q_norm, k_norm)
         return m;
       }},
      {"GptOssForCausalLM", gpt_oss},
  };
  return all;
}

}  // namespace

models::MoeModel read_hf_config(const std::string& path) {
  if (std::filesystem::is_directory(path)) throw ScenarioError(path, "model.config", "is a directory, expected a config.json");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ScenarioError(path, "model.config", "cannot open the file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    const size_t at = std::min(static_cast<size_t>(e.byte > 0 ? e.byte - 1 : 0), text.size());
    const size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<ptrdiff_t>(at), '\n'));
    const size_t line_start = text.rfind('\n', at == 0 ? 0 : at - 1);
    const size_t column = at - (line_start == std::string::npos || at == 0 ? 0 : line_start + 1) + 1;
    throw ScenarioError(path + ":" + std::to_string(line) + ":" + std::to_string(column), "model.config", "not valid JSON");
  } catch (const json::exception& e) {
    // A number past double's range (1e1000), found by fuzzing: nlohmann reports it without a position.
    throw ScenarioError(path, "model.config",
                        std::string("not valid JSON: ") + (std::strstr(e.what(), "overflow") ? "a number out of range" : "unreadable"));
  }
  if (!root.is_object()) throw ScenarioError(path, "model.config", "expected a JSON object (a Hugging Face config.json)");
  Fields fields(path, text, root);
  std::string architecture;
  if (root.contains("architectures") && root["architectures"].is_array() && !root["architectures"].empty() &&
      root["architectures"][0].is_string())
    architecture = root["architectures"][0].get<std::string>();
  std::string known;
  for (const Mapping& m : mappings()) {
    if (architecture == m.architecture) {
      models::MoeModel model = m.read(fields);
      model.preset.clear();
      model.config = path;
      model.config_unmodelled = fields.unused();
      return model;
    }
    known += std::string(known.empty() ? "" : ", ") + m.architecture;
  }
  fields.fail("architectures", "expected one of " + known + ", got " + (architecture.empty() ? "nothing" : "\"" + architecture + "\""));
}

}  // namespace moesim::scenarios
