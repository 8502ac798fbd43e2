// The keys of parallelism, schedules, batches and attention: every inconsistency rejected in one
// line naming the key, what was expected and what was found.
#include <gtest/gtest.h>

#include "scenarios/loader/loader.h"
#include "tests/scenarios/rejection.h"

namespace moesim::scenarios {
namespace {

struct BadCase {
  const char* name;
  std::vector<std::string> overrides;
  std::vector<std::string> expected_fragments;  // all must appear in the message
};

// 4 nodes x 8 H100, Qwen3-30B-A3B cut to 8 layers, TP2 PP2 EP8: dp 8.
const std::string kGood =
    "cluster: {preset: h100-dgx, nodes: 4}\n"
    "model: {preset: qwen3-30b-a3b, layers: 8}\n"
    "parallelism: {tp: 2, pp: 2, ep: 8}\n"
    "training: {global_batch: 64, micro_batch: 1, seq_len: 4096}\n"
    "gating: {source: balanced}\n";

// What the backward pass recomputes, and what it keeps in FP8.
std::vector<BadCase> recompute_cases() {
  return {
      {"RecomputeModulesWithoutSelective",
       {"parallelism.recompute_modules=[layernorm]"},
       {"`parallelism.recompute_modules`", "with recompute: selective only", "got recompute: none"}},
      {"UnknownRecomputeModule",
       {"parallelism.recompute=selective", "parallelism.recompute_modules=[layernorm, moe_actt]"},
       {"`parallelism.recompute_modules.1`", "core_attn | layernorm | moe_act | mla_up_proj | mlp | moe | shared_experts", "got 'moe_actt'",
        "did you mean 'moe_act'"}},
      {"RecomputeModuleTwice",
       {"parallelism.recompute=selective", "parallelism.recompute_modules=[moe_act, moe_act]"},
       {"`parallelism.recompute_modules.1`", "'moe_act' is listed twice"}},
      {"RecomputeModulesAMapping",
       {"parallelism.recompute=selective", "parallelism.recompute_modules={moe_act: 1}"},
       {"`parallelism.recompute_modules`", "expected a list of core_attn | layernorm", "got a mapping"}},
      {"NoRecomputeModules",
       {"parallelism.recompute=selective", "parallelism.recompute_modules=[]"},
       {"`parallelism.recompute_modules`", "at least one module", "got an empty list"}},
      {"MlaUpProjectionWithoutMla",
       {"parallelism.recompute=selective", "parallelism.recompute_modules=mla_up_proj"},
       {"`parallelism.recompute_modules`", "mla_up_proj only with model.attention mla", "got attention gqa"}},
      {"DenseMlpWithoutDenseLayers",
       {"parallelism.recompute=selective", "parallelism.recompute_modules=[mlp]"},
       {"`parallelism.recompute_modules`", "mlp only with dense FFN layers", "8 layers are all MoE layers"}},
      {"SharedExpertsWithoutSharedExperts",
       {"parallelism.recompute=selective", "parallelism.recompute_modules=[moe, shared_experts]"},
       {"`parallelism.recompute_modules`", "shared_experts only with model.shared_experts above 0", "got 0"}},
      {"TpCommOverlapWithoutTensorParallelism",
       {"parallelism.tp=1", "parallelism.tp_comm_overlap=true"},
       {"`parallelism.tp_comm_overlap`", "expected parallelism.tp above 1", "got tp 1"}},
      {"TpCommOverlapNotABoolean", {"parallelism.tp_comm_overlap=sometimes"}, {"`parallelism.tp_comm_overlap`", "got 'sometimes'"}},
      {"Fp8ActivationInputWithoutAGatedFfn",
       {"training.activation_func_fp8_input_store=true", "model.gated_ffn=false"},
       {"`training.activation_func_fp8_input_store`", "gated FFN", "got gated_ffn false"}},
  };
}

// The model's routing groups, attention and prediction modules.
std::vector<BadCase> model_cases() {
  return {
      {"ExpertGroups", {"model.expert_groups=3"}, {"`model.expert_groups`", "divisor of model.experts (128)", "got 3"}},
      {"TooFewGroupsForTopK",
       {"model.expert_groups=64", "model.topk_groups=2"},
       {"`model.topk_groups`", "top_k (8)", "topk_groups x experts / expert_groups = 4"}},
      {"Attention", {"model.attention=linear"}, {"`model.attention`", "gqa | mla", "got 'linear'"}},
      {"QueryKeyNormWithMla", {"model.attention=mla"}, {"`model.qk_norm`", "expected false with model.attention mla", "got true"}},
      {"QueryKeyNormNotABool", {"model.qk_norm=sometimes"}, {"`model.qk_norm`", "got 'sometimes'"}},
      {"MtpLayersNegative", {"model.mtp_layers=-1"}, {"`model.mtp_layers`", "non-negative integer", "got '-1'"}},
      {"MtpLayersNotAnInteger", {"model.mtp_layers=one"}, {"`model.mtp_layers`", "got 'one'"}},
      {"MtpLayersPastTheTaskTags", {"model.mtp_layers=4090"}, {"`model.mtp_layers`", "expected fewer than 4088", "got 4090"}},
  };
}

// An explicit pipeline split in Megatron's notation: its syntax, then against the model and the
// schedule's virtual stages (two here, or four with vp 2).
std::vector<BadCase> pipeline_layout_cases() {
  const std::string key = "parallelism.pipeline_layout=";
  return {
      {"PipelineLayoutUnknownSymbol",
       {key + "Et*4|t*4x"},
       {"`parallelism.pipeline_layout`", "Megatron's layout notation", "got \"Et*4|t*4x\": at character 9", "got 'x'"}},
      {"PipelineLayoutUnclosedGroup", {key + "Et|(tt|*2L"}, {"at character 4", "expected a ')' to close this '('"}},
      {"PipelineLayoutGroupWithoutACount", {key + "E(t*4|)t*4L"}, {"at character 7", "expected '*' and a count after ')'"}},
      {"PipelineLayoutStrayParenthesis", {key + "Et*4)|t*4L"}, {"at character 5", "expected a '(' before this ')'"}},
      {"PipelineLayoutCountWithoutDigits", {key + "Et*|t*4L"}, {"at character 3", "expected a count (digits) after '*'"}},
      {"PipelineLayoutTooLong", {key + "(((t*1000)*1000)*1000)"}, {"at most 1048576 symbols once repetitions are unrolled"}},
      {"PipelineLayoutQuotedShort",
       {key + "Et*4|" + std::string(200, 't') + "xL"},
       {"got \"Et*4|" + std::string(75, 't') + "...\": at character 206", "got 'x'"}},  // 80 characters of it
      {"PipelineLayoutNotAString", {key + "{E: t}"}, {"`parallelism.pipeline_layout`", "got a mapping"}},
      {"PipelineLayoutStageCount",
       {key + "Et*8L"},
       {"`parallelism.pipeline_layout`", "expected pp = 2 virtual stages under schedule 1f1b, split by '|', got 1"}},
      {"PipelineLayoutInterleavedStageCount",
       {"parallelism.vp=2", key + "Et*4|t*4L"},
       {"expected pp x vp = 4 virtual stages under schedule interleaved", "got 2"}},
      {"PipelineLayoutLayerCount", {key + "Et*4|t*3L"}, {"expected 8 transformer layers 't' (model.layers), got 7"}},
      {"PipelineLayoutModuleCount", {key + "Et*4|t*4mL"}, {"expected 0 prediction module layers 'm' (model.mtp_layers), got 1"}},
      {"PipelineLayoutEmbeddingNotFirst",
       {key + "tEt*3|t*4L"},
       {"expected one embedding 'E', first in the first virtual stage", "\"tEttt\""}},
      {"PipelineLayoutLossNotLast", {key + "Et*4|t*3Lt"}, {"expected one loss 'L', last in the last virtual stage", "\"tttLt\""}},
      {"PipelineLayoutModulesSplit",
       {"model.mtp_layers=2", "parallelism.vp=2", key + "Ett|ttm|ttm|ttL"},
       {"expected every 'm' in one virtual stage (Megatron's rule), got 1 of 2 in virtual stage 1"}},
      {"PipelineLayoutLayerAfterTheModules",
       {"model.mtp_layers=1", key + "Et*4|t*3mtL"},
       {"expected every 't' before the prediction modules' 'm'", "in virtual stage 1"}},
      {"PipelineLayoutEmptyStage",
       {"parallelism.vp=2", key + "Et*4|t*4||L"},
       {"expected a layer in every virtual stage but the first and the last", "got virtual stage 2 empty"}},
  };
}

// The batch against the degrees and the schedule: micro-batches and runs of the schedule.
std::vector<BadCase> batch_cases() {
  return {
      {"MicroBatchNotDividingTheRankShare",
       {"training.micro_batch=3"},
       {"`training.micro_batch`", "divisor of global_batch / dp = 64 / 8 = 8", "got 3"}},
      {"InterleavedMicroBatchesInGroupsOfPp",
       {"parallelism.vp=2", "training.micro_batch=8"},
       {"`training.micro_batch`", "micro-batches per run of the schedule (1)", "multiple of pp (2)"}},
      {"InterleavedRunsInGroupsOfPp",
       {"parallelism.vp=2", "training.local_batch=1"},
       {"`training.micro_batch`", "micro-batches per run of the schedule (1)", "multiple of pp (2)"}},
      {"LocalBatchNotDividingTheRankShare",
       {"training.local_batch=3"},
       {"`training.local_batch`", "divisor of global_batch / dp = 8 sequences per data-parallel rank", "got 3"}},
      {"LocalBatchNotAMultipleOfTheMicroBatch",
       {"training.micro_batch=2", "training.local_batch=1"},
       {"`training.local_batch`", "a multiple of micro_batch = 2", "got 1"}},
      {"LocalBatchWithDualPipe",
       {"schedule=dualpipe", "parallelism.vp=2", "training.local_batch=4"},
       {"`training.local_batch`", "expected global_batch / dp = 8 (one run of the schedule a step) with schedule dualpipe", "got 4"}},
      {"LocalBatchNotANumber", {"training.local_batch=all"}, {"`training.local_batch`", "got 'all'"}},
      {"GradSyncWithDualPipe",
       {"schedule=dualpipe", "parallelism.vp=2", "training.grad_sync=micro_batch"},
       {"`training.grad_sync`", "expected step with schedule dualpipe", "got micro_batch"}},
      {"GradSyncUnknown",
       {"training.grad_sync=every"},
       {"`training.grad_sync`", "expected one of step | run | micro_batch", "got 'every'"}},
      {"ReshardAfterForwardWithoutZero3",
       {"parallelism.zero=1", "parallelism.reshard_after_forward=false"},
       {"`parallelism.reshard_after_forward`", "expected with zero: 3 or fsdp only", "got zero: 1"}},
      {"ReshardAfterForwardNotABool",
       {"parallelism.zero=fsdp", "parallelism.reshard_after_forward=never"},
       {"`parallelism.reshard_after_forward`", "got 'never'"}},
  };
}

std::vector<BadCase> cases() {
  std::vector<BadCase> all = recompute_cases();
  for (const auto& more : {model_cases(), pipeline_layout_cases(), batch_cases()}) all.insert(all.end(), more.begin(), more.end());
  const std::vector<BadCase> rest = {
      {"DegreesNotDividingGpus", {"parallelism.tp=3"}, {"`parallelism`", "tp x pp x cp = 3 x 2 x 1 = 6", "divide the GPU count 32"}},
      {"DpNotWhatIsLeft",
       {"parallelism.dp=4"},
       {"`parallelism.dp`", "GPUs / (tp x pp x cp) = 32 / 4 = 8", "got 4", "--set parallelism.dp=4"}},
      {"EpNotFoldingOntoAStage", {"parallelism.ep=32"}, {"`parallelism.ep`", "divisor of tp x cp x dp / etp = 16 / 1", "got 32"}},
      {"ExpertTensorParallelNotFolding", {"parallelism.etp=3"}, {"`parallelism.ep`", "divisor of tp x cp x dp / etp = 16 / 3", "got 8"}},
      {"EpLayout", {"parallelism.ep_layout=ring"}, {"`parallelism.ep_layout`", "packed | spread", "got 'ring'"}},
      {"SpreadEpGroupsOfUnevenNodes",
       {"cluster.nodes=3", "parallelism.ep=4", "parallelism.ep_layout=spread", "training.global_batch=48"},
       {"`parallelism.ep_layout`", "stride of etp x expert-dp = 1 x 3 = 3 GPUs", "cluster.gpus_per_node (8)", "got spread"}},
      {"ZeroStage", {"parallelism.zero=4"}, {"`parallelism.zero`", "0 | 1 | 2 | 3 | fsdp", "got '4'"}},
      {"Recompute", {"parallelism.recompute=some"}, {"`parallelism.recompute`", "none | selective | full", "got 'some'"}},
      {"CrossEntropy", {"training.cross_entropy=fp16"}, {"`training.cross_entropy`", "fp32 | bf16", "got 'fp16'"}},
      {"ExpertBiasAdd", {"training.expert_bias_add=later"}, {"`training.expert_bias_add`", "gemm | apart", "got 'later'"}},
      {"GluClampWhere", {"training.glu_clamp=inside"}, {"`training.glu_clamp`", "apart | fused", "got 'inside'"}},
      {"GluClampNegative", {"model.glu_clamp=-7"}, {"`model.glu_clamp`", "expected a number in [0, 1e+06]", "got '-7'"}},
      {"ExpertBiasNotABool", {"model.expert_bias=some"}, {"`model.expert_bias`", "got 'some'"}},
      {"VirtualStagesWithoutPipeline", {"parallelism.pp=1", "parallelism.vp=2"}, {"`parallelism.vp`", "expected 1 with pp 1", "got 2"}},
      {"TooManyVirtualStages", {"parallelism.vp=6"}, {"`parallelism.pp`", "at most model.layers + 2 (10)", "got 2 x 6"}},
      {"InterleavedWithoutVp",
       {"schedule=interleaved"},
       {"`parallelism.vp`", "more than 1 with schedule interleaved", "got interleaved with vp 1"}},
      {"OneChunkScheduleWithVp",
       {"parallelism.vp=2", "schedule=1f1b"},
       {"`schedule`", "expected interleaved, overlap, dualpipev or dualpipe", "got 1f1b with vp 2"}},
      {"DualPipeVWithoutTwoChunks",
       {"schedule=dualpipev", "parallelism.vp=3"},
       {"`parallelism.vp`", "expected 2 with schedule dualpipev (two chunks per GPU in a V)", "got dualpipev with vp 3"}},
      {"DualPipeVWithTooFewMicroBatches",
       {"schedule=dualpipev", "parallelism.vp=2", "training.micro_batch=4"},
       {"`training.micro_batch`", "at least 2 x pp = 4 micro-batches per step with schedule dualpipev", "got 2"}},
      {"DualPipeWithoutTwoChunks",
       {"schedule=dualpipe"},
       {"`parallelism.vp`", "expected 2 with schedule dualpipe (each GPU holds a chunk of both copies)", "got dualpipe with vp 1"}},
      {"DualPipeWithAnOddPipeline",
       {"schedule=dualpipe", "parallelism.vp=2", "cluster.nodes=3", "parallelism.pp=3"},
       {"`parallelism.pp`", "an even number with schedule dualpipe (stages pair with their mirror)", "got 3"}},
      {"DualPipeWithAnOddNumberOfMicroBatches",
       {"schedule=dualpipe", "parallelism.vp=2", "training.global_batch=40"},
       {"`training.micro_batch`", "an even number of at least 2 x pp = 4 micro-batches per step with schedule dualpipe", "got 5"}},
      {"DualPipeWithTooFewMicroBatches",
       {"schedule=dualpipe", "parallelism.vp=2", "training.micro_batch=4"},
       {"`training.micro_batch`", "at least 2 x pp = 4", "(half enter at each end), got 2"}},
      {"DualPipeOnTheFlowModel",
       {"schedule=dualpipe", "parallelism.vp=2", "cluster.network.model=flow"},
       {"`cluster.network.model`", "do not share links with schedule dualpipe", "got flow"}},
      {"DelayedWeightGradientsWithDualPipe",
       {"schedule=dualpipe", "parallelism.vp=2", "training.delay_wgrad=true"},
       {"`training.delay_wgrad`", "expected schedule overlap", "got schedule dualpipe"}},
      {"DelayedWeightGradientsOutsideTheOverlap",
       {"training.delay_wgrad=true"},
       {"`training.delay_wgrad`", "expected schedule overlap", "got schedule 1f1b"}},
      {"DelayedWeightGradientsNotABool", {"training.delay_wgrad=later"}, {"`training.delay_wgrad`", "later"}},
      {"E5m6AttentionOutputNotABool", {"training.attention_output_e5m6=12"}, {"`training.attention_output_e5m6`", "got '12'"}},
      {"UnknownSchedule", {"schedule=zigzag"}, {"`schedule`", "1f1b | interleaved | overlap", "got 'zigzag'"}},
      {"BatchNotSplittingOverDp", {"training.global_batch=60"}, {"`training.global_batch`", "60 sequences is not a multiple of dp = 8"}},
      {"BothBatchKeys",
       {"training.tokens_per_step=262144"},
       {"`training.tokens_per_step`", "global_batch (sequences) or tokens_per_step, not both"}},
      {"SequenceNotSplittingOverCp",
       {"parallelism.tp=1", "parallelism.cp=3", "parallelism.ep=4", "cluster.nodes=3", "training.seq_len=4000", "training.global_batch=48"},
       {"`training.seq_len`", "multiple of parallelism.cp (3)", "got 4000"}},
      {"DoesNotFit",
       {"parallelism.pp=1", "training.global_batch=128", "training.micro_batch=8", "model.layers=48"},
       {"`parallelism`", "fits in GPU memory", "the largest part is activations", "parallelism.recompute"}},
  };
  all.insert(all.end(), rest.begin(), rest.end());
  return all;
}

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class BadParallelism : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadParallelism, IsRejectedWithAClearMessage) {
  const BadCase& c = GetParam();
  expect_rejected(kGood, c.overrides, c.expected_fragments);
}

// On one node, EP 8 leaves each expert's optimizer state on one GPU, whatever ZeRO shards: the
// message names what would shrink it, not the ZeRO stage the scenario already has. The whole
// mapping is at fault, so the error points at the file's `parallelism`, not at one --set in it.
TEST(BadParallelism, DoesNotFitSuggestsNoZeroStageAlreadySet) {
  const std::vector<std::string> full{"cluster.nodes=1", "parallelism.pp=1", "parallelism.tp=1", "model.layers=48",
                                      "training.global_batch=32"};
  auto with = [&](const std::string& zero) {
    std::vector<std::string> overrides = full;
    overrides.push_back("parallelism.zero=" + zero);
    return overrides;
  };
  expect_rejected(kGood, with("0"),
                  {"the largest part is optimizer state", "(shrink it with parallelism.zero: 1, parallelism.pp, parallelism.ep)"});
  expect_rejected(kGood, with("1"), {"the largest part is optimizer state", "(shrink it with parallelism.pp, parallelism.ep)"});
}

// FSDP keeping every layer's gathered weights from its forward to its backward holds the whole
// model gathered where EP 1 gives each GPU every expert: 30 billion parameters in BF16. Resharded
// after each forward, the same mapping fits.
TEST(BadParallelism, KeptGatheredWeightsThatDoNotFitNameTheKeyThatDropsThem) {
  std::vector<std::string> overrides{"model.layers=48", "parallelism.tp=1", "parallelism.pp=1", "parallelism.ep=1",
                                     "parallelism.zero=fsdp"};
  EXPECT_NO_THROW(load_scenario_text(kGood, "good.yaml", overrides));
  overrides.push_back("parallelism.reshard_after_forward=false");
  expect_rejected(kGood, overrides,
                  {"the largest part is gathered layers", "(shrink it with parallelism.reshard_after_forward, parallelism.pp"});
}

TEST(BadParallelism, TheGoodScenarioLoads) {
  const Scenario s = load_scenario_text(kGood, "good.yaml");
  EXPECT_EQ(s.parallelism.dp, 8);
  EXPECT_EQ(s.training.micro_batches(s.parallelism), 8);
  EXPECT_EQ(s.training.schedule, "1f1b");
}

INSTANTIATE_TEST_SUITE_P(Scenarios, BadParallelism, ::testing::ValuesIn(cases()),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

}  // namespace
}  // namespace moesim::scenarios
