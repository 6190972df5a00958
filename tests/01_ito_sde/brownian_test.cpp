// Exercise 01.1: Brownian paths. Checks the reference values on seeded noise and
// the Wiener properties: W_0 = 0, Var(W_t - W_s) = t - s, uncorrelated increments,
// increments shrinking like sqrt(dt) (continuity).
// Run one test: build/default/bin/test_01_solutions --gtest_filter='Brownian.*'
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "01_ito_sde/brownian.hpp"
#include "ch01_testing.hpp"
#include "dm/runtime.hpp"

namespace {

using dm::ch01::brownian_paths;
using dm::ch01::testutil::normals;
using dm::ch01::testutil::variance;

TEST(Brownian, MatchesReferenceOnSeededNoise) {
  const auto w = brownian_paths(normals(4, 8, 101), 0.1);
  ASSERT_EQ(w.rows(), 4);
  ASSERT_EQ(w.cols(), 9) << "n_steps increments give n_steps + 1 times (W_0 = 0 comes first)";
  EXPECT_TRUE(dm::testing::golden("01_ito_sde", "brownian_paths/4x8/dt=0.1", dm::ch01::testutil::flat(w)));
}

TEST(Brownian, StartsAtZero) {
  const auto w = brownian_paths(normals(16, 10, 102), 0.01);
  ASSERT_EQ(w.cols(), 11) << "expected [n_paths, n_steps + 1]: column 0 holds W_0";
  EXPECT_EQ(w.col(0).abs().maxCoeff(), 0.0) << "W_0 must be exactly 0 for every path";
}

TEST(Brownian, IncrementVarianceIsTMinusS) {
  const int n = 20000, steps = 64;
  const double dt = 1.0 / steps;
  const auto w = brownian_paths(normals(n, steps, 103), dt);
  ASSERT_EQ(w.cols(), steps + 1);
  for (auto [s, t] : {std::pair{0, 64}, std::pair{32, 64}, std::pair{10, 11}}) {
    const double expected = (t - s) * dt;
    const double got = variance(w.col(t) - w.col(s));
    const double tol = dm::testing::mc_tol(expected * std::sqrt(2.0), n);  // sd of a variance estimate
    if (std::abs(got - expected * dt) < std::abs(got - expected))
      ADD_FAILURE() << "increments have variance dt^2, not dt: scale z by sqrt(dt), not by dt";
    EXPECT_NEAR(got, expected, tol) << "Var(W_t - W_s) for s = " << s * dt << ", t = " << t * dt;
    EXPECT_NEAR((w.col(t) - w.col(s)).mean(), 0.0, dm::testing::mc_tol(std::sqrt(expected), n))
        << "increments must have mean 0";
  }
}

TEST(Brownian, IncrementsAreUncorrelated) {
  const int n = 20000, steps = 16;
  const auto w = brownian_paths(normals(n, steps, 104), 1.0 / steps);
  ASSERT_EQ(w.cols(), steps + 1);
  auto corr = [](const Eigen::ArrayXd& a, const Eigen::ArrayXd& b) {
    const Eigen::ArrayXd da = a - a.mean(), db = b - b.mean();
    return (da * db).mean() / std::sqrt(da.square().mean() * db.square().mean());
  };
  const double tol = dm::testing::mc_tol(1.0, n);  // the sd of a sample correlation near 0 is 1/sqrt(n)
  EXPECT_NEAR(corr(w.col(8) - w.col(0), w.col(16) - w.col(8)), 0.0, tol) << "W_1/2 - W_0 against W_1 - W_1/2";
  EXPECT_NEAR(corr(w.col(4) - w.col(3), w.col(5) - w.col(4)), 0.0, tol) << "consecutive increments";
  // Overlapping intervals are correlated: Cov(W_t, W_s) = min(s, t), corr = sqrt(s / t).
  EXPECT_NEAR(corr(w.col(4), w.col(16)), 0.5, tol) << "corr(W_1/4, W_1) should be sqrt(1/4): is W a running sum?";
}

TEST(Brownian, IncrementsShrinkLikeSqrtDt) {
  // Continuity: the largest step of a path goes to 0 with dt, like sqrt(dt) (times a slowly
  // growing sqrt(2 log n)); the root-mean-square step is exactly of order sqrt(dt).
  for (int steps : {64, 1024}) {
    const double dt = 1.0 / steps;
    const auto w = brownian_paths(normals(64, steps, 105), dt);
    ASSERT_EQ(w.cols(), steps + 1);
    const Eigen::ArrayXXd dw = w.rightCols(steps) - w.leftCols(steps);
    const double rms = std::sqrt(dw.square().mean());
    EXPECT_NEAR(rms / std::sqrt(dt), 1.0, 0.05) << "rms increment / sqrt(dt) at dt = " << dt;
    EXPECT_LT(dw.abs().maxCoeff(), 6.5 * std::sqrt(dt)) << "max |dW| should be a few sqrt(dt) at dt = " << dt;
  }
}

}  // namespace

// Ungraded: the test binary knows which track it was linked against.
TEST(Chapter01, KnowsItsTrack) {
  const std::string track = dm::track();
  EXPECT_TRUE(track == "solutions" || track == "exercises") << track;
}
