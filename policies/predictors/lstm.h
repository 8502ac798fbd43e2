// The paper's LSTM forecaster, trained on one run's trace and used on another.
//
// One network (lstm_network.h) reads every (layer, expert) series, its weights shared by all of
// them and trained on all of them together. Weights tied to expert indexes would not carry over:
// which expert becomes popular differs from run to run, so expert 3 of the training run says
// nothing about expert 3 of the next. Shared weights learn how a proportion moves instead
// (smoothing, mean reversion, cycles), which does carry over, and a network trained on one model
// can forecast a model with other numbers of layers or experts.
//
// Each proportion p is fed as p * experts - 1, its relative distance from a uniform share, so
// 16- and 128-expert models see values of one scale. A forecast runs the network over the last
// `unroll` observed steps from a zero state, then feeds each predicted step back as the next
// input (normalised per layer) until the horizon.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "policies/predictors/lstm_network.h"
#include "policies/predictors/predictor.h"

namespace moesim::policies {

struct LstmTraining {
  int hidden = 16;
  int unroll = 32;        // steps per training sequence, and of history per forecast
  int iterations = 1000;  // Adam steps
  int batch = 128;        // series windows per Adam step
  double learning_rate = 5e-3;
  double clip = 1.0;  // the gradient's norm is scaled down to at most this
  uint64_t seed = 1;
};

struct TrainedLstm {
  LstmNetwork<float> network;
  int unroll = 0;
  // The loss on a fixed set of windows (drawn like the training ones, from the stream
  // "predictors.lstm.validation") before training, when the network forecasts the last value,
  // and after.
  double loss_before = 0, loss_after = 0;
};

// Trains on windows drawn from every series of `proportions` ([step][series]) with the seeded
// stream "predictors.lstm.training". Throws std::invalid_argument when the trace has no more
// than `unroll` steps. `progress` gets (Adam steps done, in total).
std::shared_ptr<const TrainedLstm> train_lstm(const std::vector<std::vector<float>>& proportions, const SeriesShape& shape,
                                              const LstmTraining& training, const std::function<void(int, int)>& progress = nullptr);

class LstmPredictor final : public Predictor {
 public:
  LstmPredictor(const SeriesShape& shape, std::shared_ptr<const TrainedLstm> model);
  std::string name() const override { return "lstm"; }
  void observe(std::span<const float> proportions) override;
  void forecast(int horizon, std::span<float> out) override;

 private:
  using Row = LstmNetwork<float>::Row;
  Row scaled(std::span<const float> proportions) const;
  SeriesShape shape_;
  std::shared_ptr<const TrainedLstm> model_;
  std::deque<Row> history_;  // the last `unroll` steps, scaled
};

}  // namespace moesim::policies
