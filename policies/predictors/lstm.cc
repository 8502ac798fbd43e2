#include "policies/predictors/lstm.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "policies/predictors/registry.h"
#include "sim/base/random.h"

namespace moesim::policies {
namespace {

// Adam (Kingma & Ba), with its usual constants.
class Adam {
 public:
  Adam(Eigen::Index size, double learning_rate) : rate_(learning_rate), m_(Eigen::VectorXd::Zero(size)), v_(Eigen::VectorXd::Zero(size)) {}
  void step(Eigen::VectorXf& parameters, const Eigen::VectorXd& gradient) {
    constexpr double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
    ++t_;
    m_ = beta1 * m_ + (1 - beta1) * gradient;
    v_ = beta2 * v_ + (1 - beta2) * gradient.cwiseProduct(gradient);
    const double rate = rate_ * std::sqrt(1 - std::pow(beta2, t_)) / (1 - std::pow(beta1, t_));
    parameters -= (rate * m_.array() / (v_.array().sqrt() + epsilon)).matrix().cast<float>();
  }

 private:
  double rate_;
  Eigen::VectorXd m_, v_;
  int t_ = 0;
};

float scale(float proportion, int experts) { return proportion * static_cast<float>(experts) - 1.0f; }

// `windows` sequences of unroll + 1 steps, each from a random series and start.
LstmNetwork<float>::Matrix draw_windows(const std::vector<std::vector<float>>& proportions, const SeriesShape& shape, int unroll,
                                        int windows, Rng& rng) {
  LstmNetwork<float>::Matrix sequence(unroll + 1, windows);
  const auto starts = static_cast<uint64_t>(proportions.size()) - static_cast<uint64_t>(unroll);
  for (int b = 0; b < windows; ++b) {
    const auto start = static_cast<size_t>(rng.below(starts));
    const auto s = static_cast<size_t>(rng.below(static_cast<uint64_t>(shape.series())));
    for (int t = 0; t <= unroll; ++t) sequence(t, b) = scale(proportions[start + t][s], shape.experts);
  }
  return sequence;
}

}  // namespace

std::shared_ptr<const TrainedLstm> train_lstm(const std::vector<std::vector<float>>& proportions, const SeriesShape& shape,
                                              const LstmTraining& training, const std::function<void(int, int)>& progress) {
  const int steps = static_cast<int>(proportions.size());
  if (training.hidden < 1 || training.unroll < 1 || training.iterations < 1 || training.batch < 1) {
    throw std::invalid_argument("lstm: hidden size, unroll, iterations and batch must be positive");
  }
  if (steps <= training.unroll) {
    throw std::invalid_argument("lstm: a training trace of " + std::to_string(steps) + " steps is too short for sequences of " +
                                std::to_string(training.unroll + 1) + " steps");
  }
  auto model = std::make_shared<TrainedLstm>(TrainedLstm{LstmNetwork<float>(training.hidden, training.seed), training.unroll});
  Rng validation_rng(training.seed, "predictors.lstm.validation");
  const auto validation = draw_windows(proportions, shape, training.unroll, 1024, validation_rng);
  Eigen::VectorXf gradient;
  model->loss_before = model->network.loss_and_gradient(validation, gradient);
  Rng rng(training.seed, "predictors.lstm.training");
  Adam adam(model->network.parameters().size(), training.learning_rate);
  for (int it = 0; it < training.iterations; ++it) {
    model->network.loss_and_gradient(draw_windows(proportions, shape, training.unroll, training.batch, rng), gradient);
    Eigen::VectorXd g = gradient.cast<double>();
    const double norm = g.norm();
    if (norm > training.clip) g *= training.clip / norm;
    adam.step(model->network.parameters(), g);
    if (progress) progress(it + 1, training.iterations);
  }
  model->loss_after = model->network.loss_and_gradient(validation, gradient);
  return model;
}

LstmPredictor::LstmPredictor(const SeriesShape& shape, std::shared_ptr<const TrainedLstm> model) : shape_(shape), model_(std::move(model)) {
  if (!model_) throw std::invalid_argument("lstm: needs a trained network");
}

LstmPredictor::Row LstmPredictor::scaled(std::span<const float> proportions) const {
  Row x(proportions.size());
  for (size_t s = 0; s < proportions.size(); ++s) x[static_cast<Eigen::Index>(s)] = scale(proportions[s], shape_.experts);
  return x;
}

void LstmPredictor::observe(std::span<const float> proportions) {
  history_.push_back(scaled(proportions));
  if (static_cast<int>(history_.size()) > model_->unroll) history_.pop_front();
}

void LstmPredictor::forecast(int horizon, std::span<float> out) {
  if (history_.empty()) throw std::logic_error("lstm: forecast before any observed step");
  const auto& net = model_->network;
  const int series = shape_.series();
  auto state = net.start(series);
  Row next;
  for (const Row& x : history_) next = net.step(state, x);
  const float experts = static_cast<float>(shape_.experts);
  for (int h = 0; h < horizon; ++h) {
    const std::span<float> row = out.subspan(static_cast<size_t>(h) * series, static_cast<size_t>(series));
    for (int s = 0; s < series; ++s) row[s] = (next[s] + 1.0f) / experts;
    normalize_layers(row, shape_);
    if (h + 1 < horizon) next = net.step(state, scaled(row));
  }
}

const PredictorEntry& predictor_entry_lstm() {
  static const PredictorEntry entry = predictor_entry<params::NoParams>(
      "lstm", "the paper's LSTM, trained on another run's trace (moesim predict --train)",
      [](const params::NoParams&, const SeriesShape& shape, const PredictorInputs& inputs) -> std::unique_ptr<Predictor> {
        if (!inputs.lstm) throw std::invalid_argument("lstm needs a network trained on another run's trace");
        return std::make_unique<LstmPredictor>(shape, inputs.lstm);
      },
      /*in_scenarios=*/false);
  return entry;
}

}  // namespace moesim::policies
