// Linear least squares with each unknown held in an interval: the calibration's fits, whose
// unknowns (an inverse efficiency, a latency, a per-message overhead) have physical bounds.
#pragma once

#include <vector>

namespace moesim::calibrate {

struct Bounds {
  double lower = 0, upper = 0;
};

struct BoundedSolution {
  std::vector<double> x;
  double cost = 0;  // sum of squared residuals at x
};

// Minimises |A x - b|^2 over lower <= x <= upper, A given by its columns (each of b's length).
// The minimum lies on one face of the box: every combination of unknowns held at a bound and the
// rest solved freely is tried, and the best one inside the box kept (3^n faces; n is 3 at most
// here). Columns that do not tell their unknowns apart leave them at the face's values.
BoundedSolution bounded_least_squares(const std::vector<std::vector<double>>& columns, const std::vector<double>& b,
                                      const std::vector<Bounds>& bounds);

// Whether A's columns are linearly independent, to a relative tolerance: whether the data can
// tell every unknown apart.
bool full_column_rank(const std::vector<std::vector<double>>& columns);

}  // namespace moesim::calibrate
