// Exercise 01.3: closed-form marginals of the OU process and the VP-SDE. Checks the
// reference values, the integrated schedule against quadrature, pinned numbers of
// Song et al.'s schedule, and that the moments solve their ODEs
// (dm/dt = E[mu], dv/dt = 2 Cov(X, mu) + E[sigma^2]) by finite differences.
// Run one test: build/default/bin/test_01_solutions --gtest_filter='Marginals.*'
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "01_ito_sde/marginals.hpp"
#include "testing.hpp"

namespace {

using namespace dm::ch01;

TEST(Marginals, MatchReference) {
  std::vector<double> got;
  const VpSde vp;
  const OuProcess ou;
  for (double t : {0.0, 0.05, 0.3, 0.7, 1.0}) {
    const auto v = vp_marginal(vp, 1.5, t);
    const auto o = ou_marginal(ou, 3.0, t);
    got.insert(got.end(), {vp_int_beta(vp, 0.0, t), vp_int_beta(vp, t / 2, t), v.mean, v.var, o.mean, o.var});
  }
  EXPECT_TRUE(dm::testing::golden("01_ito_sde", "marginals/vp_and_ou", got, 1e-12, 1e-10));
}

TEST(Marginals, IntegratedBetaMatchesQuadrature) {
  const VpSde vp;
  for (auto [s, t] : {std::pair{0.0, 1.0}, std::pair{0.2, 0.6}, std::pair{0.5, 0.5}}) {
    const int n = 1000;  // the trapezoid rule is exact for a linear integrand
    double q = 0;
    for (int i = 0; i < n; ++i) {
      const double a = s + (t - s) * i / n, b = s + (t - s) * (i + 1) / n;
      q += 0.5 * (vp.beta(a) + vp.beta(b)) * (b - a);
    }
    const double got = vp_int_beta(vp, s, t);
    if (std::abs(got - (vp.beta(t) * t - vp.beta(s) * s)) < 1e-9 && t > s)
      ADD_FAILURE() << "B(s, t) looks like beta(t) t - beta(s) s; integrate beta: b0 t + (b1 - b0) t^2 / 2";
    EXPECT_NEAR(got, q, 1e-9) << "int_" << s << "^" << t << " beta(u) du";
  }
}

TEST(Marginals, VpMatchesPinnedNumbers) {
  // Song et al.'s schedule (beta_min 0.1, beta_max 20): B(0, 1) = 10.05, so at t = 1
  // the mean factor is e^{-5.025} = 0.0065716 and the variance 1 - e^{-10.05} = 0.9999569.
  const VpSde vp;
  EXPECT_NEAR(vp_int_beta(vp, 0.0, 1.0), 10.05, 1e-12);
  const auto m = vp_marginal(vp, 1.0, 1.0);
  if (std::abs(m.mean - std::exp(-10.05)) < 1e-9) ADD_FAILURE() << "mean factor is e^{-B/2}, not e^{-B}";
  if (std::abs(m.var - (1 - std::exp(-5.025))) < 1e-9)
    ADD_FAILURE() << "variance is 1 - e^{-B} (the square of the noise's decay e^{-B/2}), not 1 - e^{-B/2}";
  EXPECT_NEAR(m.mean, 0.00657159, 1e-7);
  EXPECT_NEAR(m.var, 0.99995681, 1e-7);
  const auto half = vp_marginal(vp, 2.0, 0.5);  // B(0, 1/2) = 0.05 + 19.9 / 8 = 2.5375
  EXPECT_NEAR(half.mean, 2.0 * std::exp(-2.5375 / 2), 1e-9);
  EXPECT_NEAR(half.var, 1 - std::exp(-2.5375), 1e-9);
  const auto zero = vp_marginal(vp, 2.0, 0.0);
  EXPECT_NEAR(zero.mean, 2.0, 1e-12);
  EXPECT_NEAR(zero.var, 0.0, 1e-12) << "x_0 is given: no variance at t = 0";
}

TEST(Marginals, VpMomentsSolveTheirOdes) {
  // dm/dt = -beta m / 2,  dv/dt = -beta v + beta  (from E[mu] and 2 Cov(x, mu) + sigma^2).
  const VpSde vp;
  const double h = 1e-5, x0 = 0.8;
  for (double t : {0.1, 0.4, 0.9}) {
    const auto a = vp_marginal(vp, x0, t - h), b = vp_marginal(vp, x0, t + h), c = vp_marginal(vp, x0, t);
    EXPECT_NEAR((b.mean - a.mean) / (2 * h), -0.5 * vp.beta(t) * c.mean, 1e-5) << "dm/dt at t = " << t;
    EXPECT_NEAR((b.var - a.var) / (2 * h), vp.beta(t) * (1 - c.var), 1e-5) << "dv/dt at t = " << t;
  }
}

TEST(Marginals, OuMomentsSolveTheirOdesAndRelax) {
  // dm/dt = theta (mu - m),  dv/dt = -2 theta v + sigma^2;  v -> sigma^2 / (2 theta).
  const OuProcess ou{1.5, -0.5, 0.9};
  const double h = 1e-5, x0 = 2.0;
  for (double t : {0.1, 0.5, 2.0}) {
    const auto a = ou_marginal(ou, x0, t - h), b = ou_marginal(ou, x0, t + h), c = ou_marginal(ou, x0, t);
    EXPECT_NEAR((b.mean - a.mean) / (2 * h), ou.theta * (ou.mu - c.mean), 1e-5) << "dm/dt at t = " << t;
    EXPECT_NEAR((b.var - a.var) / (2 * h), -2 * ou.theta * c.var + ou.sigma * ou.sigma, 1e-5)
        << "dv/dt at t = " << t << " (the variance decays at 2 theta: the square of the mean's decay)";
  }
  const auto start = ou_marginal(ou, x0, 0.0), late = ou_marginal(ou, x0, 50.0);
  EXPECT_NEAR(start.mean, x0, 1e-12);
  EXPECT_NEAR(start.var, 0.0, 1e-12);
  EXPECT_NEAR(late.mean, ou.mu, 1e-9);
  if (std::abs(late.var - ou.sigma * ou.sigma / ou.theta) < 1e-9)
    ADD_FAILURE() << "stationary variance is sigma^2 / (2 theta): a factor 2 is missing";
  EXPECT_NEAR(late.var, ou.sigma * ou.sigma / (2 * ou.theta), 1e-9);
}

}  // namespace
