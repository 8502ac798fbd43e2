// Every malformed scenario is rejected with one message that names where (file:line:col or the
// --set), the key path, what was expected and what was found.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "scenarios/loader/loader.h"
#include "tests/scenarios/rejection.h"

namespace moesim::scenarios {
namespace {

struct BadCase {
  const char* name;
  std::string yaml;
  std::vector<std::string> overrides;
  std::vector<std::string> expected_fragments;  // all must appear in the message
};

const std::string kGood =
    "cluster: {preset: h100-dgx, nodes: 2}\n"
    "model: {preset: gpt3-125m-moe}\n"
    "parallelism: {ep: 16, dp: 16}\n"
    "training: {tokens_per_step: 65536, seq_len: 2048}\n";

// Nine anchors, each a list of ten aliases of the one before: 10^9 values once expanded.
std::string alias_bomb() {
  std::string y = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    // Appended piece by piece: GCC 12 warns (-Wrestrict, falsely) on "literal" + std::string here.
    const std::string name = std::to_string(i), previous = std::to_string(i - 1);
    y += "a";
    y += name;
    y += ": &a";
    y += name;
    y += " [";
    for (int k = 0; k < 10; ++k) {
      y += k ? ", *a" : "*a";
      y += previous;
    }
    y += "]\n";
  }
  return y;
}

// Syntax, unknown keys, overrides and the cluster.
std::vector<BadCase> syntax_and_cluster_cases() {
  return {
      {"NegativeNodes",
       "cluster:\n  preset: h100-dgx\n  nodes: -2\nmodel: {preset: gpt3-125m-moe}\n",
       {},
       {"`cluster.nodes`", "expected a positive integer", "got '-2'", "bad.yaml:3:10"}},
      {"NodesNotANumber", kGood, {"cluster.nodes=many"}, {"`cluster.nodes`", "got 'many'", "--set cluster.nodes=many"}},
      {"UnknownTopLevelKey", kGood + "stepz: 3\n", {}, {"`stepz`", "unknown key", "did you mean 'steps'", "bad.yaml:5:1"}},
      {"UnknownNestedKey",
       kGood + "gating: {source: skewed, distrbution: zipf}\n",
       {},
       {"`gating.distrbution`", "did you mean 'distribution'"}},
      {"DuplicateTopLevelKey",
       kGood + "training: {tokens_per_step: 32768}\n",
       {},
       {"`training`", "written twice in the same mapping", "bad.yaml:5:1"}},
      {"DuplicateNestedKey",
       "cluster: {preset: h100-dgx, nodes: 2, nodes: 4}\nmodel: {preset: gpt3-125m-moe}\n",
       {},
       {"`cluster.nodes`", "written twice", "bad.yaml:1:39"}},
      {"NegativeGpuHourPrice", kGood + "cost: {gpu_hour: -1}\n", {}, {"`cost.gpu_hour`", "got '-1'"}},
      {"UnknownKeyFromSet", kGood, {"cluster.nodez=4"}, {"`cluster.nodez`", "did you mean 'nodes'", "--set cluster.nodez=4"}},
      // A --set that creates a mapping is where an unknown key inside it came from.
      {"UnknownMappingMadeBySet", kGood, {"a.b.c=1"}, {"`a`", "unknown key", "--set a.b.c=1"}},
      // Finite but physically meaningless quantities, each with the range it must be in.
      {"TinyBandwidth",
       kGood,
       {"cluster.nic.bandwidth=1e-320 GB/s"},
       {"`cluster.nic.bandwidth`", "from 1 MB/s to 1 PB/s", "got '1e-320 GB/s'"}},
      {"InfiniteBandwidth", kGood, {"cluster.nic.bandwidth=1e308 TB/s"}, {"`cluster.nic.bandwidth`", "from 1 MB/s to 1 PB/s"}},
      {"ZeroIntranodeSmRate",
       kGood,
       {"cluster.gpu.comm_sm_bandwidth_intranode=0 GB/s"},
       {"`cluster.gpu.comm_sm_bandwidth_intranode`", "a bandwidth from 1 MB/s to 1 PB/s", "got '0 GB/s'"}},
      {"TinyPeak", kGood, {"cluster.gpu.bf16_peak=1e-300 TFLOP/s"}, {"`cluster.gpu.bf16_peak`", "from 1 GFLOP/s to 1 EFLOP/s"}},
      {"HugeMemory", kGood, {"cluster.gpu.hbm_capacity=1e30 TB"}, {"`cluster.gpu.hbm_capacity`", "from 1 B to 1 PB"}},
      {"NegativeGemmHalfWidth",
       kGood,
       {"cluster.gpu.gemm_half_width=-3"},
       {"`cluster.gpu.gemm_half_width`", "expected a number in [0, 1e+09]", "got '-3'"}},
      {"LaunchHiddenNotABoolean",
       kGood,
       {"cluster.gpu.launch_hidden=sometimes"},
       {"`cluster.gpu.launch_hidden`", "expected true or false", "got 'sometimes'"}},
      {"ZeroDdpBucket", kGood, {"training.ddp_bucket_size=0"}, {"`training.ddp_bucket_size`", "expected a positive integer", "got '0'"}},
      {"CenturyLatency", kGood, {"cluster.nic.latency=3e9 s"}, {"`cluster.nic.latency`", "from 0 to 1 s"}},
      {"EmptySetValue", kGood, {"steps="}, {"`steps`", "the value is empty", "--set steps="}},
      {"BlankSetValue", kGood, {"cluster.nodes=  "}, {"`cluster.nodes`", "the value is empty"}},
      {"MappingAsKey", kGood + "{a: 1}: 2\n", {}, {"expected a plain key", "got a mapping as a key", "bad.yaml:5:1"}},
      {"ListAsNestedKey",
       "cluster: {preset: h100-dgx, [1, 2]: 3}\nmodel: {preset: gpt3-125m-moe}\n",
       {},
       {"`cluster`", "got a list as a key"}},
      {"MappingAsKeyInSet", kGood, {"steps={a: 1}: 2"}, {"`steps`", "--set steps={a: 1}: 2"}},
      {"AliasBomb", kGood + alias_bomb(), {}, {"more than 100000 values once its aliases are expanded"}},
      // Names reach timeline.json, whose JSON must be UTF-8 (found by fuzz_run: an internal error
      // after the whole run).
      {"NameNotUtf8", kGood + "name: run\xf5\xff\n", {}, {"`name`", "expected UTF-8 text", "byte 0xF5", "bad.yaml:5:7"}},
      {"LabelNotUtf8InSet",
       kGood + "policies: [{placement: static}]\n",
       {"policies.0.label=st\xc3"},
       {"`policies.0.label`", "expected UTF-8 text", "byte 0xC3", "--set policies.0.label="}},
      {"KeyNotUtf8", kGood + "caf\xe9: 1\n", {}, {"expected UTF-8 text", "a key", "byte 0xE9", "bad.yaml:5:1"}},
      {"UnknownClusterPreset",
       "cluster: {preset: h100}\nmodel: {preset: gpt3-125m-moe}\n",
       {},
       {"`cluster.preset`", "h100-dgx", "got 'h100'", "did you mean"}},
      {"UnknownModelPreset", "cluster: {preset: h100-dgx}\nmodel: {preset: gpt4}\n", {}, {"`model.preset`", "got 'gpt4'"}},
      {"MissingClusterPreset", "cluster: {nodes: 2}\nmodel: {preset: gpt3-125m-moe}\n", {}, {"`cluster.preset`", "is required"}},
      {"MissingModel", "cluster: {preset: h100-dgx}\n", {}, {"`model.preset`", "is required"}},
      {"DpNotGpuCount", kGood, {"parallelism.dp=8"}, {"`parallelism.dp`", "expected GPUs / (tp x pp x cp)", "16", "got 8"}},
      {"EpNotDividingDp", kGood, {"parallelism.ep=3"}, {"`parallelism.ep`", "divisor of tp x cp x dp / etp = 16", "got 3"}},
      {"ExpertsNotDivisibleByEp", kGood, {"parallelism.ep=8", "model.experts=12"}, {"`parallelism.ep`", "model.experts (12)"}},
      {"TopKAboveExperts", kGood, {"model.top_k=17"}, {"`model.top_k`", "at most the number of experts (16)", "got 17"}},
      {"ZeroBandwidth",
       kGood,
       {"cluster.nic.bandwidth=0 Gb/s"},
       {"`cluster.nic.bandwidth`", "a bandwidth from 1 MB/s to 1 PB/s", "got '0 Gb/s'"}},
      {"NegativeBandwidth", kGood + "", {"cluster.intra_node.bandwidth=-450 GB/s"}, {"`cluster.intra_node.bandwidth`", "got '-450 GB/s'"}},
  };
}

// Quantities, the model and training.
std::vector<BadCase> quantity_and_model_cases() {
  return {
      {"BandwidthWithoutUnit",
       "cluster:\n  preset: h100-dgx\n  nodes: 2\n  nic: {bandwidth: 400}\nmodel: {preset: gpt3-125m-moe}\n",
       {},
       {"`cluster.nic.bandwidth`", "like '450 GB/s'", "got '400'", "bad.yaml:4"}},
      {"ZeroHidden", kGood, {"model.hidden=0"}, {"`model.hidden`", "positive integer", "got '0'"}},
      {"EfficiencyAboveOne", kGood, {"cluster.nic.efficiency=1.5"}, {"`cluster.nic.efficiency`", "(0, 1]", "got '1.5'"}},
      {"ZeroCapacityFactor", kGood, {"model.capacity_factor=0"}, {"`model.capacity_factor`", "got '0'"}},
      {"BadDtype", kGood, {"model.dtype=fp4"}, {"`model.dtype`", "bf16 | fp8", "got 'fp4'"}},
      {"BadFp8Recipe", kGood, {"model.fp8_recipe=mxfp8"}, {"`model.fp8_recipe`", "tensorwise | delayed | blockwise", "got 'mxfp8'"}},
      {"Fp8OnA100",
       "cluster: {preset: a100-dgx}\nmodel: {preset: gpt3-125m-moe, dtype: fp8}\ntraining: {tokens_per_step: 16384}\n",
       {},
       {"`model.dtype`", "FP8", "A100"}},
      {"TokensNotWholeSequences", kGood, {"training.tokens_per_step=65537"}, {"`training.tokens_per_step`", "multiple of seq_len"}},
      {"SequencesNotDivisibleByDp", kGood, {"training.tokens_per_step=2048"}, {"`training.tokens_per_step`", "not a multiple of dp = 16"}},
      {"ClusterNotAMapping",
       "cluster: h100-dgx\nmodel: {preset: gpt3-125m-moe}\n",
       {},
       {"`cluster`", "expected a mapping", "got 'h100-dgx'"}},
      {"StepsZero", kGood + "steps: 0\n", {}, {"`steps`", "positive integer", "got '0'"}},
      {"FirstMoeLayerPastTheEnd", kGood, {"model.first_moe_layer=12"}, {"`model.first_moe_layer`", "below layers (12)"}},
      {"HeadsNotDividingHidden", kGood, {"model.heads=7"}, {"`model.heads`", "divisor of hidden (768)"}},
      {"GroupSizeNotDividingNode",
       kGood,
       {"cluster.intra_node.group_size=3"},
       {"`cluster.intra_node.group_size`", "divisor of gpus_per_node"}},
      {"NvlsEfficiencyAboveOne",
       kGood,
       {"cluster.intra_node.nvls_efficiency=1.5"},
       {"`cluster.intra_node.nvls_efficiency`", "[0, 1]", "got '1.5'"}},
      {"NvlsEfficiencyOnPcie",
       kGood,
       {"cluster.intra_node.fabric=pcie", "cluster.intra_node.nvls_efficiency=0.6"},
       {"`cluster.intra_node.nvls_efficiency`", "expected 0 on a pcie fabric", "only NVSwitch", "got 0.6"}},
      {"NvlsWithoutSharp",
       "cluster: {preset: a100-dgx, intra_node: {nvls: true}}\nmodel: {preset: gpt3-125m-moe}\n",
       {},
       {"`cluster.intra_node.nvls`", "expected false", "nvswitch, nvls_efficiency 0", "got true"}},
      {"NvlsNotABoolean", kGood, {"cluster.intra_node.nvls=yes please"}, {"`cluster.intra_node.nvls`", "got 'yes please'"}},
      {"LatencyNegative", kGood, {"cluster.nic.latency=-1 us"}, {"`cluster.nic.latency`", "a duration from 0 to 1 s"}},
      {"YamlSyntax", "cluster: {preset: h100-dgx\nmodel: x\n", {}, {"YAML syntax error", "bad.yaml:"}},
      {"TopLevelList", "- a\n- b\n", {}, {"expected a mapping", "bad.yaml:1:1"}},
  };
}

// Placement policies and their predictors.
std::vector<BadCase> policy_cases() {
  return {
      {"UnknownPolicy", kGood + "policies:\n  - {placement: magic}\n", {}, {"`policies.0.placement`", "got 'magic'", "bad.yaml:6:17"}},
      {"UnknownPredictor",
       kGood + "policies:\n  - {placement: predictive, predictor: prophet}\n",
       {},
       {"`policies.0.predictor`", "sw_avg", "got 'prophet'", "bad.yaml:6:40"}},
      {"LstmNeedsATrainingTrace",
       kGood + "policies:\n  - {placement: predictive, predictor: lstm}\n",
       {},
       {"`policies.0.predictor`", "got 'lstm'"}},
      {"PredictorOnStatic",
       kGood + "policies:\n  - {placement: static, predictor: sw_avg}\n",
       {},
       {"`policies.0.predictor`", "unknown key"}},
      {"ZeroRebalanceInterval",
       kGood + "policies:\n  - {placement: oracle, rebalance_every: 0}\n",
       {},
       {"`policies.0.rebalance_every`", "got '0'"}},
      {"UnknownMigrationMode",
       kGood + "policies:\n  - {placement: predictive, migration: lazy}\n",
       {},
       {"`policies.0.migration`", "blocking", "got 'lazy'"}},
      {"MoreReplicasThanSpareSlots",
       kGood + "policies:\n  - {placement: replicated, spare_slots: 1, replicas: 17}\n",
       {},
       {"`policies.0.replicas`", "at most the spare slots", "16 x 1 = 16", "got 17"}},
      {"PlacementBeyondGpuMemory",
       kGood + "policies:\n  - {placement: replicated, spare_slots: 4000}\n",
       {},
       {"`policies.0.spare_slots`", "fits in GPU memory", "80.0 GB", "the largest part is optimizer state", "parallelism.zero",
        "with 4000 spare slots"}},
      {"MaxImbalanceOnPredictive",
       kGood + "policies:\n  - {placement: predictive, max_imbalance: 1.2}\n",
       {},
       {"`policies.0.max_imbalance`", "unknown key"}},
      {"PolicyMissingPlacement", kGood + "policies:\n  - {layout: contiguous}\n", {}, {"`policies.0.placement`", "is required"}},
      {"PoliciesNotAList", kGood + "policies: static\n", {}, {"`policies`", "expected a list", "got 'static'"}},
  };
}

// Gating and routing.
std::vector<BadCase> gating_cases() {
  return {
      {"SetWithoutEquals", kGood, {"cluster.nodes"}, {"expected key.path=value", "--set cluster.nodes"}},
      {"SetListIndexOutOfRange",
       kGood + "policies: [{placement: static}]\n",
       {"policies.3.layout=contiguous"},
       {"out of range", "1 entries"}},
      {"BooleanNotBoolean", kGood, {"model.gated_ffn=maybe"}, {"`model.gated_ffn`", "true or false", "got 'maybe'"}},
      {"EmptyScenario", "", {}, {"`cluster.preset`", "is required"}},
      {"UnknownRouting", kGood, {"gating.routing=top2"}, {"`gating.routing`", "topk | hash | locmoe | c2r", "got 'top2'"}},
      {"LocMoeOnSkewedSource",
       kGood + "gating: {source: skewed}\n",
       {"gating.routing=locmoe"},
       {"`gating.routing`", "expected topk or hash with gating.source skewed", "got locmoe"}},
      {"RoutingOnTrace",
       kGood + "gating: {source: trace, path: t.h5, routing: hash}\n",
       {},
       {"`gating.routing`", "expected topk with gating.source trace", "got hash"}},
      {"LocMoeTopTwo",
       kGood + "gating: {source: learned, routing: locmoe}\n",
       {"model.top_k=2"},
       {"`model.top_k`", "expected 1 with gating.routing locmoe", "got 2"}},
      {"LocMoeBelowMinimumCapacity",
       kGood + "gating: {source: learned, routing: locmoe, locmoe: {angular_deviation: 0.999}}\n",
       {"model.capacity_factor=0.001"},
       {"`model.capacity_factor`", "LocMoE's minimum", "angular deviation 0.999", "got 0.001"}},
      {"LocalityAboveOne",
       kGood + "gating: {source: learned, routing: locmoe, locmoe: {locality: 1.5}}\n",
       {},
       {"`gating.locmoe.locality`", "[0, 1]", "got '1.5'", "bad.yaml:5:"}},
      {"UnknownLocMoeGate",
       kGood + "gating: {source: learned, routing: locmoe, locmoe: {gate: dense}}\n",
       {},
       {"`gating.locmoe.gate`", "learned | grap", "got 'dense'", "bad.yaml:5:"}},
      {"UnknownBalancedExpertSets",
       kGood + "gating: {source: balanced, expert_sets: sorted}\n",
       {},
       {"`gating.expert_sets`", "random | consecutive", "got 'sorted'", "bad.yaml:5:"}},
      {"C2RTopOne",
       kGood + "gating: {source: learned, routing: c2r}\n",
       {},
       {"`model.top_k`", "at least 2 with gating.routing c2r", "got 1"}},
      {"C2RGroupTooSmall",
       kGood + "gating: {source: learned, routing: c2r, c2r: {group_size: 1}}\n",
       {"model.top_k=2"},
       {"`gating.c2r.group_size`", "between model.top_k (2) and model.experts (16)", "got 1"}},
      {"C2RFixedGroupsNotDividing",
       kGood + "gating: {source: learned, routing: c2r, c2r: {groups: fixed, group_size: 3}}\n",
       {"model.top_k=2"},
       {"`gating.c2r.group_size`", "divisor of model.experts (16)", "got 3"}},
      {"C2RWarmupPastTheRun",
       kGood + "steps: 50\ngating: {source: learned, routing: c2r, c2r: {warmup_steps: 50}}\n",
       {"model.top_k=2"},
       {"`gating.c2r.warmup_steps`", "fewer than steps (50)", "got 50"}},
  };
}

// The fabric, the network and the dispatch.
std::vector<BadCase> fabric_and_network_cases() {
  return {
      {"DedupWithCapacity",
       kGood + "dispatch: {dedup: gpu}\n",
       {"training.expert_execution=capacity"},
       {"`dispatch.dedup`", "expected none with training.expert_execution capacity"}},
      {"DedupWithoutTokens",
       kGood + "dispatch: {dedup: gpu}\ngating: {source: skewed}\n",
       {"model.top_k=2"},
       {"`dispatch.dedup`", "expected none with gating.source skewed", "got gpu"}},
      {"NodeDedupWithCapacity",
       kGood + "dispatch: {kernel: deepep}\n",
       {"training.expert_execution=capacity"},
       {"`dispatch.kernel`",
        "expected a kernel that does not deduplicate (alltoall | allgather | deepep_ll) with training.expert_execution capacity",
        "got deepep (node deduplication)"}},
      {"NodeDedupUnderTwoDimensionalHierarchy",
       kGood + "dispatch: {kernel: deepep}\ngating: {source: balanced}\n",
       {"model.top_k=2", "cluster.network.all_to_all=hierarchical"},
       {"`cluster.network.all_to_all`", "expected flat with dispatch.kernel deepep", "got hierarchical"}},
      {"NodeDedupIsDeepEps",
       kGood + "dispatch: {dedup: node}\n",
       {},
       {"`dispatch.dedup`", "expected none or gpu with dispatch.kernel alltoall", "dispatch.kernel deepep", "got node"}},
      {"DedupAgainstTheKernel",
       kGood + "dispatch: {kernel: deepep, dedup: gpu}\n",
       {},
       {"`dispatch.dedup`", "expected node with dispatch.kernel deepep (the kernel decides), got gpu"}},
      {"UnknownDispatcher",
       kGood + "dispatch: {kernel: nccl}\n",
       {},
       {"`dispatch.kernel`", "alltoall | allgather | deepep | deepep_ll", "got 'nccl'"}},
      {"DisconnectedFabric",
       kGood + "",
       {"cluster.fabric.leaf_ports=1", "cluster.fabric.spines=0"},
       {"`cluster.fabric.spines`", "expected a connected topology", "joined by 0 spines", "--set cluster.fabric.spines=0"}},
      {"ZeroNicBandwidth",
       kGood,
       {"cluster.nic.bandwidth=0 Gb/s"},
       {"`cluster.nic.bandwidth`", "expected a bandwidth from 1 MB/s to 1 PB/s", "got '0 Gb/s'"}},
      {"NegativeNvlinkBandwidth",
       "cluster: {preset: h100-dgx, intra_node: {bandwidth: -450 GB/s}}\nmodel: {preset: gpt3-125m-moe}\n",
       {},
       {"`cluster.intra_node.bandwidth`", "expected a bandwidth from 1 MB/s to 1 PB/s", "got '-450 GB/s'", "bad.yaml:1:"}},
      {"GpuCountNotTheTopologys",
       kGood + "",
       {"cluster.gpus=24"},
       {"`cluster.gpus`", "expected nodes x gpus_per_node = 2 x 8 = 16", "got 24"}},
      {"OversubscriptionBelowOne",
       "cluster: {preset: h100-dgx, nodes: 2, fabric: {oversubscription: 0.5}}\nmodel: {preset: gpt3-125m-moe}\n",
       {},
       {"`cluster.fabric.oversubscription`", "expected a number in [1,", "got '0.5'", "bad.yaml:1:"}},
      {"UnknownFabric",
       kGood,
       {"cluster.fabric.kind=torus"},
       {"`cluster.fabric.kind`", "rail_optimized | fat_tree | multi_plane", "got 'torus'"}},
      {"TopOfRackTooSmall",
       kGood,
       {"cluster.fabric.kind=fat_tree", "cluster.fabric.leaf_ports=4"},
       {"`cluster.fabric.leaf_ports`", "expected at least nic.count (8)", "got 4"}},
      {"UnknownNetworkModel", kGood, {"cluster.network.model=packet"}, {"`cluster.network.model`", "analytic | flow", "got 'packet'"}},
      {"PairwiseUnderTheFlowModel",
       kGood,
       {"cluster.network.model=flow", "cluster.network.all_to_all=pairwise"},
       {"`cluster.network.all_to_all`", "expected flat or hierarchical with network.model flow", "got pairwise"}},
      {"NicsApartUnderTheFlowModel",
       kGood,
       {"cluster.network.model=flow", "cluster.network.share_nics=false"},
       {"`cluster.network.share_nics`", "expected true with network.model flow", "got false"}},
      {"ShareNicsNotABoolean", kGood, {"cluster.network.share_nics=often"}, {"`cluster.network.share_nics`", "got 'often'"}},
      {"UnknownDedup", kGood + "dispatch: {dedup: rack}\n", {}, {"`dispatch.dedup`", "none | gpu | node", "got 'rack'"}},
  };
}

// A policy's predictor and its settings.
// The replicated policies' EPLB modes.
// The attention core's kernel curves (cluster.gpu.attention).
std::vector<BadCase> attention_cases() {
  return {
      {"AttentionAbovePeak",
       kGood,
       {"cluster.gpu.attention.forward.efficiency=1.5"},
       {"`cluster.gpu.attention.forward.efficiency`", "expected a number in [0, 1]", "got '1.5'"}},
      {"NegativeAttentionHalfSeq",
       kGood,
       {"cluster.gpu.attention.unmasked_backward.half_seq=-1"},
       {"`cluster.gpu.attention.unmasked_backward.half_seq`", "expected a number in [0, 1e+09]", "got '-1'"}},
      {"AttentionHalfHeadDimNotANumber",
       kGood,
       {"cluster.gpu.attention.backward.half_head_dim=wide"},
       {"`cluster.gpu.attention.backward.half_head_dim`", "expected a number in [0, 1e+09]", "got 'wide'"}},
  };
}

std::vector<BadCase> affinity_cases() {
  return {
      {"AffinityWithoutDeduplication",
       kGood + "policies:\n  - {placement: affinity}\n",
       {"model.top_k=2"},
       {"`policies.0.placement`", "dispatch.dedup gpu (or dispatch.kernel deepep)", "got top_k 2 and dedup none"}},
      {"AffinityWithTopOne",
       kGood + "dispatch: {dedup: gpu}\npolicies:\n  - {placement: affinity}\n",
       {},
       {"`policies.0.placement`", "model.top_k >= 2", "got top_k 1 and dedup gpu"}},
      {"AffinityOracleWithTopOne",
       kGood + "dispatch: {dedup: gpu}\npolicies:\n  - {placement: oracle_affinity}\n",
       {},
       {"`policies.0.placement`", "oracle_affinity puts experts", "model.top_k >= 2", "got top_k 1 and dedup gpu"}},
      {"AffinityImbalanceBelowOne",
       kGood + "policies:\n  - {placement: affinity, max_imbalance: 0.9}\n",
       {},
       {"`policies.0.max_imbalance`", "got '0.9'"}},
  };
}

std::vector<BadCase> replication_cases() {
  return {{"EplbModeWithFewerReplicas",
           kGood + "policies:\n  - {placement: replicated, spare_slots: 1, replicas: 3, mode: global}\n",
           {},
           {"`policies.0.replicas`", "fills every spare slot", "expected ep x spare_slots = 16", "got 3"}},
          {"EplbGroupsNotDividingTheExperts",
           kGood + "policies:\n  - {placement: replicated, mode: hierarchical, groups: 3}\n",
           {},
           {"`policies.0.groups`", "the expert groups (3) must divide the experts"}},
          {"GroupsWithoutHierarchicalMode",
           kGood + "policies:\n  - {placement: phase_aware, groups: 4}\n",
           {},
           {"`policies.0.groups`", "expected 1", "for mode hierarchical", "got 4"}},
          {"UnknownReplicationMode",
           kGood + "policies:\n  - {placement: replicated, mode: best}\n",
           {},
           {"`policies.0.mode`", "node_by_node", "got 'best'"}}};
}

std::vector<BadCase> predictor_cases() {
  return {
      {"PredictorWithoutName",
       kGood + "policies:\n  - {placement: predictive, predictor: {window: 200}}\n",
       {},
       {"`policies.0.predictor.name`", "is required", "sw_avg"}},
      {"PredictorSettingOutOfRange",
       kGood + "policies:\n  - {placement: predictive, predictor: {name: sw_avg, window: 0}}\n",
       {},
       {"`policies.0.predictor.window`", "expected a positive integer", "got '0'"}},
      {"PredictorSettingOfAnother",
       kGood + "policies:\n  - {placement: predictive, predictor: {name: ema, window: 20}}\n",
       {},
       {"`policies.0.predictor.window`", "unknown key"}},
      {"PredictorSettingFromTheCommandLine",
       kGood + "policies:\n  - {placement: predictive, predictor: {name: holt}}\n",
       {"policies.0.predictor.beta=2"},
       {"`policies.0.predictor.beta`", "expected a number in [0, 1]", "got '2'", "--set policies.0.predictor.beta=2"}},
  };
}

std::vector<BadCase> cases() {
  std::vector<BadCase> all;
  for (auto part : {syntax_and_cluster_cases(), quantity_and_model_cases(), policy_cases(), gating_cases(), fabric_and_network_cases(),
                    predictor_cases(), replication_cases(), affinity_cases(), attention_cases()}) {
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class BadInput : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadInput, IsRejectedWithAClearMessage) {
  const BadCase& c = GetParam();
  expect_rejected(c.yaml, c.overrides, c.expected_fragments);
}

INSTANTIATE_TEST_SUITE_P(Scenarios, BadInput, ::testing::ValuesIn(cases()),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(BadInputFile, MissingFileIsNamed) {
  try {
    load_scenario_file("/nonexistent/x.yaml");
    FAIL();
  } catch (const ScenarioError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/x.yaml"), std::string::npos);
  }
}

TEST(BadInputFile, AFileNameThatIsNotUtf8MustBeGivenAName) {
  // The file's stem names a scenario without `name`, and that name reaches timeline.json.
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("moesim-bad-input-" + std::to_string(::getpid()) + "-caf\xe9.yaml");
  std::ofstream(path) << kGood;
  try {
    load_scenario_file(path.string());
    ADD_FAILURE() << "loaded";
  } catch (const ScenarioError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("`name`: expected UTF-8 text, found the byte 0xE9"), std::string::npos) << message;
    EXPECT_NE(message.find("the file's name"), std::string::npos) << message;
  }
  EXPECT_EQ(load_scenario_file(path.string(), std::vector<std::string>{"name=cafe"}).name, "cafe");
  std::filesystem::remove(path);
}

TEST(BadInputFile, ADirectoryOrAnEndlessFileSaysSo) {
  for (const auto& [path, fragment] :
       {std::pair{"/tmp", "is a directory, expected a scenario file"}, std::pair{"/dev/zero", "larger than 16 MiB"}}) {
    try {
      load_scenario_file(path);
      FAIL() << path;
    } catch (const ScenarioError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace moesim::scenarios
