#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "policies/predictors/arima.h"
#include "policies/predictors/evaluation.h"
#include "policies/predictors/median.h"
#include "policies/predictors/phase.h"
#include "policies/predictors/registry.h"
#include "policies/predictors/smoothing.h"
#include "sim/base/random.h"

namespace moesim::policies {
namespace {

using Trace = std::vector<std::vector<float>>;

// Two layers of two experts, expert 0 of each layer following f(t).
template <typename F>
Trace two_by_two(int steps, F f) {
  Trace t;
  for (int s = 0; s < steps; ++s) {
    const float a = static_cast<float>(f(s));
    t.push_back({a, 1 - a, 1 - a, a});
  }
  return t;
}

const SeriesShape kTwoByTwo{2, 2};

Evaluation score(const std::string& name, const Trace& trace, std::vector<int> horizons,
                 const std::vector<params::KeyValue>& settings = {}) {
  auto predictor = make_predictor(name, kTwoByTwo, PredictorInputs{&trace, nullptr}, settings);
  const auto phases = detect_phases(trace, kTwoByTwo, PhaseOptions{10, 0.1});
  EvaluationOptions options;
  options.horizons = std::move(horizons);
  options.stride = 7;
  options.first_origin = 20;
  return evaluate(*predictor, trace, kTwoByTwo, phases, options);
}

TEST(Predictors, ConstantSeriesAreForecastExactly) {
  const Trace trace = two_by_two(400, [](int) { return 0.3; });
  for (const auto& name : predictor_names()) {
    if (name == "lstm") continue;  // learned, so close rather than exact: lstm_test.cc
    const Evaluation e = score(name, trace, {1, 50});
    for (const auto& h : e.horizons) EXPECT_NEAR(h.overall, 0.0, 1e-4) << name << " at horizon " << h.horizon;
  }
}

TEST(Predictors, HoltFollowsALinearTrendExactly) {
  const Trace trace = two_by_two(300, [](int s) { return 0.2 + 0.001 * s; });
  EXPECT_NEAR(score("holt", trace, {1, 30}).horizons[1].overall, 0.0, 1e-3);
  EXPECT_GT(score("last_value", trace, {30}).horizons[0].overall, 1.0);  // 1.55 points behind on average
}

TEST(Predictors, SlidingWindowAppendsItsPredictions) {
  SlidingWindowPredictor p(SeriesShape{1, 1}, 3);
  for (float v : {5.0f, 1.0f, 2.0f, 3.0f}) p.observe(std::vector<float>{v});
  std::vector<float> out(3);
  p.forecast(3, out);
  EXPECT_FLOAT_EQ(out[0], 2.0f);       // (1 + 2 + 3) / 3
  EXPECT_FLOAT_EQ(out[1], 7.0f / 3);   // (2 + 3 + 2) / 3
  EXPECT_FLOAT_EQ(out[2], 22.0f / 9);  // (3 + 2 + 7/3) / 3
}

TEST(Predictors, MedianIgnoresABurstAndAveragesAnEvenWindow) {
  MedianPredictor odd(SeriesShape{1, 2}, 5);
  for (float v : {0.5f, 0.5f, 0.9f, 0.5f, 0.5f}) odd.observe(std::vector<float>{v, 1 - v});
  std::vector<float> out(4);
  odd.forecast(2, out);
  EXPECT_FLOAT_EQ(out[0], 0.5f);  // the mean would be 0.58
  EXPECT_FLOAT_EQ(out[2], 0.5f);  // flat
  MedianPredictor even(SeriesShape{1, 2}, 4);
  for (float v : {0.9f, 0.2f, 0.3f, 0.4f, 0.5f}) even.observe(std::vector<float>{v, 1 - v});
  even.forecast(1, out);
  EXPECT_FLOAT_EQ(out[0], 0.35f);  // (0.3 + 0.4) / 2 of the last four
  EXPECT_FLOAT_EQ(out[1], 0.65f);
}

TEST(PredictorRegistry, EveryEntryListsItsKeysAndTakesThemBack) {
  std::vector<std::string> seen;
  for (const PredictorEntry* entry : predictor_entries()) {
    EXPECT_EQ(std::count(seen.begin(), seen.end(), std::string(entry->name)), 0) << entry->name << " is registered twice";
    seen.emplace_back(entry->name);
    auto config = entry->defaults();
    EXPECT_EQ(config->name(), entry->name);
    // Each key's default, assigned back as text, leaves the settings as they were.
    const auto values = config->values();
    for (const auto& [key, value] : values) EXPECT_TRUE(params::assign(*config, key, value)) << entry->name << "." << key;
    EXPECT_EQ(config->values(), values) << entry->name;
    EXPECT_EQ(params::docs_of(*config).size(), values.size()) << entry->name;
    EXPECT_FALSE(params::assign(*config, "no_such_key", "1")) << entry->name;
  }
  EXPECT_EQ(seen.size(), predictor_names().size());
}

TEST(Predictors, OracleReadsTheFuture) {
  const Trace trace = two_by_two(200, [](int s) { return 0.5 + 0.3 * std::sin(s * 0.7); });
  EXPECT_NEAR(score("oracle", trace, {1, 40}).horizons[1].overall, 0.0, 1e-9);
  EXPECT_GT(score("last_value", trace, {1}).horizons[0].overall, 5.0);
}

TEST(Predictors, UnknownNameIsRejected) {
  const Trace trace = two_by_two(10, [](int) { return 0.5; });
  EXPECT_THROW(make_predictor("prophet", kTwoByTwo, PredictorInputs{&trace, nullptr}), std::invalid_argument);
  EXPECT_THROW(make_predictor("sw_avg", kTwoByTwo, {}, {{"alpha", "0.5"}}), std::invalid_argument);
  EXPECT_THROW(make_predictor("sw_avg", kTwoByTwo, {}, {{"window", "0"}}), std::invalid_argument);
  EXPECT_THROW(make_predictor("oracle", kTwoByTwo), std::invalid_argument);
}

std::vector<double> simulate_arma(double c, std::vector<double> phi, std::vector<double> theta, int n, uint64_t seed) {
  Rng rng(seed, "arma");
  std::vector<double> y(n, 0.0), e(n, 0.0);
  for (int t = 0; t < n; ++t) {
    e[t] = rng.normal();
    double v = c + e[t];
    for (size_t i = 0; i < phi.size(); ++i)
      if (t > static_cast<int>(i)) v += phi[i] * y[t - 1 - i];
    for (size_t j = 0; j < theta.size(); ++j)
      if (t > static_cast<int>(j)) v += theta[j] * e[t - 1 - j];
    y[t] = v;
  }
  return y;
}

TEST(Arima, RecoversArCoefficients) {
  const auto y = simulate_arma(0.5, {0.6, -0.3}, {}, 20000, 1);
  const ArmaFit fit = fit_arma(y, 2, 0);
  EXPECT_NEAR(fit.phi[0], 0.6, 0.03);
  EXPECT_NEAR(fit.phi[1], -0.3, 0.03);
  EXPECT_NEAR(fit.constant, 0.5, 0.05);
}

TEST(Arima, RecoversArmaCoefficients) {
  const auto y = simulate_arma(0.0, {0.5}, {0.4}, 20000, 2);
  const ArmaFit fit = fit_arma(y, 1, 1);
  EXPECT_NEAR(fit.phi[0], 0.5, 0.05);
  EXPECT_NEAR(fit.theta[0], 0.4, 0.05);
}

TEST(Arima, ForecastsAnArProcessBetterThanLastValue) {
  // Proportions around 0.5 following an AR(1) with fast mean reversion: ARIMA(1,0,0) predicts the
  // pull back to the mean, last_value does not.
  const auto y = simulate_arma(0.0, {0.3}, {}, 3000, 3);
  const Trace trace = two_by_two(3000, [&](int s) { return 0.5 + 0.02 * y[s]; });
  const double arima = score("arima", trace, {5}, {{"p", "1"}, {"d", "0"}, {"q", "0"}}).horizons[0].overall;
  const double last = score("last_value", trace, {5}).horizons[0].overall;
  EXPECT_LT(arima, 0.85 * last);
}

TEST(PhaseDetector, FindsWhereFluctuationsDie) {
  // Noise of amplitude 0.2 for 500 steps, then 0.01.
  Rng rng(4, "phase");
  const Trace trace = two_by_two(1000, [&](int s) { return 0.5 + (s < 500 ? 0.2 : 0.01) * (rng.uniform() - 0.5); });
  const auto phases = detect_phases(trace, kTwoByTwo, PhaseOptions{100, 0.1});
  for (const auto& p : phases) {
    EXPECT_GE(p.stable_from, 500);
    EXPECT_LE(p.stable_from, 600);  // the first window wholly after the switch ends at 599
  }
}

TEST(PhaseDetector, ABurstDoesNotEndTheStablePhase) {
  Rng rng(4, "phase");
  const auto noise = [&](int s) { return 0.5 + (s < 500 ? 0.2 : 0.01) * (rng.uniform() - 0.5) + (s == 950 ? 0.3 : 0.0); };
  const auto burst = detect_phases(two_by_two(1000, noise), kTwoByTwo, PhaseOptions{100, 0.1});
  EXPECT_GE(burst[0].stable_from, 500);
  EXPECT_LE(burst[0].stable_from, 600);
  // Fluctuations that come back for longer than a window are a transient again.
  const auto relapse = [&](int s) { return 0.5 + (s < 500 || s >= 800 ? 0.2 : 0.01) * (rng.uniform() - 0.5); };
  EXPECT_EQ(detect_phases(two_by_two(1000, relapse), kTwoByTwo, PhaseOptions{100, 0.1})[0].stable_from, -1);
}

TEST(PhaseDetector, NeverStableWhenNothingSettles) {
  Rng rng(5, "phase");
  const Trace trace = two_by_two(1000, [&](int) { return 0.5 + 0.2 * (rng.uniform() - 0.5); });
  EXPECT_EQ(detect_phases(trace, kTwoByTwo, PhaseOptions{100, 0.1})[0].stable_from, -1);
}

TEST(Evaluation, SplitsErrorsByPhase) {
  Rng rng(6, "phase");
  const Trace trace = two_by_two(1000, [&](int s) { return 0.5 + (s < 500 ? 0.2 : 0.01) * (rng.uniform() - 0.5); });
  const Evaluation e = score("sw_avg", trace, {10});
  EXPECT_GT(e.horizons[0].transient_samples, 0);
  EXPECT_GT(e.horizons[0].stable_samples, 0);
  EXPECT_LT(e.horizons[0].stable, 0.2 * e.horizons[0].transient);
}

}  // namespace
}  // namespace moesim::policies
