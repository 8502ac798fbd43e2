#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "policies/predictors/evaluation.h"
#include "policies/predictors/lstm.h"
#include "policies/predictors/phase.h"
#include "policies/predictors/registry.h"
#include "sim/base/random.h"

namespace moesim::policies {
namespace {

using Trace = std::vector<std::vector<float>>;

TEST(LstmNetwork, GradientMatchesFiniteDifferences) {
  LstmNetwork<double> net(3, 7);
  Rng rng(7, "test.sequence");
  for (auto& w : net.parameters()) w = rng.normal();  // untrained output weights are zero
  LstmNetwork<double>::Matrix sequence(6, 2);
  for (Eigen::Index i = 0; i < sequence.size(); ++i) sequence.data()[i] = rng.normal();
  Eigen::VectorXd gradient;
  net.loss_and_gradient(sequence, gradient);
  Eigen::VectorXd unused;
  for (Eigen::Index k = 0; k < net.parameters().size(); ++k) {
    const double kept = net.parameters()[k], eps = 1e-6;
    net.parameters()[k] = kept + eps;
    const double up = net.loss_and_gradient(sequence, unused);
    net.parameters()[k] = kept - eps;
    const double down = net.loss_and_gradient(sequence, unused);
    net.parameters()[k] = kept;
    EXPECT_NEAR(gradient[k], (up - down) / (2 * eps), 1e-7 + 1e-5 * std::abs(gradient[k])) << "parameter " << k;
  }
}

TEST(LstmNetwork, StepAgreesWithTheTrainingPass) {
  // With a single step, the training loss is half the squared error of step()'s prediction.
  LstmNetwork<double> net(4, 3);
  Rng rng(3, "test.weights");
  for (auto& w : net.parameters()) w = rng.normal();
  LstmNetwork<double>::Matrix sequence(2, 3);
  sequence << 0.5, -1.0, 2.0, 0.25, 0.0, 1.5;
  auto state = net.start(3);
  const LstmNetwork<double>::Row y = net.step(state, sequence.row(0));
  Eigen::VectorXd gradient;
  EXPECT_NEAR(net.loss_and_gradient(sequence, gradient), (y - sequence.row(1)).squaredNorm() / 6, 1e-12);
}

TEST(LstmNetwork, UntrainedForecastsTheLastValue) {
  LstmNetwork<float> net(8, 1);
  auto state = net.start(3);
  LstmNetwork<float>::Row x(3);
  x << 0.5f, -0.25f, 2.0f;
  for (int t = 0; t < 4; ++t) EXPECT_EQ(net.step(state, x), x);
}

// One layer of four experts whose proportions cycle with period 12, each expert a quarter of a
// cycle after the previous, plus noise; `phase` shifts the whole pattern.
Trace cycling(int steps, double phase, uint64_t seed) {
  Rng rng(seed, "test.cycling");
  Trace trace;
  for (int t = 0; t < steps; ++t) {
    std::vector<float> p(4);
    double sum = 0;
    for (int e = 0; e < 4; ++e) {
      const double angle = 2 * std::numbers::pi * (t / 12.0 + e / 4.0) + phase;
      sum += p[e] = static_cast<float>(0.25 + 0.12 * std::sin(angle) + 0.01 * rng.normal());
    }
    for (auto& v : p) v = static_cast<float>(v / sum);
    trace.push_back(p);
  }
  return trace;
}

double error_at(const std::string& name, const Trace& trace, int horizon, std::shared_ptr<const TrainedLstm> lstm) {
  const SeriesShape shape{1, 4};
  auto predictor = make_predictor(name, shape, PredictorInputs{&trace, std::move(lstm)});
  const auto phases = detect_phases(trace, shape, PhaseOptions{10, 0.1});
  return evaluate(*predictor, trace, shape, phases, EvaluationOptions{{horizon}, 5, 40}).horizons[0].overall;
}

LstmTraining small_training() {
  LstmTraining t;
  t.hidden = 8;
  t.unroll = 24;
  t.iterations = 400;
  t.batch = 16;
  t.learning_rate = 1e-2;
  return t;
}

TEST(Lstm, LearnsACycleOnOneRunAndForecastsAnother) {
  const auto network = train_lstm(cycling(600, 0.0, 1), SeriesShape{1, 4}, small_training());
  EXPECT_LT(network->loss_after, 0.5 * network->loss_before);
  const Trace test = cycling(300, 1.0, 2);  // another run: other noise, another phase
  const double lstm = error_at("lstm", test, 6, network), last_value = error_at("last_value", test, 6, network);
  // Half a cycle ahead, the last value is as wrong as it can be; the cycle is learnable.
  EXPECT_LT(lstm, 0.5 * last_value) << "lstm " << lstm << " pp, last_value " << last_value << " pp";
}

TEST(Lstm, TrainingIsDeterministic) {
  const Trace trace = cycling(200, 0.0, 1);
  LstmTraining t = small_training();
  t.iterations = 20;
  const auto a = train_lstm(trace, SeriesShape{1, 4}, t), b = train_lstm(trace, SeriesShape{1, 4}, t);
  EXPECT_EQ(a->network.parameters(), b->network.parameters());
  t.seed = 2;
  EXPECT_NE(train_lstm(trace, SeriesShape{1, 4}, t)->network.parameters(), a->network.parameters());
}

TEST(Lstm, ForecastsAModelOfAnotherShapeWithLayersSummingToOne) {
  LstmTraining t = small_training();
  t.iterations = 20;
  LstmPredictor p(SeriesShape{2, 8}, train_lstm(cycling(200, 0.0, 1), SeriesShape{1, 4}, t));
  Rng rng(3, "test.shape");
  for (int step = 0; step < 40; ++step) {
    std::vector<float> proportions(16);
    for (auto& v : proportions) v = static_cast<float>(rng.uniform());
    for (int l = 0; l < 2; ++l) {
      float sum = 0;
      for (int e = 0; e < 8; ++e) sum += proportions[l * 8 + e];
      for (int e = 0; e < 8; ++e) proportions[l * 8 + e] /= sum;
    }
    p.observe(proportions);
  }
  std::vector<float> out(5 * 16);
  p.forecast(5, out);
  for (int h = 0; h < 5; ++h) {
    for (int l = 0; l < 2; ++l) {
      float sum = 0;
      for (int e = 0; e < 8; ++e) sum += out[h * 16 + l * 8 + e];
      EXPECT_NEAR(sum, 1.0f, 1e-5f);
    }
  }
}

TEST(Lstm, ConstantSeriesAreForecastClosely) {
  Trace constant(300, std::vector<float>{0.4f, 0.3f, 0.2f, 0.1f});
  const auto lstm = train_lstm(constant, SeriesShape{1, 4}, small_training());
  EXPECT_LT(error_at("lstm", constant, 50, lstm), 0.1);  // percentage points
}

TEST(Lstm, RejectsWhatCannotTrainIt) {
  EXPECT_THROW(train_lstm(cycling(20, 0.0, 1), SeriesShape{1, 4}, small_training()), std::invalid_argument);
  EXPECT_THROW(make_predictor("lstm", SeriesShape{1, 4}), std::invalid_argument);
}

}  // namespace
}  // namespace moesim::policies
