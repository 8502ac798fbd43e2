#include "sim/calibrate/bounded_least_squares.h"

#include <Eigen/Dense>
#include <limits>

namespace moesim::calibrate {
namespace {

Eigen::MatrixXd matrix(const std::vector<std::vector<double>>& columns) {
  const Eigen::Index rows = columns.empty() ? 0 : static_cast<Eigen::Index>(columns[0].size());
  Eigen::MatrixXd a(rows, static_cast<Eigen::Index>(columns.size()));
  for (size_t j = 0; j < columns.size(); ++j)
    for (Eigen::Index i = 0; i < rows; ++i) a(i, static_cast<Eigen::Index>(j)) = columns[j][static_cast<size_t>(i)];
  return a;
}

constexpr double kRankTolerance = 1e-9;

}  // namespace

bool full_column_rank(const std::vector<std::vector<double>>& columns) {
  Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(matrix(columns));
  qr.setThreshold(kRankTolerance);
  return qr.rank() == static_cast<Eigen::Index>(columns.size());
}

BoundedSolution bounded_least_squares(const std::vector<std::vector<double>>& columns, const std::vector<double>& b,
                                      const std::vector<Bounds>& bounds) {
  const Eigen::MatrixXd a = matrix(columns);
  const Eigen::Map<const Eigen::VectorXd> rhs(b.data(), static_cast<Eigen::Index>(b.size()));
  const size_t n = columns.size();
  size_t faces = 1;
  for (size_t j = 0; j < n; ++j) faces *= 3;
  BoundedSolution best{{}, std::numeric_limits<double>::infinity()};
  for (size_t face = 0; face < faces; ++face) {
    // Per unknown: 0 free, 1 at its lower bound, 2 at its upper bound.
    Eigen::VectorXd x(static_cast<Eigen::Index>(n));
    std::vector<Eigen::Index> free;
    size_t code = face;
    for (size_t j = 0; j < n; ++j, code /= 3) {
      const auto k = static_cast<Eigen::Index>(j);
      x(k) = code % 3 == 2 ? bounds[j].upper : bounds[j].lower;
      if (code % 3 == 0) free.push_back(k);
    }
    if (!free.empty()) {
      Eigen::MatrixXd sub(a.rows(), static_cast<Eigen::Index>(free.size()));
      for (size_t f = 0; f < free.size(); ++f) sub.col(static_cast<Eigen::Index>(f)) = a.col(free[f]);
      Eigen::VectorXd fixed = x;
      for (const Eigen::Index k : free) fixed(k) = 0;
      Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(sub);
      qr.setThreshold(kRankTolerance);
      if (qr.rank() < static_cast<Eigen::Index>(free.size())) continue;
      const Eigen::VectorXd solved = qr.solve(Eigen::VectorXd(rhs - a * fixed));
      bool inside = true;
      for (size_t f = 0; f < free.size(); ++f) {
        const double v = solved(static_cast<Eigen::Index>(f));
        const Bounds& bound = bounds[static_cast<size_t>(free[f])];
        inside = inside && v >= bound.lower && v <= bound.upper;
        x(free[f]) = v;
      }
      if (!inside) continue;
    }
    const double cost = (a * x - rhs).squaredNorm();
    if (cost < best.cost) best = {std::vector<double>(x.data(), x.data() + x.size()), cost};
  }
  return best;
}

}  // namespace moesim::calibrate
