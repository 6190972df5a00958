// Exercise 01.4: the exact VP step against DDPM's step. Checks the reference values
// and independent properties: the exact step composes like the SDE (two steps of
// beta1, beta2 = one step of beta1 + beta2), both keep unit variance, and the two
// agree to first order in beta (coefficient errors ~ beta^2 / 4 and beta^1.5 / 4).
// Run one test: build/default/bin/test_01_solutions --gtest_filter='VpStep.*'
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "01_ito_sde/vp_step.hpp"
#include "ch01_testing.hpp"

namespace {

using namespace dm::ch01;

TEST(VpStep, MatchesReference) {
  std::vector<double> got;
  for (double beta : {1e-4, 0.02, 0.1, 0.5, 1.0}) {
    const auto e = exact_step_coefficients(beta), d = ddpm_step_coefficients(beta);
    got.insert(got.end(), {e.signal, e.noise, d.signal, d.noise});
  }
  EXPECT_TRUE(dm::testing::golden("01_ito_sde", "vp_step/coefficients", got, 1e-12, 1e-10));
  const auto z = testutil::normals(6, 2, 401);
  const Eigen::ArrayXd x = z.col(0), noise = z.col(1);
  const Eigen::ArrayXd y = apply_step(exact_step_coefficients(0.3), x, noise);
  EXPECT_TRUE(dm::testing::golden("01_ito_sde", "vp_step/exact_step_beta=0.3", {y.data(), y.data() + y.size()}));
}

TEST(VpStep, ExactStepComposesLikeTheSde) {
  for (auto [b1, b2] : {std::pair{0.01, 0.03}, std::pair{0.4, 1.1}}) {
    const auto one = exact_step_coefficients(b1), two = exact_step_coefficients(b2);
    const auto both = exact_step_coefficients(b1 + b2);
    if (std::abs(one.signal - std::exp(-b1)) < 1e-12)
      ADD_FAILURE() << "exact step's signal looks like e^{-beta}; the mean decays as e^{-beta/2}";
    EXPECT_NEAR(one.signal * two.signal, both.signal, 1e-12) << "signals multiply over consecutive steps";
    EXPECT_NEAR(two.signal * two.signal * one.noise * one.noise + two.noise * two.noise, both.noise * both.noise, 1e-12)
        << "noise variances add after the second step's decay";
  }
}

TEST(VpStep, BothStepsKeepUnitVariance) {
  for (double beta : {1e-3, 0.2, 0.9}) {
    const auto e = exact_step_coefficients(beta), d = ddpm_step_coefficients(beta);
    EXPECT_NEAR(e.signal * e.signal + e.noise * e.noise, 1.0, 1e-12) << "exact step, beta = " << beta;
    if (std::abs(d.signal - (1 - beta)) < 1e-12)
      ADD_FAILURE() << "DDPM's step multiplies x by sqrt(1 - beta) and z by sqrt(beta), not 1 - beta and beta";
    EXPECT_NEAR(d.signal * d.signal + d.noise * d.noise, 1.0, 1e-12) << "DDPM step, beta = " << beta;
  }
}

TEST(VpStep, AgreeToFirstOrderInBeta) {
  // e^{-b/2} - sqrt(1 - b) = b^2 / 4 + O(b^3);  sqrt(b) - sqrt(1 - e^{-b}) = b^1.5 / 4 + O(b^2.5).
  for (double beta : {1e-3, 1e-2}) {
    const auto e = exact_step_coefficients(beta), d = ddpm_step_coefficients(beta);
    const double ds = e.signal - d.signal, dn = d.noise - e.noise;
    if (std::abs(ds) > 0.1 * beta)
      ADD_FAILURE() << "the signals differ at first order in beta: is the exact one e^{-beta/2}?";
    EXPECT_NEAR(ds / (beta * beta), 0.25, 0.01) << "(signal error) / beta^2 at beta = " << beta;
    EXPECT_NEAR(dn / std::pow(beta, 1.5), 0.25, 0.01) << "(noise error) / beta^1.5 at beta = " << beta;
  }
}

}  // namespace
