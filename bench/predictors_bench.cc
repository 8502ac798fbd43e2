// The expert-load predictors at the paper's largest shape: 12 MoE layers x 128 experts (1,536
// series). Whole evaluations over a 10,000-step trace for the cheap forecasters; the costly ones
// (ARIMA, LSTM) per refit, per forecast and per training step, from which an evaluation's cost
// follows (bench/README.md).
#include <benchmark/benchmark.h>

#include <cmath>

#include "policies/predictors/arima.h"
#include "policies/predictors/evaluation.h"
#include "policies/predictors/lstm.h"
#include "policies/predictors/registry.h"
#include "sim/base/random.h"

namespace moesim::policies {
namespace {

constexpr SeriesShape kShape{12, 128};
using Trace = std::vector<std::vector<float>>;

// Each expert's share drifts as a random walk in log space, plus per-step noise.
const Trace& trace() {
  static const Trace t = [] {
    Rng rng(1, "bench.predictors");
    std::vector<double> level(kShape.series(), 0.0);
    Trace out(10'000, std::vector<float>(kShape.series()));
    for (auto& step : out) {
      for (int l = 0; l < kShape.layers; ++l) {
        double sum = 0;
        for (int e = 0; e < kShape.experts; ++e) {
          const int s = l * kShape.experts + e;
          level[s] += 0.01 * rng.normal();
          sum += step[s] = static_cast<float>(std::exp(level[s] + 0.05 * rng.normal()));
        }
        for (int e = 0; e < kShape.experts; ++e) step[l * kShape.experts + e] /= static_cast<float>(sum);
      }
    }
    return out;
  }();
  return t;
}

// moesim predict's defaults: origins every 100 steps after 100 steps of history, horizons 1, 100, 1000.
void BM_Evaluate10kSteps(benchmark::State& state, const char* name) {
  const Trace& t = trace();
  const std::vector<LayerPhase> phases(kShape.layers);
  for (auto _ : state) {
    auto predictor = make_predictor(name, kShape, PredictorInputs{&t, nullptr});
    const Evaluation e = evaluate(*predictor, t, kShape, phases, EvaluationOptions{{1, 100, 1000}, 100, 99});
    benchmark::DoNotOptimize(e.horizons[0].overall);
  }
  state.counters["steps"] = static_cast<double>(t.size());
}
BENCHMARK_CAPTURE(BM_Evaluate10kSteps, last_value, "last_value")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Evaluate10kSteps, sw_avg, "sw_avg")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Evaluate10kSteps, ema, "ema")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Evaluate10kSteps, holt, "holt")->Unit(benchmark::kMillisecond);

// Fitting ARIMA(5,1,5) by Hannan-Rissanen to every series' last 500 steps (done every 500 steps).
void BM_ArimaRefit(benchmark::State& state) {
  const Trace& t = trace();
  std::vector<float> out(kShape.series());
  for (auto _ : state) {
    ArimaPredictor p(kShape, ArimaOrder{}, 500, 500);
    for (int s = 0; s < 500; ++s) p.observe(t[s]);
    p.forecast(1, out);  // the first forecast fits
    benchmark::DoNotOptimize(out[0]);
  }
  state.counters["series"] = kShape.series();
}
BENCHMARK(BM_ArimaRefit)->Unit(benchmark::kMillisecond);

// One forecast of `horizon` steps from a fitted ARIMA(5,1,5).
void BM_ArimaForecast(benchmark::State& state) {
  const Trace& t = trace();
  const int horizon = static_cast<int>(state.range(0));
  std::vector<float> out(static_cast<size_t>(horizon) * kShape.series());
  ArimaPredictor p(kShape, ArimaOrder{}, 500, 500);
  for (int s = 0; s < 500; ++s) p.observe(t[s]);
  p.forecast(1, out);
  for (auto _ : state) {
    p.forecast(horizon, out);
    benchmark::DoNotOptimize(out[0]);
  }
}
BENCHMARK(BM_ArimaForecast)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

// One training step of the LSTM at moesim predict's defaults: forward and backward through 32
// steps of 128 windows (Adam's update of the few hundred weights is negligible); argument:
// hidden units.
void BM_LstmTrainStep(benchmark::State& state) {
  LstmNetwork<float> net(static_cast<int>(state.range(0)), 1);
  Rng rng(1, "bench.lstm");
  LstmNetwork<float>::Matrix windows(33, 128);
  for (auto& x : windows.reshaped()) x = static_cast<float>(rng.normal());
  Eigen::VectorXf gradient;
  for (auto _ : state) benchmark::DoNotOptimize(net.loss_and_gradient(windows, gradient));
}
BENCHMARK(BM_LstmTrainStep)->Arg(16)->Arg(64)->Unit(benchmark::kMillisecond);

// One LSTM forecast of `horizon` steps for all 1,536 series (32 steps of history, then the
// horizon fed back step by step).
void BM_LstmForecast(benchmark::State& state) {
  LstmTraining training;
  training.iterations = 1;
  const Trace& t = trace();
  const int horizon = static_cast<int>(state.range(0));
  LstmPredictor p(kShape, train_lstm(Trace(t.begin(), t.begin() + 200), kShape, training));
  for (int s = 0; s < 100; ++s) p.observe(t[s]);
  std::vector<float> out(static_cast<size_t>(horizon) * kShape.series());
  for (auto _ : state) {
    p.forecast(horizon, out);
    benchmark::DoNotOptimize(out[0]);
  }
}
BENCHMARK(BM_LstmForecast)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace moesim::policies
