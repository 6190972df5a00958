// Exercise 02.4: the posterior q(x_{t-1} | x_t, x_0) = N(coef_x0 x_0 + coef_xt x_t, beta_tilde I).
// Checks the reference values (golden); diffusers' published beta_tilde[487] = 0.00979 for the
// linear schedule (0-indexed t); the coefficients against completing the square in
// q(x_t | x_{t-1}) q(x_{t-1} | x_0) written out independently; Bayes by Monte Carlo (draw
// x_{t-1} ~ q(. | x_0), then x_t ~ q(. | x_{t-1}), and regress x_{t-1} on x_t: the slope, the
// intercept and the residual variance are the posterior's coefficients and variance); the edge
// t = 0; and posterior_mean. Known mistakes are named: beta_t for beta_tilde_t, t off by one,
// alpha_bar_t where alpha_bar_{t-1} belongs.
// Run one test: build/default/bin/test_02_exercises --gtest_filter='Posterior.*'
#include <gtest/gtest.h>

#include <fmt/core.h>

#include <cmath>

#include "02_forward_noising/posterior.hpp"
#include "ch02_reference.hpp"
#include "testing.hpp"

using namespace dm::ch02;
namespace t2 = dm::ch02::test;
using dm::testing::fixed_normal;
using dm::testing::golden;
using dm::testing::tensors_close;

namespace {

const Schedule& linear() {
  static const Schedule s = t2::reference_schedule("linear");
  return s;
}

// alpha_bar[t-1], with 1 before the first step.
torch::Tensor prev(const torch::Tensor& ab) { return torch::cat({torch::ones({1}, ab.options()), ab.slice(0, 0, -1)}); }

// v shifted by one step either way (the value of t-1 or t+1 at t), for off-by-one diagnoses.
torch::Tensor shift_back(const torch::Tensor& v) { return torch::cat({v.slice(0, 0, 1), v.slice(0, 0, -1)}); }
torch::Tensor shift_fwd(const torch::Tensor& v) { return torch::cat({v.slice(0, 1), v.slice(0, -1)}); }

}  // namespace

TEST(Posterior, MatchesReferenceOnGoldenValues) {
  auto idx = torch::tensor({0, 1, 2, 10, 250, 487, 500, 750, 998, 999}, torch::kLong);
  for (const char* name : kScheduleNames) {
    auto p = make_posterior(t2::reference_schedule(name));
    const auto key = std::string("posterior/") + name;
    EXPECT_TRUE(golden(t2::kGolden, key + "/coef_x0", p.coef_x0.index_select(0, idx), 1e-12, 1e-9));
    EXPECT_TRUE(golden(t2::kGolden, key + "/coef_xt", p.coef_xt.index_select(0, idx), 1e-12, 1e-9));
    EXPECT_TRUE(golden(t2::kGolden, key + "/variance", p.variance.index_select(0, idx), 1e-12, 1e-9));
  }
}

TEST(Posterior, VarianceAtStep487IsThePublishedValue) {
  // diffusers' DDPMScheduler test: linear betas 1e-4..0.02, T = 1000, _get_variance(487) ~ 0.00979
  // (|diff| < 1e-5). t is 0-indexed there, as here; neighbours differ by 2e-5, so the index matters.
  const auto& s = linear();
  auto p = make_posterior(s);
  ASSERT_EQ(p.variance.numel(), 1000);
  auto beta_tilde = (1 - prev(s.alpha_bar)) / (1 - s.alpha_bar) * s.beta;
  const auto mistake = t2::diagnose(
      p.variance, beta_tilde,
      {{"the posterior variance is beta_t; it must be beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t",
        s.beta},
       {"t is off by one: beta_tilde[t] uses alpha_bar[t-1], alpha_bar[t] and beta[t]", shift_back(beta_tilde)},
       {"t is off by one: beta_tilde[t] uses alpha_bar[t-1], alpha_bar[t] and beta[t]", shift_fwd(beta_tilde)},
       {"the ratio is upside down or uses alpha_bar_t in both places: (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)",
        (1 - s.alpha_bar) / (1 - prev(s.alpha_bar)) * s.beta}});
  if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake;
  EXPECT_TRUE(dm::testing::tensors_close("beta_tilde against (1 - alpha_bar[t-1]) / (1 - alpha_bar[t]) beta[t]",
                                         p.variance, beta_tilde, 1e-15, 1e-9));
  const double v = p.variance[487].item<double>();
  EXPECT_NEAR(v, 0.00979, 1e-5) << "beta_tilde[487] of the linear schedule is 0.00979 (diffusers); got " << v
                                << (std::abs(v - 0.009801) < 2e-7 ? " = beta[487]: that is beta_t, not beta_tilde_t"
                                                                  : "");
}

TEST(Posterior, CoefficientsComeFromCompletingTheSquare) {
  // q(x_{t-1} | x_t, x_0) is proportional to N(x_t; sqrt(alpha_t) x_{t-1}, beta_t) N(x_{t-1}; sqrt(ab_{t-1}) x_0, 1 -
  // ab_{t-1}). As a function of x_{t-1} the exponent is -(lambda x^2 - 2 eta x) / 2 with
  //   lambda = alpha_t / beta_t + 1 / (1 - ab_{t-1})   (precision)
  //   eta    = sqrt(alpha_t) / beta_t x_t + sqrt(ab_{t-1}) / (1 - ab_{t-1}) x_0
  // so the variance is 1 / lambda and the mean eta / lambda. Valid for t >= 1.
  for (const char* name : kScheduleNames) {
    SCOPED_TRACE(name);
    const auto s = t2::reference_schedule(name);
    auto p = make_posterior(s);
    ASSERT_EQ(p.variance.numel(), 1000);
    auto ab_prev = prev(s.alpha_bar).slice(0, 1);
    auto alpha = s.alpha.slice(0, 1), beta = s.beta.slice(0, 1);
    auto lambda = alpha / beta + 1 / (1 - ab_prev);
    auto coef_x0 = p.coef_x0.slice(0, 1), coef_xt = p.coef_xt.slice(0, 1), var = p.variance.slice(0, 1);
    const auto mistake =
        t2::diagnose(coef_x0, ab_prev.sqrt() / (1 - ab_prev) / lambda,
                     {{"coef_x0 uses sqrt(alpha_bar_t); it needs sqrt(alpha_bar_{t-1}) (x_0's weight in x_{t-1})",
                       s.alpha_bar.slice(0, 1).sqrt() * beta / (1 - s.alpha_bar.slice(0, 1))},
                      {"coef_x0 looks like coef_xt: are the two mean coefficients swapped?",
                       alpha.sqrt() * (1 - ab_prev) / (1 - s.alpha_bar.slice(0, 1))}});
    if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake;
    EXPECT_TRUE(tensors_close("variance = 1 / lambda", var, 1 / lambda, 1e-15, 1e-9));
    EXPECT_TRUE(tensors_close("coef_x0 = sqrt(ab_{t-1}) / (1 - ab_{t-1}) / lambda", coef_x0,
                              ab_prev.sqrt() / (1 - ab_prev) / lambda, 1e-15, 1e-9));
    EXPECT_TRUE(
        tensors_close("coef_xt = sqrt(alpha_t) / beta_t / lambda", coef_xt, alpha.sqrt() / beta / lambda, 1e-15, 1e-9));
  }
}

TEST(Posterior, AtTheFirstStepReturnsTheData) {
  // Before step 0 there is no noise (alpha_bar_prev = 1): x_{t-1} is x_0 itself.
  auto p = make_posterior(linear());
  ASSERT_EQ(p.variance.numel(), 1000);
  EXPECT_NEAR(p.variance[0].item<double>(), 0, 1e-15) << "beta_tilde[0] = 0: take alpha_bar_prev[0] = 1";
  EXPECT_NEAR(p.coef_x0[0].item<double>(), 1, 1e-12) << "coef_x0[0] = 1: take alpha_bar_prev[0] = 1";
  EXPECT_NEAR(p.coef_xt[0].item<double>(), 0, 1e-12) << "coef_xt[0] = 0: take alpha_bar_prev[0] = 1";
  EXPECT_TRUE(torch::all(p.variance <= linear().beta).item<bool>()) << "beta_tilde_t <= beta_t for every t";
}

TEST(Posterior, AgreesWithBayesByMonteCarlo) {
  const auto& s = linear();
  auto p = make_posterior(s);
  ASSERT_EQ(p.variance.numel(), 1000);
  const std::int64_t n = 200000;
  const double x0 = 0.7;
  for (std::int64_t t : {10, 487, 900}) {
    const double ab_prev = s.alpha_bar[t - 1].item<double>(), alpha = s.alpha[t].item<double>();
    const double beta = s.beta[t].item<double>();
    // the joint law, by ancestral sampling
    auto e1 = fixed_normal({n}, 300 + static_cast<std::uint64_t>(t)).to(torch::kFloat64);
    auto e2 = fixed_normal({n}, 400 + static_cast<std::uint64_t>(t)).to(torch::kFloat64);
    auto x_prev = std::sqrt(ab_prev) * x0 + std::sqrt(1 - ab_prev) * e1;  // x_{t-1} ~ q(. | x_0)
    auto x_t = std::sqrt(alpha) * x_prev + std::sqrt(beta) * e2;          // x_t ~ q(. | x_{t-1})
    // least squares x_{t-1} ~ a + b x_t: E[x_{t-1} | x_t, x_0] is linear in x_t
    const double mx = x_t.mean().item<double>(), my = x_prev.mean().item<double>();
    const double vx = (x_t - mx).pow(2).mean().item<double>();
    const double b = ((x_t - mx) * (x_prev - my)).mean().item<double>() / vx;
    const double a = my - b * mx;
    const double resid = (x_prev - a - b * x_t).pow(2).sum().item<double>() / double(n - 2);
    const double var = p.variance[t].item<double>();
    // standard errors of ordinary least squares with residual variance var
    const double se_b = std::sqrt(var / (double(n) * vx));
    const double se_a = std::sqrt(var * (1.0 / double(n) + mx * mx / (double(n) * vx)));
    const auto where = fmt::format("t = {}: ", t);
    EXPECT_NEAR(p.coef_xt[t].item<double>(), b, 5 * se_b)
        << where << "coef_xt against the Monte-Carlo regression slope";
    EXPECT_NEAR(p.coef_x0[t].item<double>() * x0, a, 5 * se_a)
        << where << "coef_x0 x0 against the Monte-Carlo regression intercept";
    EXPECT_NEAR(var, resid, 5 * t2::var_se(var, n))
        << where << "beta_tilde against the Monte-Carlo residual variance " << resid << " (beta_t = " << beta << ")";
  }
}

TEST(Posterior, MeanCombinesDataAndNoisySample) {
  const auto& s = linear();
  auto p = make_posterior(s);
  auto x0 = fixed_normal({3, 1, 4, 4}, 21).clamp(-1, 1);
  auto xt = fixed_normal({3, 1, 4, 4}, 22);
  auto t = torch::tensor({0, 487, 999}, torch::kLong);
  auto out = posterior_mean(p, x0, xt, t);
  EXPECT_TRUE(golden(t2::kGolden, "posterior_mean/linear", out, 1e-5, 1e-5));
  ASSERT_EQ(out.sizes(), xt.sizes());
  EXPECT_EQ(out.scalar_type(), torch::kFloat32) << "posterior_mean must keep the data's dtype";
  auto c0 = p.coef_x0.index_select(0, t).view({3, 1, 1, 1}).to(torch::kFloat32);
  auto ct = p.coef_xt.index_select(0, t).view({3, 1, 1, 1}).to(torch::kFloat32);
  const auto mistake =
      t2::diagnose(out, c0 * x0 + ct * xt, {{"x0 and xt are swapped in posterior_mean", c0 * xt + ct * x0}});
  if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake;
  EXPECT_TRUE(tensors_close("posterior_mean = coef_x0[t] x0 + coef_xt[t] xt", out, c0 * x0 + ct * xt, 1e-6, 1e-5));
}
