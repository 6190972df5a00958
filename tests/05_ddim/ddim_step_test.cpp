// Exercise 05.2: the generalised DDIM step, sigma(eta) and x0_hat.
// sigma is checked against a Monte-Carlo estimate of the quantity it must equal (eta times the standard
// deviation of DDPM's posterior across the jump, ch05_reference.hpp), so no formula for it is written
// here, and at eta = 1 between consecutive steps against chapter 02's beta_tilde (0.00979 at t = 487,
// diffusers' pinned value). The step: at eta = 1 without noise it is DDPM's posterior mean; every eta
// keeps the marginal q(x_prev | x_0) (Monte Carlo at 5 standard errors); the final step to
// alpha_bar = 1; golden values. The step tests use your own sigma, so a slip in sigma costs once.
// Known mistakes are named: a ratio in sigma upside down, sigma^2 returned, eta missing, a factor
// without its square root, the direction term sqrt(1 - alpha_bar_prev) eps without the sigma^2, sigma
// not squared in it, x0_hat without the 1/sqrt(alpha_bar_t) factor.
// Run one test: build/default/bin/test_05_exercises --gtest_filter='DdimStep.*'
#include <gtest/gtest.h>

#include <cmath>

#include "05_ddim/ddim.hpp"
#include "ch05_reference.hpp"
#include "testing.hpp"

using namespace dm::ch05;
namespace t5 = dm::ch05::test;
using dm::testing::fixed_normal;
using dm::testing::golden;
using dm::testing::tensors_close;

TEST(DdimStep, SigmaIsEtaTimesThePosteriorStdOfTheJump) {
  // Pairs (alpha_bar_t, alpha_bar_prev): jumps long and short, near the data and near the noise, two
  // consecutive steps of the linear schedule (t = 1 and t = 487), and the final step (alpha_bar_prev = 1).
  const auto ab = t5::linear_alpha_bar_vec(1000);
  const std::int64_t n = std::int64_t{1} << 20;
  const auto u = fixed_normal({n}, 551), w = fixed_normal({n}, 552);
  const double pairs[][2] = {{0.5, 0.9},     {0.01, 0.2},        {4e-5, 0.3}, {0.98, 0.9999},
                             {ab[1], ab[0]}, {ab[487], ab[486]}, {0.3, 1.0}};
  for (const auto& p : pairs) {
    const auto v = t5::jump_posterior_variance(p[0], p[1], u, w);
    for (double eta : {0.3, 0.5, 1.0}) {
      const double got = ddim_sigma(p[0], p[1], eta);
      const auto verdict = t5::sigma_verdict(p[0], p[1], eta, got, v);
      EXPECT_TRUE(verdict.ok) << "sigma(alpha_bar_t = " << p[0] << ", alpha_bar_prev = " << p[1] << ", eta = " << eta
                              << ") = " << got << "; eta times the posterior's standard deviation is "
                              << eta * std::sqrt(v.value) << " (Monte Carlo, n = " << n << ")" << verdict.note();
    }
  }
  EXPECT_EQ(ddim_sigma(0.5, 0.9, 0.0), 0.0) << "eta = 0 must give sigma = 0 exactly (deterministic DDIM)";
}

TEST(DdimStep, EtaOneMatchesDdpmPosteriorVarianceForConsecutiveSteps) {
  const auto beta = t5::linear_beta(1000);
  const auto ab = t5::linear_alpha_bar_vec(1000);
  for (std::size_t t = 0; t < ab.size(); ++t) {
    const double ab_prev = t == 0 ? 1.0 : ab[t - 1];
    const double beta_tilde = (1 - ab_prev) / (1 - ab[t]) * beta[t];  // chapter 02's posterior variance
    const double s = ddim_sigma(ab[t], ab_prev, 1.0);
    const auto verdict = t5::sigma_verdict(ab[t], ab_prev, 1.0, s, {beta_tilde, 0.0});
    ASSERT_NEAR(s * s, beta_tilde, 1e-12 + 1e-9 * beta_tilde)
        << "t = " << t << ": sigma(eta = 1)^2 between consecutive steps must be DDPM's beta_tilde_t" << verdict.note();
  }
  const double s487 = ddim_sigma(ab[487], ab[486], 1.0);
  EXPECT_NEAR(s487 * s487, 0.00979, 5e-6) << "beta_tilde at t = 487 (linear schedule) is 0.00979";
}

TEST(DdimStep, PredictX0InvertsTheForwardFormula) {
  auto x0 = fixed_normal({4, 1, 8, 8}, 501);
  auto eps = fixed_normal({4, 1, 8, 8}, 502);
  for (double ab : {0.9999, 0.5, 0.01}) {
    auto xt = std::sqrt(ab) * x0 + std::sqrt(1 - ab) * eps;
    auto got = predict_x0(xt, eps, ab);
    const auto hint = t5::diagnose(
        got, x0,
        {{"x0_hat is missing the 1/sqrt(alpha_bar_t) factor", xt - std::sqrt(1 - ab) * eps},
         {"x0_hat divides by alpha_bar_t, not by its square root", (xt - std::sqrt(1 - ab) * eps) / ab},
         {"the noise is scaled by 1 - alpha_bar_t, not by its square root", (xt - (1 - ab) * eps) / std::sqrt(ab)}});
    if (!hint.empty()) ADD_FAILURE() << "alpha_bar = " << ab << ", likely mistake: " << hint;
    EXPECT_TRUE(tensors_close("predict_x0(sqrt(ab) x0 + sqrt(1 - ab) eps, eps)", got, x0, 2e-4, 1e-4)) << ab;
  }
}

TEST(DdimStep, EtaOneWithoutNoiseIsDdpmPosteriorMean) {
  // Between consecutive steps and eta = 1, DDIM's mean is DDPM's posterior mean mu_tilde(x_t, x0_hat).
  const auto beta = t5::linear_beta(1000);
  const auto ab = t5::linear_alpha_bar_vec(1000);
  auto xt = fixed_normal({4, 1, 8, 8}, 511).to(torch::kFloat64);
  auto eps = fixed_normal({4, 1, 8, 8}, 512).to(torch::kFloat64);
  auto zero = torch::zeros_like(xt);
  for (std::size_t t = 1; t < ab.size(); ++t) {  // every consecutive pair of the 1000 steps
    const double a = ab[t], ap = ab[t - 1];
    auto x0_hat = (xt - std::sqrt(1 - a) * eps) / std::sqrt(a);
    auto mu = std::sqrt(ap) * beta[t] / (1 - a) * x0_hat + std::sqrt(1 - beta[t]) * (1 - ap) / (1 - a) * xt;
    auto got = ddim_step(xt, eps, a, ap, 1.0, zero).x_prev;
    const double s = ddim_sigma(a, ap, 1.0);  // your sigma: a slip in it costs in the sigma tests only
    const auto hint =
        t5::diagnose(got, mu,
                     {{"the direction term lacks the sigma^2: it is sqrt(1 - alpha_bar_prev - sigma^2) eps (the common "
                       "sqrt(1 - alpha_bar_prev) eps holds for eta = 0 only)",
                       std::sqrt(ap) * x0_hat + std::sqrt(1 - ap) * eps},
                      {"sigma must be squared in the direction term: sqrt(1 - alpha_bar_prev - sigma^2)",
                       std::sqrt(ap) * x0_hat + std::sqrt(1 - ap - s) * eps},
                      {"the direction term uses alpha_bar_t: it is sqrt(1 - alpha_bar_prev - sigma^2) eps",
                       std::sqrt(ap) * x0_hat + std::sqrt(std::max(0.0, 1 - a - s * s)) * eps},
                      {"x0_hat is missing the 1/sqrt(alpha_bar_t) factor",
                       std::sqrt(ap) * (xt - std::sqrt(1 - a) * eps) + std::sqrt(1 - ap - s * s) * eps}},
                     1e-6, 1e-9);
    if (!hint.empty()) ADD_FAILURE() << "t = " << t << ", likely mistake: " << hint;
    ASSERT_TRUE(tensors_close("eta = 1, z = 0 step against mu_tilde(x_t, x0_hat), t = " + std::to_string(t), got, mu,
                              1e-9, 1e-7));
  }
}

TEST(DdimStep, EveryEtaKeepsTheMarginalOfXPrev) {
  // If x_t ~ q(x_t | x_0) and eps is the true noise, x_prev ~ q(x_prev | x_0) = N(sqrt(ab_prev) x_0, 1 - ab_prev)
  // for every eta: DDIM's forward processes all share DDPM's marginals.
  const std::int64_t n = 65536;
  const double x0 = 0.7, a = 0.3, ap = 0.6;
  auto eps = fixed_normal({n, 1}, 521);
  auto z = fixed_normal({n, 1}, 522);
  auto xt = std::sqrt(a) * x0 + std::sqrt(1 - a) * eps;
  for (double eta : {0.0, 0.5, 1.0}) {
    auto out = ddim_step(xt, eps, a, ap, eta, z).x_prev.to(torch::kFloat64);
    const double mean = out.mean().item<double>(), var = out.var().item<double>();
    const double sd = std::sqrt(1 - ap);
    EXPECT_NEAR(mean, std::sqrt(ap) * x0, dm::testing::mc_tol(sd, n)) << "eta = " << eta << ": mean of x_prev";
    EXPECT_NEAR(var, 1 - ap, dm::testing::mc_tol((1 - ap) * std::sqrt(2.0), n))
        << "eta = " << eta << ": variance of x_prev must be 1 - alpha_bar_prev (direction^2 + sigma^2)";
  }
}

TEST(DdimStep, FinalStepToAlphaBarOneReturnsX0HatAndEtaZeroIgnoresNoise) {
  auto xt = fixed_normal({2, 1, 4, 4}, 531);
  auto eps = fixed_normal({2, 1, 4, 4}, 532);
  for (double eta : {0.0, 1.0}) {
    auto st = ddim_step(xt, eps, 0.98, 1.0, eta, torch::zeros_like(xt));
    ASSERT_TRUE(st.x_prev.defined() && st.x0_hat.defined()) << "ddim_step must fill x_prev and x0_hat";
    EXPECT_TRUE(tensors_close("final step (alpha_bar_prev = 1): x_prev = x0_hat, eta = " + std::to_string(eta),
                              st.x_prev, st.x0_hat, 1e-6, 1e-6));
  }
  auto a = ddim_step(xt, eps, 0.4, 0.7, 0.0);  // no z at all: eta = 0 draws none
  auto b = ddim_step(xt, eps, 0.4, 0.7, 0.0, 100 * torch::ones_like(xt));
  ASSERT_TRUE(a.x_prev.defined());
  EXPECT_TRUE(tensors_close("eta = 0 must not use z", b.x_prev, a.x_prev, 0, 0));
}

TEST(DdimStep, MatchesReferenceOnGoldenValues) {
  auto xt = fixed_normal({3, 1, 6, 6}, 541);
  auto eps = fixed_normal({3, 1, 6, 6}, 542);
  auto z = fixed_normal({3, 1, 6, 6}, 543);
  const double cases[][3] = {{0.05, 0.3, 0.0}, {0.05, 0.3, 0.5}, {0.05, 0.3, 1.0}, {0.9, 1.0, 0.0}, {4e-5, 0.02, 1.0}};
  for (const auto& c : cases) {
    const auto name =
        "ddim_step/ab=" + std::to_string(c[0]) + "/prev=" + std::to_string(c[1]) + "/eta=" + std::to_string(c[2]);
    auto st = ddim_step(xt, eps, c[0], c[1], c[2], z);
    EXPECT_TRUE(golden(t5::kGolden, name + "/x_prev", st.x_prev, 1e-5, 1e-5));
    EXPECT_TRUE(golden(t5::kGolden, name + "/x0_hat", st.x0_hat, 1e-5, 1e-5));
  }
}
