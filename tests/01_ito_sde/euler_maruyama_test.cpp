// Exercise 01.2: Euler-Maruyama. Checks the reference values on seeded noise and
// independent properties: no noise is Euler's method, pure noise is Brownian motion,
// coefficients taken at the left end of each step, and OU moments against the exact
// moment recursion of the Euler-Maruyama chain (5 standard errors, fixed seed).
// Run one test: build/default/bin/test_01_solutions --gtest_filter='EulerMaruyama.*'
#include <gtest/gtest.h>

#include <cmath>

#include "01_ito_sde/euler_maruyama.hpp"
#include "ch01_testing.hpp"

namespace {

using dm::ch01::euler_maruyama;
using dm::ch01::testutil::normals;
using Eigen::ArrayXd;

TEST(EulerMaruyama, MatchesReferenceOnSeededNoise) {
  // Time-dependent drift and state-dependent diffusion, so every ingredient shows.
  auto mu = [](const ArrayXd& x, double t) -> ArrayXd { return -(1.0 + t) * x + 0.3; };
  auto sigma = [](const ArrayXd& x, double t) -> ArrayXd { return 0.5 + 0.2 * x.abs() + 0.1 * t; };
  const ArrayXd x0 = ArrayXd::LinSpaced(5, -1.0, 1.0);
  const auto x = euler_maruyama(mu, sigma, x0, 0.25, 0.05, normals(5, 12, 201));
  ASSERT_EQ(x.rows(), 5);
  ASSERT_EQ(x.cols(), 13) << "n_steps steps give n_steps + 1 columns (x0 first)";
  EXPECT_TRUE(dm::testing::golden("01_ito_sde", "euler_maruyama/5x12", dm::ch01::testutil::flat(x)));
}

TEST(EulerMaruyama, WithoutNoiseIsEulersMethod) {
  const double lambda = -1.3, dt = 0.01;
  const int steps = 100;
  auto mu = [&](const ArrayXd& x, double) -> ArrayXd { return lambda * x; };
  auto sigma = [](const ArrayXd& x, double) -> ArrayXd { return ArrayXd::Zero(x.size()); };
  const auto x = euler_maruyama(mu, sigma, ArrayXd::Constant(3, 2.0), 0.0, dt, normals(3, steps, 202));
  ASSERT_EQ(x.cols(), steps + 1);
  EXPECT_EQ(x(0, 0), 2.0) << "column 0 must be x0";
  EXPECT_NEAR(x(0, steps), 2.0 * std::pow(1.0 + lambda * dt, steps), 1e-12)
      << "with sigma = 0 Euler-Maruyama is Euler's method: X_N = x0 (1 + lambda dt)^N";
}

TEST(EulerMaruyama, PureNoiseIsBrownianMotion) {
  const double dt = 0.04;
  const auto z = normals(4, 25, 203);
  auto mu = [](const ArrayXd& x, double) -> ArrayXd { return ArrayXd::Zero(x.size()); };
  auto sigma = [](const ArrayXd& x, double) -> ArrayXd { return ArrayXd::Ones(x.size()); };
  const auto x = euler_maruyama(mu, sigma, ArrayXd::Constant(4, 0.5), 0.0, dt, z);
  ASSERT_EQ(x.cols(), 26);
  ArrayXd w = ArrayXd::Constant(4, 0.5);
  for (int k = 0; k < 25; ++k) w += std::sqrt(dt) * z.col(k);
  const ArrayXd w_dt = 0.5 + dt * z.rowwise().sum();
  if ((x.col(25) - w_dt).abs().maxCoeff() < 1e-9)
    ADD_FAILURE() << "the noise was scaled by dt; dW = sqrt(dt) z (Var dW = dt)";
  EXPECT_TRUE(dm::testing::tensors_close("X_N with mu = 0, sigma = 1 (x0 + W_T)", x.col(25), w, 1e-12, 1e-12));
}

TEST(EulerMaruyama, EvaluatesCoefficientsAtTheLeftEnd) {
  // mu(x, t) = t, sigma = 0: X_N = x0 + sum_k t_k dt with t_k = t0 + k dt, k = 0..N-1.
  const double t0 = 0.5, dt = 0.1;
  const int steps = 10;
  auto mu = [](const ArrayXd& x, double t) -> ArrayXd { return ArrayXd::Constant(x.size(), t); };
  auto sigma = [](const ArrayXd& x, double) -> ArrayXd { return ArrayXd::Zero(x.size()); };
  const auto x = euler_maruyama(mu, sigma, ArrayXd::Zero(1), t0, dt, normals(1, steps, 204));
  const double left = steps * t0 * dt + dt * dt * steps * (steps - 1) / 2.0;
  const double right = left + steps * dt * dt;
  if (std::abs(x(0, steps) - right) < 1e-12)
    ADD_FAILURE() << "mu was evaluated at t_{k+1}; Ito's Euler-Maruyama uses the left end t_k = t0 + k dt";
  if (std::abs(x(0, steps) - (left - steps * t0 * dt)) < 1e-12) ADD_FAILURE() << "the time should start at t0";
  EXPECT_NEAR(x(0, steps), left, 1e-12);
}

TEST(EulerMaruyama, OuMomentsMatchTheChainsExactMoments) {
  // dX = theta (m - X) dt + s dW. The EM chain is linear-Gaussian, so its own mean and
  // variance follow exactly:  E' = E + theta (m - E) dt,  V' = (1 - theta dt)^2 V + s^2 dt.
  const double theta = 2.0, m = 1.0, s = 0.8, dt = 0.02, x0 = 3.0;
  const int n = 20000, steps = 100;
  auto mu = [&](const ArrayXd& x, double) -> ArrayXd { return theta * (m - x); };
  auto sigma = [&](const ArrayXd& x, double) -> ArrayXd { return ArrayXd::Constant(x.size(), s); };
  const auto x = euler_maruyama(mu, sigma, ArrayXd::Constant(n, x0), 0.0, dt, normals(n, steps, 205));
  ASSERT_EQ(x.cols(), steps + 1);
  double e = x0, v = 0;
  for (int k = 0; k < steps; ++k) {
    e += theta * (m - e) * dt;
    v = (1 - theta * dt) * (1 - theta * dt) * v + s * s * dt;
  }
  const double got_v = dm::ch01::testutil::variance(x.col(steps));
  if (std::abs(got_v - v * dt) < std::abs(got_v - v))
    ADD_FAILURE() << "variance ~ dt times too small: dW = sqrt(dt) z, not dt z";
  EXPECT_NEAR(x.col(steps).mean(), e, dm::testing::mc_tol(std::sqrt(v), n)) << "E[X_T]";
  EXPECT_NEAR(got_v, v, dm::testing::mc_tol(v * std::sqrt(2.0), n)) << "Var[X_T]";
}

}  // namespace
