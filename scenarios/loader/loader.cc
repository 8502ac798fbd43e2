#include "scenarios/loader/loader.h"

#include "scenarios/loader/hf_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "hardware/fabric.h"
#include "hardware/presets.h"
#include "models/gating/source_registry.h"
#include "models/presets.h"
#include "scenarios/loader/cluster_reader.h"
#include "scenarios/loader/policy_keys.h"
#include "scenarios/loader/validate.h"
#include "scenarios/loader/yaml_reader.h"
#include "sim/network/network_model.h"
#include "sim/step/dispatcher.h"
#include "sim/step/pipeline_layout.h"
#include "sim/step/schedule.h"

namespace moesim::scenarios {
namespace {

// Writes `value` at `path` (dot-separated; numbers index lists), creating mappings on the way.
void apply_override(YAML::Node& root, const std::string& text, const std::string& where) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ScenarioError(where, "", "expected key.path=value, got '" + text + "'");
  }
  const std::string path = text.substr(0, eq);
  const std::string value_text = text.substr(eq + 1);
  if (value_text.find_first_not_of(" \t") == std::string::npos) {
    throw ScenarioError(where, path, "the value is empty (expected key.path=value)");
  }
  YAML::Node value;
  try {
    value = YAML::Load(value_text);
  } catch (const YAML::Exception& e) {
    throw ScenarioError(where, path, "the value is not valid YAML: " + e.msg);
  }
  check_document(value, SourceMap(where), path);
  std::vector<std::string> keys;
  for (size_t start = 0;;) {
    const auto dot = path.find('.', start);
    keys.push_back(path.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  YAML::Node cur;
  cur.reset(root);
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string& key = keys[i];
    const bool last = i + 1 == keys.size();
    if (key.empty()) throw ScenarioError(where, path, "empty key in key path");
    if (cur.IsSequence()) {
      size_t index = 0;
      try {
        index = std::stoul(key);
      } catch (...) {
        throw ScenarioError(where, path, "'" + key + "' indexes a list: expected a number");
      }
      if (index >= cur.size()) {
        throw ScenarioError(where, path,
                            "list index " + key + " is out of range (the list has " + std::to_string(cur.size()) + " entries)");
      }
      if (last) {
        cur[index] = value;
        return;
      }
      YAML::Node next = cur[index];
      cur.reset(next);
      continue;
    }
    if (!cur.IsMap()) cur = YAML::Node(YAML::NodeType::Map);
    if (last) {
      cur[key] = value;
      return;
    }
    if (!cur[key] || !(cur[key].IsMap() || cur[key].IsSequence())) cur[key] = YAML::Node(YAML::NodeType::Map);
    YAML::Node next = cur[key];
    cur.reset(next);
  }
}

models::MoeModel read_model(MapReader r, const std::string& scenario_file) {
  models::MoeModel m;
  if (r.has("config")) {
    if (r.has("preset")) r.fail("config", "give model.preset or model.config, not both");
    std::filesystem::path config = r.get_string("config", std::nullopt);
    if (config.is_relative() && !scenario_file.empty()) config = std::filesystem::path(scenario_file).parent_path() / config;
    // Absolute, so that the resolved scenario (scenario.yaml of a run) finds it from anywhere.
    std::error_code ec;
    const std::filesystem::path absolute = std::filesystem::absolute(config, ec);
    m = read_hf_config((ec ? config : absolute).lexically_normal().string());
  } else {
    m = *models::model_preset(r.get_choice("preset", names_of(models::model_presets()), std::nullopt));
  }
  auto count = [&](const char* key, int& field, int min) { field = static_cast<int>(r.get_int(key, field, min, 1 << 24)); };
  count("layers", m.layers, 1);
  count("mtp_layers", m.mtp_layers, 0);
  count("first_moe_layer", m.first_moe_layer, 0);
  count("moe_every", m.moe_every, 1);
  count("hidden", m.hidden, 1);
  count("heads", m.heads, 1);
  count("kv_heads", m.kv_heads, 1);
  count("head_dim", m.head_dim, 0);
  m.attention = r.get_choice("attention", {"gqa", "mla"}, models::to_string(m.attention)) == "mla" ? models::Attention::kMla
                                                                                                   : models::Attention::kGqa;
  MapReader mla = r.child("mla");
  auto mla_count = [&](const char* key, int& field, int min) { field = static_cast<int>(mla.get_int(key, field, min, 1 << 20)); };
  mla_count("q_lora_rank", m.mla.q_lora_rank, 0);
  mla_count("kv_lora_rank", m.mla.kv_lora_rank, 1);
  mla_count("qk_nope_head_dim", m.mla.qk_nope_head_dim, 0);
  mla_count("qk_rope_head_dim", m.mla.qk_rope_head_dim, 0);
  mla_count("v_head_dim", m.mla.v_head_dim, 1);
  mla.finish();
  count("sliding_window", m.sliding_window, 0);
  m.qk_norm = r.get_bool("qk_norm", m.qk_norm);
  m.glu_clamp = r.get_double("glu_clamp", m.glu_clamp, 0, 1e6);
  m.expert_bias = r.get_bool("expert_bias", m.expert_bias);
  count("ffn_hidden", m.ffn_hidden, 1);
  count("expert_ffn_hidden", m.expert_ffn_hidden, 1);
  count("experts", m.experts, 1);
  count("shared_experts", m.shared_experts, 0);
  count("top_k", m.top_k, 1);
  count("vocab", m.vocab, 1);
  m.tied_embeddings = r.get_bool("tied_embeddings", m.tied_embeddings);
  count("expert_groups", m.expert_groups, 1);
  count("topk_groups", m.topk_groups, 1);
  m.capacity_factor = r.get_double("capacity_factor", m.capacity_factor, 0, 1000, false);
  m.dtype = r.get_choice("dtype", {"bf16", "fp8"}, models::to_string(m.dtype)) == "fp8" ? models::Dtype::kFp8 : models::Dtype::kBf16;
  const std::string recipe = r.get_choice("fp8_recipe", {"tensorwise", "delayed", "blockwise"}, models::to_string(m.fp8_recipe));
  m.fp8_recipe = recipe == "delayed"     ? models::Fp8Recipe::kDelayed
                 : recipe == "blockwise" ? models::Fp8Recipe::kBlockwise
                                         : models::Fp8Recipe::kTensorwise;
  m.gated_ffn = r.get_bool("gated_ffn", m.gated_ffn);
  m.grad_bytes_per_param = r.get_double("grad_bytes_per_param", m.grad_bytes_per_param, 0, 64);
  m.optimizer_bytes_per_param = r.get_double("optimizer_bytes_per_param", m.optimizer_bytes_per_param, 0, 64);
  r.finish();
  return m;
}

// A value as an error quotes it: on one line, and short (what is wrong is named by its column).
std::string one_line_excerpt(const std::string& text) {
  constexpr size_t kShown = 80;
  std::string out;
  for (size_t i = 0; i < std::min(text.size(), kShown); ++i) out += std::isprint(static_cast<unsigned char>(text[i])) ? text[i] : '?';
  return text.size() > kShown ? out + "..." : out;
}

// Degrees default to 1 except dp, which is what the GPUs leave: GPUs / (tp x pp x cp). A dp that
// is given must equal that (validate.cc says so, naming the product).
ParallelismSpec read_parallelism(MapReader par, int gpus, int experts) {
  ParallelismSpec p;
  auto degree = [&](const char* key, int& field) { field = static_cast<int>(par.get_int(key, field, 1, 1 << 24)); };
  degree("tp", p.tp);
  degree("pp", p.pp);
  degree("vp", p.vp);
  degree("cp", p.cp);
  const int model_parallel = p.tp * p.pp * p.cp;
  p.dp = std::max(1, gpus / model_parallel);
  degree("dp", p.dp);
  degree("etp", p.etp);
  p.ep = std::max(1, std::min(p.stage_gpus() / p.etp, experts));
  degree("ep", p.ep);
  const std::string zero = par.get_choice("zero", {"0", "1", "2", "3", "fsdp"}, "0");
  p.zero = zero == "fsdp" ? 3 : std::stoi(zero);
  if (par.has("reshard_after_forward") && p.zero < 3)
    par.fail("reshard_after_forward", "expected with zero: 3 or fsdp only (the weights it gathers), got zero: " + zero);
  p.reshard_after_forward = par.get_bool("reshard_after_forward", p.reshard_after_forward);
  const std::string recompute = par.get_choice("recompute", {"none", "selective", "full"}, "none");
  p.recompute = recompute == "none" ? Recompute::kNone : recompute == "selective" ? Recompute::kSelective : Recompute::kFull;
  if (par.has("recompute_modules") && p.recompute != Recompute::kSelective)
    par.fail("recompute_modules", "expected with recompute: selective only (the modules it recomputes), got recompute: " + recompute);
  const auto modules = par.get_choices("recompute_modules", names_of_recompute_modules(), {});
  if (par.has("recompute_modules") && modules.empty())
    par.fail("recompute_modules", "expected at least one module (recompute: none recomputes nothing), got an empty list");
  if (!modules.empty()) p.recompute_modules = recompute_modules_of(modules);
  p.ep_layout = par.get_choice("ep_layout", {"packed", "spread"}, "packed") == "packed" ? EpLayout::kPacked : EpLayout::kSpread;
  p.tp_comm_overlap = par.get_bool("tp_comm_overlap", p.tp_comm_overlap);
  if (par.has("pipeline_layout")) {
    const std::string text = par.get_string("pipeline_layout", std::nullopt);
    auto parsed = parse_pipeline_layout(text);
    if (const auto* error = std::get_if<PipelineLayoutSyntaxError>(&parsed))
      par.fail("pipeline_layout", "expected Megatron's layout notation (e.g. \"Et|(tt|)*30mL\"), got \"" + one_line_excerpt(text) +
                                      "\": at character " + std::to_string(error->column) + ", " + error->message);
    p.pipeline_layout = std::move(std::get<std::vector<std::string>>(parsed));
  }
  par.finish();
  return p;
}

// The batch as sequences (global_batch, micro_batch) or, as before, tokens_per_step; the micro-batch
// defaults to the whole of a data-parallel rank's share (one micro-batch per step).
TrainingSpec read_training(MapReader tr, const ParallelismSpec& p) {
  TrainingSpec t;
  t.seq_len = static_cast<int>(tr.get_int("seq_len", t.seq_len, 1, 1 << 24));
  if (tr.has("global_batch")) {
    if (tr.has("tokens_per_step")) tr.fail("tokens_per_step", "give global_batch (sequences) or tokens_per_step, not both");
    t.tokens_per_step = tr.get_int("global_batch", 1, 1, int64_t{1} << 40) * t.seq_len;
    t.in_sequences = true;
  } else {
    t.tokens_per_step = tr.get_int("tokens_per_step", t.tokens_per_step, 1);
  }
  t.micro_batch = tr.get_int("micro_batch", std::max<int64_t>(1, t.global_batch() / p.dp), 1, int64_t{1} << 40);
  t.local_batch = tr.get_int("local_batch", std::max<int64_t>(1, t.global_batch() / p.dp), 1, int64_t{1} << 40);
  t.grad_sync = tr.get_choice("grad_sync", {"step", "run", "micro_batch"}, t.grad_sync);
  t.cross_entropy = tr.get_choice("cross_entropy", {"fp32", "bf16"}, t.cross_entropy);
  t.expert_bias_add = tr.get_choice("expert_bias_add", {"gemm", "apart"}, t.expert_bias_add);
  t.glu_clamp = tr.get_choice("glu_clamp", {"apart", "fused"}, t.glu_clamp);
  t.delay_wgrad = tr.get_bool("delay_wgrad", t.delay_wgrad);
  t.ddp_bucket_size = tr.get_int("ddp_bucket_size", std::max<int64_t>(40'000'000, int64_t{1'000'000} * p.dp * p.cp), 1, int64_t{1} << 50);
  t.activation_func_fp8_input_store = tr.get_bool("activation_func_fp8_input_store", t.activation_func_fp8_input_store);
  t.attention_output_e5m6 = tr.get_bool("attention_output_e5m6", t.attention_output_e5m6);
  t.expert_execution = tr.get_choice("expert_execution", {"dropless", "capacity"}, "dropless") == "dropless" ? ExpertExecution::kDropless
                                                                                                             : ExpertExecution::kCapacity;
  tr.finish();
  return t;
}

// gating.routing names a mode; gating.<mode> holds its settings. Every mode's settings may be
// present whatever the mode, so that `--set gating.routing=topk` runs a what-if on the same file;
// all are checked, only the active mode's are used.
std::shared_ptr<const gating::RoutingConfig> read_routing(MapReader& gating, const gating::RoutingDefaults& defaults) {
  const std::string mode = gating.get_choice("routing", gating::routing_names(), "topk");
  std::shared_ptr<const gating::RoutingConfig> active;
  for (const gating::RoutingEntry* entry : gating::routing_entries()) {
    auto config = entry->defaults(defaults);
    const std::string name(entry->name);
    if (!config->values().empty()) {
      MapReader r = gating.child(name);
      ParamsReader keys(r);
      config->describe(keys);
      r.finish();
    }
    if (name == mode) active = std::move(config);
  }
  return active;
}

// gating.source names a source; its own keys sit beside it, under gating:.
GatingSpec read_gating(MapReader r, int steps, const gating::RoutingDefaults& routing) {
  GatingSpec g;
  const std::string source = r.get_choice("source", gating::source_names(), "learned");
  // Each source has its own keys; naming another's is a mistake worth a clear word.
  for (const gating::SourceEntry* entry : gating::source_entries()) {
    if (entry->name == source) continue;
    auto other = entry->defaults({steps});
    for (const auto& doc : params::docs_of(*other)) {
      if (r.has(doc.key)) r.fail(doc.key, "applies to gating.source " + std::string(entry->name) + ", not " + source);
    }
  }
  g.routing = read_routing(r, routing);
  auto config = gating::find_source(source)->defaults({steps});
  ParamsReader keys(r);
  config->describe(keys);
  g.source = std::move(config);
  r.finish();
  return g;
}

// What the dispatch sends per token: the alltoall dispatcher's choice (none or gpu); the others fix
// it themselves (DeepEP's kernels deduplicate per node), and a dispatch.dedup that says otherwise
// is an error.
Dedup read_dedup(MapReader& dispatch, const DispatcherEntry& kernel) {
  const std::string name(kernel.name);
  if (kernel.dedup) {
    const std::string fixed = to_string(*kernel.dedup);
    const std::string given = dispatch.get_choice("dedup", {"none", "gpu", "node"}, fixed);
    if (given != fixed)
      dispatch.fail("dedup", "expected " + fixed + " with dispatch.kernel " + name + " (the kernel decides), got " + given);
    return *kernel.dedup;
  }
  const std::string given = dispatch.get_choice("dedup", {"none", "gpu", "node"}, "none");
  if (given == "node")
    dispatch.fail("dedup", "expected none or gpu with dispatch.kernel " + name +
                               " (node deduplication with NVLink forwarding is DeepEP's: dispatch.kernel deepep), got node");
  return given == "gpu" ? Dedup::kGpu : Dedup::kNone;
}

// Labels name the rows of every table and file: two policies whose default labels coincide (two
// `replicated` with different spare slots) are numbered in order, replicated, replicated_2, ...,
// past any label given. A label given twice is an error (validate.cc).
void number_default_labels(std::vector<PolicySpec>& policies) {
  std::set<std::string> taken;
  for (const PolicySpec& p : policies)
    if (p.label_given) taken.insert(p.label);
  std::map<std::string, int> seen;
  for (PolicySpec& p : policies) {
    if (p.label_given) continue;
    const std::string base = p.label;
    if (++seen[base] == 1 && !taken.count(base)) {
      taken.insert(base);
      continue;
    }
    for (int n = std::max(2, seen[base]);; ++n) {
      const std::string candidate = base + "_" + std::to_string(n);
      if (taken.insert(candidate).second) {
        p.label = candidate;
        break;
      }
    }
  }
}

Scenario read_scenario(const YAML::Node& root, SourceMap& sources, const std::string& default_name) {
  if (!root || root.IsNull()) throw ScenarioError(sources.file(), "", "the scenario is empty: expected a mapping of keys");
  MapReader r(sources, root, "");
  Scenario s;
  s.name = r.get_string("name", default_name);
  // A `name` written in the document was checked with it; the default, the file's name, was not.
  if (const auto at = invalid_utf8_at(s.name)) {
    throw ScenarioError(sources.file(), "name",
                        not_utf8_message(s.name, *at, "the file's name, which names the scenario when `name` is not given (set it)"));
  }
  s.seed = static_cast<uint64_t>(r.get_int("seed", 1, 0));
  s.steps = static_cast<int>(r.get_int("steps", 100, 1, 10'000'000));
  s.cluster = read_cluster(r.child("cluster"));
  s.model = read_model(r.child("model"), sources.file());

  s.parallelism = read_parallelism(r.child("parallelism"), s.cluster.gpu_count(), s.model.experts);
  s.training = read_training(r.child("training"), s.parallelism);
  s.training.schedule = r.get_choice("schedule", schedule_names(), s.parallelism.vp > 1 ? "interleaved" : "1f1b");

  MapReader dispatch = r.child("dispatch");
  s.dispatch.kernel = dispatch.get_choice("kernel", dispatcher_names(), s.dispatch.kernel);
  s.dispatch.dedup = read_dedup(dispatch, *find_dispatcher(s.dispatch.kernel));
  // BF16 whatever the GEMMs' precision: Megatron-Core's dispatchers move the hidden states as they
  // are and quantize after (fused_a2a.py dispatches them as given); FP8 dispatch is DeepSeek's.
  s.dispatch.dtype = dispatch.get_choice("dtype", {"bf16", "fp8"}, "bf16") == "fp8" ? models::Dtype::kFp8 : models::Dtype::kBf16;
  s.dispatch.comm_sms = static_cast<int>(dispatch.get_int("comm_sms", s.dispatch.comm_sms, 0, 1 << 16));
  dispatch.finish();

  s.gating = read_gating(r.child("gating"), s.steps, {s.model.top_k, s.model.experts, s.parallelism.ep});
  auto policy_readers = r.children("policies");
  for (auto& p : policy_readers) s.policies.push_back(read_policy(std::move(p), s.parallelism.ep));
  if (s.policies.empty()) s.policies.push_back(default_policy());
  number_default_labels(s.policies);

  MapReader cost = r.child("cost");
  s.cost.gpu_hour = cost.get_double("gpu_hour", 0, 0, 1e6);
  cost.finish();

  MapReader out = r.child("output");
  s.output_dir = out.get_string("dir", "results/runs/" + s.name);
  out.finish();
  r.finish();
  validate(s, sources);
  return s;
}

// The document's root mapping, every override applied.
YAML::Node parse(const std::string& text, SourceMap& sources, const std::vector<Override>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw ScenarioError(sources.location(e.mark), "", "YAML syntax error: " + e.msg);
  }
  if (root && !root.IsNull() && !root.IsMap()) {
    throw ScenarioError(sources.location(root.Mark()), "", "expected a mapping of keys at the top level, got " + describe(root));
  }
  if (!root || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  check_document(root, sources);
  reject_duplicate_keys(root, sources);
  for (const auto& o : overrides) {
    const std::string where = o.origin.empty() ? "--set " + o.text : o.origin;
    apply_override(root, o.text, where);
    sources.add_override(o.text.substr(0, o.text.find('=')), where);
  }
  return root;
}

Scenario load(const std::string& text, const std::string& origin, const std::string& default_name, const std::vector<Override>& overrides) {
  SourceMap sources(origin);
  const YAML::Node root = parse(text, sources, overrides);
  Scenario s = read_scenario(root, sources, default_name);
  s.source_file = origin;
  return s;
}

std::vector<Override> from_set(const std::vector<std::string>& overrides) {
  std::vector<Override> out;
  for (const auto& o : overrides) out.push_back({o, ""});
  return out;
}

}  // namespace

Scenario load_scenario_file(const std::string& path, const std::vector<Override>& overrides) {
  return load(read_document(path, "scenario file"), path, std::filesystem::path(path).stem().string(), overrides);
}

Scenario load_scenario_file(const std::string& path, const std::vector<std::string>& overrides) {
  return load_scenario_file(path, from_set(overrides));
}

Scenario load_scenario_text(const std::string& text, const std::string& origin, const std::vector<std::string>& overrides) {
  return load(text, origin, "scenario", from_set(overrides));
}

ClusterFile load_cluster_file(const std::string& path, const std::vector<std::string>& overrides) {
  SourceMap sources(path);
  const YAML::Node root = parse(read_document(path, "cluster file"), sources, from_set(overrides));
  MapReader r(sources, root, "");
  ClusterFile out;
  out.name = r.get_string("name", std::filesystem::path(path).stem().string());
  out.cluster = read_cluster(r.child("cluster"));
  validate_cluster(out.cluster, Checker(sources));
  return out;
}

}  // namespace moesim::scenarios
