// Megatron's pipeline layout notation: parsed as Megatron unrolls it, written back in short form,
// and checked against the model as the step model needs it.
#include "sim/step/pipeline_layout.h"

#include <gtest/gtest.h>

#include "sim/step/memory_model.h"
#include "sim/step/parallel_layout.h"
#include "tests/sim/pipeline_scenarios.h"

namespace moesim {
namespace {

std::vector<std::string> parsed(std::string_view text) {
  auto result = parse_pipeline_layout(text);
  EXPECT_TRUE(std::holds_alternative<std::vector<std::string>>(result)) << text;
  return std::holds_alternative<std::vector<std::string>>(result) ? std::get<std::vector<std::string>>(result) : std::vector<std::string>{};
}

PipelineLayoutSyntaxError syntax_error(std::string_view text) {
  auto result = parse_pipeline_layout(text);
  EXPECT_TRUE(std::holds_alternative<PipelineLayoutSyntaxError>(result)) << text;
  return std::holds_alternative<PipelineLayoutSyntaxError>(result) ? std::get<PipelineLayoutSyntaxError>(result)
                                                                   : PipelineLayoutSyntaxError{};
}

TEST(PipelineLayout, UnrollsAsMegatronDoes) {
  // The example of Megatron's docs (DeepSeek-V3 on PP 16, VPP 2) and of its parser's docstring.
  const auto deepseek = parsed("Et*3|(tt|)*29,m|L");
  ASSERT_EQ(deepseek.size(), 32u);
  EXPECT_EQ(deepseek[0], "Ettt");
  for (int v = 1; v <= 29; ++v) EXPECT_EQ(deepseek[v], "tt") << v;
  EXPECT_EQ(deepseek[30], "m");
  EXPECT_EQ(deepseek[31], "L");
  EXPECT_EQ(parsed("Ettt|(tt|)*29,m|L"), deepseek);
  // Megatron's own examples of the repetition rules: xy(ab|cd)*2pq, (|ab)*2cd, and an empty stage.
  EXPECT_EQ(parsed("Et(t|m)*2L"), (std::vector<std::string>{"Ett", "mt", "mL"}));
  EXPECT_EQ(parsed("(|tt)*2,t"), (std::vector<std::string>{"", "tt", "ttt"}));
  EXPECT_EQ(parsed("E||t|L"), (std::vector<std::string>{"E", "", "t", "L"}));
  // Commas and spaces are cosmetic; groups may nest.
  EXPECT_EQ(parsed(" E t , t | t L "), (std::vector<std::string>{"Ett", "tL"}));
  EXPECT_EQ(parsed("E((t|)*2)*2L"), (std::vector<std::string>{"Et", "t", "t", "t", "L"}));
}

TEST(PipelineLayout, SyntaxErrorsNameTheirColumnInTheTextAsGiven) {
  const auto unknown = syntax_error("Et, tx|L");
  EXPECT_EQ(unknown.column, 6u);
  EXPECT_NE(unknown.message.find("got 'x'"), std::string::npos) << unknown.message;
  EXPECT_EQ(syntax_error("Et|(tt|*2L").column, 4u);
  EXPECT_EQ(syntax_error("E(t|)tL").column, 5u);
  EXPECT_EQ(syntax_error("Et)|L").column, 3u);
  EXPECT_EQ(syntax_error("Et*|L").column, 3u);
  EXPECT_NE(syntax_error("Et\x01|L").message.find("byte 0x01"), std::string::npos);
  EXPECT_NE(syntax_error("t*99999999999999999999").message.find("count of at most"), std::string::npos);
  EXPECT_NE(syntax_error("((t*1024)*1024)*2").message.find("at most 1048576 symbols"), std::string::npos);
  EXPECT_NE(syntax_error("*3").message.find("expected one of E t m L | (, got '*'"), std::string::npos);
  // Nesting is bounded before it can exhaust the stack: a million open groups fail at the 65th.
  EXPECT_EQ(syntax_error(std::string(1'000'000, '(')).column, 65u);
  std::string deepest = std::string(64, '(') + "t";
  for (int i = 0; i < 64; ++i) deepest += ")*1";
  EXPECT_EQ(parsed(deepest), (std::vector<std::string>{"t"}));
}

TEST(PipelineLayout, WritesTheShortFormBack) {
  EXPECT_EQ(format_pipeline_layout(parsed("Et|(tt|)*30mL")), "Et|(tt|)*30mL");
  EXPECT_EQ(format_pipeline_layout(parsed("Etttt|tttt|ttttL")), "Et*4|t*4|t*4L");
  EXPECT_EQ(format_pipeline_layout(parsed("Et|tt|tt|tt")), "Et|(tt|)*2tt");
  EXPECT_EQ(format_pipeline_layout(parsed("E||t|L")), "E||t|L");
  EXPECT_EQ(format_pipeline_layout({"EtL"}), "EtL");
  for (const char* text : {"Et*3|(tt|)*29,m|L", "(|tt)*2,t", "E((t|)*2)*2L", "E|t|t|t|L"}) {
    const auto stages = parsed(text);
    EXPECT_EQ(parsed(format_pipeline_layout(stages)), stages) << text;
  }
}

TEST(PipelineLayout, DescribesTheEvenSplit) {
  // DeepSeek-V3's 61 layers and one module over 32 virtual stages: Megatron-Bridge's layout.
  EXPECT_EQ(format_pipeline_layout(layout_of_split(split_layers(61, 32, 1), 61)), "Et|(tt|)*30mL");
  // Qwen3-235B-A22B's 94 over PP 8 x VP 4, as Megatron's account-for-embedding-and-loss split.
  EXPECT_EQ(format_pipeline_layout(layout_of_split(split_layers(94, 32), 94)), "Ett|(t*3|)*30ttL");
  EXPECT_EQ(split_of_layout(layout_of_split(split_layers(94, 32), 94)), split_layers(94, 32));
}

TEST(PipelineLayout, NumbersTheModulesAfterTheModelsLayers) {
  EXPECT_EQ(split_of_layout(parsed("E|ttt|tmmL")), (std::vector<std::vector<int>>{{}, {0, 1, 2}, {3, 4, 5}}));
}

TEST(PipelineLayout, ChecksWhatTheStepModelNeeds) {
  EXPECT_FALSE(check_pipeline_layout(parsed("Et|(tt|)*30mL"), 32, 61, 1));
  EXPECT_FALSE(check_pipeline_layout(parsed("E|t*4|L"), 3, 4, 0));  // ends that hold only E and L
  EXPECT_FALSE(check_pipeline_layout(parsed("Et*4L"), 1, 4, 0));
  const auto problem = [](const char* text, int stages, int layers, int mtp) {
    return check_pipeline_layout(parsed(text), stages, layers, mtp).value_or("accepted");
  };
  EXPECT_EQ(problem("Et|tL", 3, 2, 0), "expected 3 virtual stages split by '|', got 2");
  EXPECT_EQ(problem("|Et|tL", 3, 2, 0), "expected one embedding 'E', first in the first virtual stage, got 1 and the first stage \"\"");
  EXPECT_EQ(problem("EtE|tL", 2, 2, 0), "expected one embedding 'E', first in the first virtual stage, got 2 and the first stage \"EtE\"");
  EXPECT_EQ(problem("Et|tL|", 3, 2, 0), "expected one loss 'L', last in the last virtual stage, got 1 and the last stage \"\"");
  EXPECT_EQ(problem("Et|ttL", 2, 2, 0), "expected 2 transformer layers 't' (model.layers), got 3");
  EXPECT_EQ(problem("Et|tmL", 2, 2, 2), "expected 2 prediction module layers 'm' (model.mtp_layers), got 1");
  EXPECT_FALSE(check_pipeline_layout(parsed("Et|tm|L"), 3, 2, 1));  // Megatron's standalone MTP stage
  EXPECT_EQ(problem("Et|tm|mL", 3, 2, 2), "expected every 'm' in one virtual stage (Megatron's rule), got 1 of 2 in virtual stage 1");
  EXPECT_NE(problem("Et|m|tL", 3, 2, 1).find("every 't' before the prediction modules' 'm'"), std::string::npos);
  EXPECT_NE(problem("Et|mtL", 2, 2, 1).find("every 't' before the prediction modules' 'm'"), std::string::npos);
  EXPECT_NE(problem("Et||tL", 3, 2, 0).find("got virtual stage 1 empty"), std::string::npos);
  // Megatron also builds the modules only in a stage's last model chunk (virtual stage v >= pp on
  // PP 2 x VP 2). That follows from the rules above: a chunk after the modules' would need a layer.
  EXPECT_NE(problem("Et|tm|t|L", 4, 3, 1).find("every 't' before the prediction modules' 'm'"), std::string::npos);
  EXPECT_NE(problem("Et|tm|m|L", 4, 2, 2).find("every 'm' in one virtual stage"), std::string::npos);
  EXPECT_FALSE(check_pipeline_layout(parsed("Et|t|tm|L"), 4, 3, 1));
}

// Eight equal layers on PP 4 (pipeline_scenarios.h): written out, the even split changes nothing;
// five layers on the first stage make it the bottleneck. With c a layer's forward and backward of
// one micro-batch: the first stage never waits (four forwards, 6.7c, before the first backward can
// return from the others, 3c), so its 8 micro-batches of 5 layers are the step, 40c, against
// 1F1B's (8 + 3) x 2c = 22c evenly. The ends' own work (the embedding's on the first stage; the
// final norm's, the LM head's and the loss's on the last) counts as the stages' busy times count
// it: all of the first stage's, against the last stage's and three of the others' micro-batches.
TEST(PipelineLayoutStep, TheSlowestStageSetsTheStep) {
  const StepResult even = run_step(pipeline({}));
  const StepResult written = run_step(pipeline({"parallelism.pipeline_layout=Et*2|(tt|)*2ttL"}));
  EXPECT_EQ(written.step_time, even.step_time);
  const scenarios::Scenario uneven = pipeline({"parallelism.pipeline_layout=Et*5|t|t|tL"});
  const StepResult r = run_step(uneven);
  const double by_hand = r.compute_busy[0] / (even.compute_busy[3] + even.compute_busy[1] * (3.0 / 8));
  EXPECT_NEAR(r.step_time / even.step_time, by_hand, 0.03);
  EXPECT_NEAR(r.compute_busy[0] / even.compute_busy[1], 5.0 / 2.0, 0.05);  // five layers against two
  EXPECT_GT(r.bubble / r.step_time, even.bubble / even.step_time);
  const StepConfig config = step_config(uneven);
  EXPECT_NEAR(stage_params(config, 0).dense / stage_params(config, 1).dense, 5.0, 0.01);
}

}  // namespace
}  // namespace moesim
