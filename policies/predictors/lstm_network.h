// A one-layer LSTM that reads a scalar series and predicts its next value, batched: each column
// of a matrix is one series, and every series shares the same weights. Trained by
// backpropagation through time; Adam (adam.h) steps the flat parameter vector.
//
// Per step, with z = Wx x_t + U h_{t-1} + b split into the input, forget, cell and output gates:
//   c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t),  y_t = x_t + v . h_t + c
// The prediction is the last value plus a learned correction, so an untrained network is
// last_value and training only has to learn what differs from it.
//
// Eigen does the matrix algebra: its vectorised products make a step over the 1,536 series of a
// 12 x 128-expert model a fraction of a millisecond, which hand-written loops do not reach
// without -ffast-math.
#pragma once

#include <Eigen/Core>

#include <cstdint>

namespace moesim::policies {

template <typename Scalar>
class LstmNetwork {
 public:
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using Row = Eigen::Matrix<Scalar, 1, Eigen::Dynamic>;

  // Gate weights uniform in +-1/sqrt(hidden) from the seeded stream "predictors.lstm.init"; the
  // forget gate's bias starts at 1 so that memory is kept until training says otherwise. The
  // output weights start at zero, so an untrained network forecasts exactly the last value.
  LstmNetwork(int hidden, uint64_t seed);

  int hidden() const { return hidden_; }
  static int parameter_count(int hidden) { return 8 * hidden + 4 * hidden * hidden + hidden + 1; }
  Vector& parameters() { return theta_; }
  const Vector& parameters() const { return theta_; }

  // `sequence` has steps + 1 rows and one column per series: row t is the input at step t and
  // row t + 1 its target. Returns the loss, half the mean over steps and series of the squared
  // error, and writes its gradient with respect to parameters() into `gradient`.
  Scalar loss_and_gradient(const Matrix& sequence, Vector& gradient) const;

  // Running the network forward one step at a time, for forecasts.
  struct State {
    Matrix h, c;  // hidden x batch
  };
  State start(int batch) const;
  // Consumes x_t (one value per series) and returns y_t, the prediction of x_{t+1}.
  Row step(State& state, const Row& x) const;

 private:
  struct Views;
  Views views(const Vector& flat) const;
  int hidden_;
  Vector theta_;
};

extern template class LstmNetwork<float>;
extern template class LstmNetwork<double>;

}  // namespace moesim::policies
