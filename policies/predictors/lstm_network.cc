#include "policies/predictors/lstm_network.h"

#include <cmath>
#include <type_traits>
#include <vector>

#include "sim/base/random.h"

namespace moesim::policies {
namespace {

// The parameter blocks of a flat vector, in order: Wx (4H), U (4H x H), b (4H), v (H), c.
template <typename Scalar, typename Pointer>
struct Blocks {
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using Column = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using Row = Eigen::Matrix<Scalar, 1, Eigen::Dynamic>;
  template <typename T>
  using Map = Eigen::Map<std::conditional_t<std::is_const_v<std::remove_pointer_t<Pointer>>, const T, T>>;

  Blocks(Pointer p, int h)
      : wx(p, 4 * h), u(p + 4 * h, 4 * h, h), b(p + 4 * h + 4 * h * h, 4 * h), v(p + 8 * h + 4 * h * h, h), c(p[9 * h + 4 * h * h]) {}
  Map<Column> wx;
  Map<Matrix> u;
  Map<Column> b;
  Map<Row> v;
  std::remove_pointer_t<Pointer>& c;
};

template <typename M>
auto sigmoid(const M& z) {
  return ((-z.array()).exp() + 1).inverse();
}

}  // namespace

template <typename Scalar>
struct LstmNetwork<Scalar>::Views : Blocks<Scalar, const Scalar*> {
  using Blocks<Scalar, const Scalar*>::Blocks;
};

template <typename Scalar>
typename LstmNetwork<Scalar>::Views LstmNetwork<Scalar>::views(const Vector& flat) const {
  return Views(flat.data(), hidden_);
}

template <typename Scalar>
LstmNetwork<Scalar>::LstmNetwork(int hidden, uint64_t seed) : hidden_(hidden), theta_(parameter_count(hidden)) {
  Rng rng(seed, "predictors.lstm.init");
  const double scale = 1.0 / std::sqrt(static_cast<double>(hidden));
  for (Eigen::Index i = 0; i < theta_.size(); ++i) theta_[i] = static_cast<Scalar>((2 * rng.uniform() - 1) * scale);
  Blocks<Scalar, Scalar*> p(theta_.data(), hidden);
  p.b.setZero();
  p.b.segment(hidden, hidden).setOnes();
  p.v.setZero();
  p.c = 0;
}

template <typename Scalar>
typename LstmNetwork<Scalar>::State LstmNetwork<Scalar>::start(int batch) const {
  return {Matrix::Zero(hidden_, batch), Matrix::Zero(hidden_, batch)};
}

template <typename Scalar>
typename LstmNetwork<Scalar>::Row LstmNetwork<Scalar>::step(State& s, const Row& x) const {
  const auto p = views(theta_);
  const int h = hidden_;
  Matrix z = p.wx * x + p.u * s.h;
  z.colwise() += p.b;
  const Matrix i = sigmoid(z.topRows(h)), f = sigmoid(z.middleRows(h, h)), o = sigmoid(z.bottomRows(h));
  s.c = f.cwiseProduct(s.c) + i.cwiseProduct(z.middleRows(2 * h, h).array().tanh().matrix());
  s.h = o.cwiseProduct(s.c.array().tanh().matrix());
  return (x + p.v * s.h).array() + p.c;
}

template <typename Scalar>
Scalar LstmNetwork<Scalar>::loss_and_gradient(const Matrix& sequence, Vector& gradient) const {
  const auto p = views(theta_);
  const int h = hidden_, steps = static_cast<int>(sequence.rows()) - 1;
  const auto batch = sequence.cols();
  // What the backward pass needs of each step: the gates after their nonlinearity, the cell
  // state and the hidden state (index t + 1; index 0 is the zero start).
  std::vector<Matrix> gates(steps), cell(steps + 1, Matrix::Zero(h, batch)), hidden(steps + 1, Matrix::Zero(h, batch));
  std::vector<Row> error(steps);
  Scalar loss = 0;
  for (int t = 0; t < steps; ++t) {
    const Row x = sequence.row(t);
    Matrix z = p.wx * x + p.u * hidden[t];
    z.colwise() += p.b;
    z.topRows(h) = sigmoid(z.topRows(h));
    z.middleRows(h, h) = sigmoid(z.middleRows(h, h));
    z.middleRows(2 * h, h) = z.middleRows(2 * h, h).array().tanh();
    z.bottomRows(h) = sigmoid(z.bottomRows(h));
    cell[t + 1] = z.middleRows(h, h).cwiseProduct(cell[t]) + z.topRows(h).cwiseProduct(z.middleRows(2 * h, h));
    hidden[t + 1] = z.bottomRows(h).cwiseProduct(cell[t + 1].array().tanh().matrix());
    gates[t] = std::move(z);
    const Row y = (x + p.v * hidden[t + 1]).array() + p.c;
    error[t] = y - sequence.row(t + 1);
    loss += error[t].squaredNorm();
  }
  const Scalar n = static_cast<Scalar>(steps) * static_cast<Scalar>(batch);

  gradient.setZero(theta_.size());
  Blocks<Scalar, Scalar*> g(gradient.data(), h);
  Matrix dh_next = Matrix::Zero(h, batch), dc_next = Matrix::Zero(h, batch), dz(4 * h, batch);
  for (int t = steps - 1; t >= 0; --t) {
    const Row dy = error[t] / n;
    g.v += dy * hidden[t + 1].transpose();
    g.c += dy.sum();
    const Matrix dh = p.v.transpose() * dy + dh_next;
    const auto& z = gates[t];
    const auto i = z.topRows(h).array(), f = z.middleRows(h, h).array(), cand = z.middleRows(2 * h, h).array(), o = z.bottomRows(h).array();
    const auto tanh_c = cell[t + 1].array().tanh();
    const Matrix dc = (dh.array() * o * (1 - tanh_c.square())).matrix() + dc_next;
    dz.topRows(h) = dc.array() * cand * i * (1 - i);
    dz.middleRows(h, h) = dc.array() * cell[t].array() * f * (1 - f);
    dz.middleRows(2 * h, h) = dc.array() * i * (1 - cand.square());
    dz.bottomRows(h) = dh.array() * tanh_c * o * (1 - o);
    g.wx += dz * sequence.row(t).transpose();
    g.u += dz * hidden[t].transpose();
    g.b += dz.rowwise().sum();
    dh_next = p.u.transpose() * dz;
    dc_next = dc.cwiseProduct(z.middleRows(h, h));
  }
  return loss / (2 * n);
}

template class LstmNetwork<float>;
template class LstmNetwork<double>;

}  // namespace moesim::policies
