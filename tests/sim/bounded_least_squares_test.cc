// Bounded least squares, on problems whose answers are known by hand.
#include "sim/calibrate/bounded_least_squares.h"

#include <gtest/gtest.h>

namespace moesim::calibrate {
namespace {

// y = 2 + 3 t, exactly: the free minimum is inside the box.
TEST(BoundedLeastSquares, FindsTheFreeMinimumInsideTheBox) {
  const std::vector<double> ones = {1, 1, 1, 1}, t = {0, 1, 2, 3}, y = {2, 5, 8, 11};
  const BoundedSolution s = bounded_least_squares({ones, t}, y, {{0, 10}, {0, 10}});
  ASSERT_EQ(s.x.size(), 2u);
  EXPECT_NEAR(s.x[0], 2, 1e-9);
  EXPECT_NEAR(s.x[1], 3, 1e-9);
  EXPECT_NEAR(s.cost, 0, 1e-12);
}

// The same data with the slope capped at 2: the intercept refits to the mean of y - 2 t = 3.5.
TEST(BoundedLeastSquares, RefitsTheOthersWithOneUnknownAtItsBound) {
  const std::vector<double> ones = {1, 1, 1, 1}, t = {0, 1, 2, 3}, y = {2, 5, 8, 11};
  const BoundedSolution s = bounded_least_squares({ones, t}, y, {{0, 10}, {0, 2}});
  EXPECT_NEAR(s.x[0], 3.5, 1e-9);
  EXPECT_DOUBLE_EQ(s.x[1], 2);
  EXPECT_NEAR(s.cost, 1.5 * 1.5 + 0.5 * 0.5 + 0.5 * 0.5 + 1.5 * 1.5, 1e-9);
}

// Two identical columns cannot be told apart: the solver never divides by the degenerate system,
// and the rank test says so.
TEST(BoundedLeastSquares, CollinearColumnsAreNotToldApart) {
  const std::vector<double> a = {1, 2, 3}, y = {2, 4, 6};
  EXPECT_FALSE(full_column_rank({a, a}));
  EXPECT_TRUE(full_column_rank({a, {1, 1, 1}}));
  const BoundedSolution s = bounded_least_squares({a, a}, y, {{0, 1}, {0, 5}});
  EXPECT_NEAR(s.cost, 0, 1e-12);  // one of them at a bound, the other takes the slope
  EXPECT_NEAR(s.x[0] + s.x[1], 2, 1e-9);
}

}  // namespace
}  // namespace moesim::calibrate
