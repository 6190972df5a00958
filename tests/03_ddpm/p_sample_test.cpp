// Exercise 03.3: one ancestral reverse step p(x_{t-1} | x_t) (Algorithm 2).
// Checks the reference values (golden) for both variances and with x0 clipping, the mean and the
// noise scale exactly against a plain-double computation (naming the common slip, a mean missing the
// 1/sqrt(1 - alpha_bar_t) factor on eps, and the usual variance mistakes), no noise at t = 0, x0_hat,
// that clipping changes nothing when x0_hat is inside [-1, 1], and that the whole reverse chain with
// the exact eps of Gaussian data recovers the data's mean and variance (Monte-Carlo, 5 standard errors).
// Run one test: build/default/bin/test_03_exercises --gtest_filter='PSample.*'
#include <gtest/gtest.h>

#include <cmath>

#include "03_ddpm/ddpm.hpp"
#include "ch03_reference.hpp"
#include "testing.hpp"

using namespace dm::ch03;
using dm::testing::fixed_normal;
using dm::testing::golden;
using dm::testing::mc_tol;
using dm::testing::tensors_close;

namespace {
const Schedule& sched() {
  static const Schedule s = test::linear_schedule();
  return s;
}
}  // namespace

TEST(PSample, MatchesReferenceOnGoldenValues) {
  auto x = fixed_normal({2, 1, 4, 4}, 41);
  auto eps = fixed_normal({2, 1, 4, 4}, 42);
  auto z = fixed_normal({2, 1, 4, 4}, 43);
  for (std::int64_t t : {0, 1, 487, 999}) {
    auto a = p_sample(sched(), x, t, eps, z, Variance::Beta, false);
    auto b = p_sample(sched(), x, t, eps, z, Variance::BetaTilde, false);
    auto c = p_sample(sched(), x, t, eps, z, Variance::BetaTilde, true);
    const auto tag = "/t=" + std::to_string(t);
    EXPECT_TRUE(golden(test::kGolden, "p_sample/beta" + tag, a.x_prev, 1e-4, 1e-5));
    EXPECT_TRUE(golden(test::kGolden, "p_sample/beta_tilde" + tag, b.x_prev, 1e-4, 1e-5));
    EXPECT_TRUE(golden(test::kGolden, "p_sample/beta_tilde_clip" + tag, c.x_prev, 1e-4, 1e-5));
    EXPECT_TRUE(golden(test::kGolden, "p_sample/x0_hat_clip" + tag, c.x0_hat, 1e-4, 1e-5));
  }
}

TEST(PSample, MeanSubtractsScaledNoise) {
  // z = 0: x_prev is the mean 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - alpha_bar_t) eps)
  auto x = fixed_normal({3, 1, 4, 4}, 44).to(torch::kFloat64);
  auto eps = fixed_normal({3, 1, 4, 4}, 45).to(torch::kFloat64);
  for (std::int64_t t : {1, 10, 300, 999}) {
    const auto c = test::scalars(sched(), t);
    auto out = p_sample(sched(), x.to(torch::kFloat32), t, eps.to(torch::kFloat32), torch::zeros({3, 1, 4, 4}),
                        Variance::Beta, false)
                   .x_prev;
    auto expected = (x - c.beta / std::sqrt(1 - c.ab) * eps) / std::sqrt(c.alpha);
    const std::vector<std::pair<std::string, torch::Tensor>> mistakes = {
        {"the mean is missing the 1/sqrt(1 - alpha_bar_t) factor on eps (a common slip): "
         "mu = 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - alpha_bar_t) eps)",
         (x - c.beta * eps) / std::sqrt(c.alpha)},
        {"the mean divides by sqrt(alpha_bar_t) instead of sqrt(alpha_t)",
         (x - c.beta / std::sqrt(1 - c.ab) * eps) / std::sqrt(c.ab)},
        {"the mean uses sqrt(1 - alpha_bar_t) eps (that is x0_hat's numerator), not beta_t / sqrt(1 - alpha_bar_t) eps",
         (x - std::sqrt(1 - c.ab) * eps) / std::sqrt(c.alpha)},
        {"the mean forgets to divide by sqrt(alpha_t)", x - c.beta / std::sqrt(1 - c.ab) * eps}};
    const auto slip = test::diagnose(out, expected, mistakes, 1e-4, 1e-5);
    EXPECT_TRUE(slip.empty()) << "t = " << t << ": " << slip;
    EXPECT_TRUE(tensors_close("mean at t = " + std::to_string(t), out, expected, 1e-4, 1e-4));
  }
}

TEST(PSample, NoiseHasTheChosenStandardDeviation) {
  auto x = fixed_normal({2, 1, 4, 4}, 46);
  auto eps = fixed_normal({2, 1, 4, 4}, 47);
  auto z = fixed_normal({2, 1, 4, 4}, 48).to(torch::kFloat64);
  for (std::int64_t t : {1, 5, 487, 999}) {
    const auto c = test::scalars(sched(), t);
    for (auto var : {Variance::Beta, Variance::BetaTilde}) {
      auto zero = p_sample(sched(), x, t, eps, torch::zeros_like(x), var, false).x_prev.to(torch::kFloat64);
      auto with = p_sample(sched(), x, t, eps, z.to(torch::kFloat32), var, false).x_prev.to(torch::kFloat64);
      auto added = with - zero;  // sigma_t z
      const double sigma2 = var == Variance::Beta ? c.beta : c.beta_tilde;
      const double other2 = var == Variance::Beta ? c.beta_tilde : c.beta;
      const std::vector<std::pair<std::string, torch::Tensor>> mistakes = {
          {"the noise is scaled by sigma_t^2 instead of sigma_t = sqrt(sigma_t^2)", sigma2 * z},
          {var == Variance::Beta ? "Variance::Beta uses beta_tilde: sigma_t^2 = beta_t here"
                                 : "Variance::BetaTilde uses beta: sigma_t^2 = (1 - alpha_bar_{t-1}) / (1 - "
                                   "alpha_bar_t) beta_t here",
           std::sqrt(other2) * z},
          {"beta_tilde uses alpha_bar_t where alpha_bar_{t-1} belongs (or the other way round)",
           std::sqrt((1 - c.ab) / (1 - c.ab_prev) * c.beta) * z}};
      const auto slip = test::diagnose(added, std::sqrt(sigma2) * z, mistakes, 1e-3, 1e-6);
      EXPECT_TRUE(slip.empty()) << "t = " << t << ": " << slip;
      EXPECT_TRUE(tensors_close("sigma_t z at t = " + std::to_string(t), added, std::sqrt(sigma2) * z, 1e-5, 1e-3));
    }
  }
}

TEST(PSample, AddsNoNoiseAtTheLastStep) {
  auto x = fixed_normal({2, 1, 4, 4}, 49);
  auto eps = fixed_normal({2, 1, 4, 4}, 50);
  auto z = fixed_normal({2, 1, 4, 4}, 51);
  auto a = p_sample(sched(), x, 0, eps, z, Variance::Beta, false).x_prev;
  auto b = p_sample(sched(), x, 0, eps, torch::zeros_like(z), Variance::Beta, false).x_prev;
  EXPECT_TRUE(tensors_close("x_prev at t = 0 with and without z", a, b, 1e-6, 0))
      << "at t = 0 (the paper's t = 1) Algorithm 2 returns the mean: z = 0";
}

TEST(PSample, PredictsX0AndClipsOnlyWhenAsked) {
  auto x = fixed_normal({2, 1, 4, 4}, 52) * 0.3;
  auto eps = fixed_normal({2, 1, 4, 4}, 53);
  auto z = fixed_normal({2, 1, 4, 4}, 54);
  const std::int64_t t = 600;  // sqrt(alpha_bar) ~ 0.3: x0_hat leaves [-1, 1]
  const auto c = test::scalars(sched(), t);
  auto r = p_sample(sched(), x, t, eps, z, Variance::Beta, false);
  auto x0 = (x.to(torch::kFloat64) - std::sqrt(1 - c.ab) * eps.to(torch::kFloat64)) / std::sqrt(c.ab);
  EXPECT_TRUE(tensors_close("x0_hat", r.x0_hat, x0, 1e-4, 1e-4))
      << "x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)";
  EXPECT_GT(r.x0_hat.abs().max().item<double>(), 1.0) << "without clip_x0, x0_hat is not clipped";
  auto rc = p_sample(sched(), x, t, eps, z, Variance::Beta, true);
  EXPECT_LE(rc.x0_hat.abs().max().item<double>(), 1.0 + 1e-6) << "with clip_x0, x0_hat is clipped to [-1, 1]";
  // inside [-1, 1] clipping is a no-op and the posterior-mean form equals Algorithm 2's mean
  auto eps_small = (x - std::sqrt(c.ab) * 0.5 * torch::tanh(x)) / std::sqrt(1 - c.ab);  // x0_hat = 0.5 tanh(x)
  auto u = p_sample(sched(), x, t, eps_small, z, Variance::BetaTilde, false).x_prev;
  auto v = p_sample(sched(), x, t, eps_small, z, Variance::BetaTilde, true).x_prev;
  EXPECT_TRUE(tensors_close("clip_x0 with x0_hat inside [-1, 1]", v, u, 1e-4, 1e-4))
      << "with clip_x0 the mean is coef_x0 x0_hat + coef_xt x_t, which equals Algorithm 2's mean when nothing "
         "is clipped";
}

TEST(PSample, ExactNoiseOfGaussianDataRecoversItsMoments) {
  // x0 ~ N(m, v) per element. Then x_t ~ N(sqrt(ab) m, ab v + 1 - ab) and the exact eps prediction is
  // E[eps | x_t] = sqrt(1 - ab) (x_t - sqrt(ab) m) / (ab v + 1 - ab). Run all T steps from N(0, I).
  const double m = 0.3, v = 0.25;
  const std::int64_t n = 20000;
  const auto& s = sched();
  for (auto var : {Variance::Beta, Variance::BetaTilde}) {
    auto x = fixed_normal({n}, 60);
    for (std::int64_t t = s.T() - 1; t >= 0; --t) {
      const auto c = test::scalars(s, t);
      auto eps = std::sqrt(1 - c.ab) * (x - std::sqrt(c.ab) * m) / (c.ab * v + 1 - c.ab);
      x = p_sample(s, x, t, eps, fixed_normal({n}, 1000 + static_cast<std::uint64_t>(t)), var, false).x_prev;
    }
    const double mean = x.to(torch::kFloat64).mean().item<double>();
    const double variance = x.to(torch::kFloat64).var().item<double>();
    const char* name = var == Variance::Beta ? "sigma^2 = beta" : "sigma^2 = beta_tilde";
    // 5 standard errors plus 0.01 for the discretisation of T = 1000 steps
    EXPECT_NEAR(mean, m, mc_tol(std::sqrt(v), n) + 0.01) << name << ": mean of the generated samples";
    EXPECT_NEAR(variance, v, mc_tol(v * std::sqrt(2.0), n) + 0.01) << name << ": variance of the generated samples";
  }
}
