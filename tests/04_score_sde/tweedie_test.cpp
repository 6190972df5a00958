// Exercise 04.2: Tweedie's formula and the mixture's posterior mean by Bayes.
// Checks the reference values (golden); that Tweedie's formula with the EXACT score of the noised
// mixture equals E[x_0 | x_t] computed by Bayes' rule in plain loops (and names the usual slips:
// the score's sign, sqrt(1 - alpha_bar) for 1 - alpha_bar, the missing 1 / sqrt(alpha_bar)); that
// mixture_posterior_mean equals Tweedie with the library's score; its two limits (alpha_bar -> 1:
// x_t itself; alpha_bar -> 0: the data mean); and the defining property of a conditional mean by
// Monte Carlo: the residual x_0 - E[x_0 | x_t] has mean 0 and is uncorrelated with x_t.
// Run one test: build/default/bin/test_04_exercises --gtest_filter='Tweedie.*'
#include <gtest/gtest.h>

#include <fmt/core.h>

#include <cmath>

#include "04_score_sde/tweedie.hpp"
#include "ch04_reference.hpp"
#include "testing.hpp"

using namespace dm::ch04;
namespace t4 = dm::ch04::test;
using dm::testing::fixed_normal;
using dm::testing::golden;
using dm::testing::mc_tol;
using dm::testing::tensors_close;

TEST(Tweedie, MatchesReferenceOnGoldenValues) {
  const auto xt = 3 * fixed_normal({5, 2}, 61), score = fixed_normal({5, 2}, 62);
  for (double ab : {0.9, 0.3}) {
    EXPECT_TRUE(golden(t4::kGolden, fmt::format("tweedie_x0/ab={}", ab), tweedie_x0(xt, score, ab), 1e-5, 1e-5));
  }
  for (double ab : {0.95, 0.5, 0.05}) {
    EXPECT_TRUE(golden(t4::kGolden, fmt::format("mixture_posterior_mean/ab={}", ab),
                       mixture_posterior_mean(t4::ring(), xt, ab), 1e-5, 1e-5));
  }
}

TEST(Tweedie, WithTheExactScoreIsTheBayesPosteriorMean) {
  const auto xt = 3 * fixed_normal({40, 2}, 63).to(torch::kFloat64);
  for (double ab : {0.99, 0.7, 0.3, 0.02}) {
    SCOPED_TRACE(fmt::format("alpha_bar = {}", ab));
    const auto score = t4::ring().noised(ab).score(xt);
    const auto expected = t4::reference_posterior_mean(t4::ring(), xt, ab);
    const auto out = tweedie_x0(xt, score, ab);
    const auto m =
        t4::diagnose(out, expected,
                     {{"the score enters with a plus sign: x0 = (x_t + (1 - alpha_bar) score) / sqrt(alpha_bar)",
                       (xt - (1 - ab) * score) / std::sqrt(ab)},
                      {"the score is multiplied by 1 - alpha_bar (the noise variance), not its square root",
                       (xt + std::sqrt(1 - ab) * score) / std::sqrt(ab)},
                      {"divide by sqrt(alpha_bar): x_t holds sqrt(alpha_bar) x_0", xt + (1 - ab) * score},
                      {"divide by sqrt(alpha_bar), not alpha_bar", (xt + (1 - ab) * score) / ab}});
    if (!m.empty()) ADD_FAILURE() << "likely mistake: " << m;
    EXPECT_TRUE(tensors_close("tweedie_x0 with the exact score vs Bayes", out, expected, 1e-9, 1e-8));
  }
}

TEST(Tweedie, MixturePosteriorMeanAgreesWithTweedie) {
  const auto xt = 3 * fixed_normal({40, 2}, 64);
  for (double ab : {0.999, 0.7, 0.3, 0.02}) {
    SCOPED_TRACE(fmt::format("alpha_bar = {}", ab));
    const auto out = mixture_posterior_mean(t4::ring(), xt, ab);
    ASSERT_EQ(out.sizes(), xt.sizes());
    EXPECT_EQ(out.scalar_type(), torch::kFloat32) << "return x_t's dtype";
    const auto x64 = xt.to(torch::kFloat64);
    const auto expected = (x64 + (1 - ab) * t4::ring().noised(ab).score(x64)) / std::sqrt(ab);
    EXPECT_TRUE(tensors_close("Bayes vs Tweedie with the library's score", out, expected, 2e-5, 1e-5));
  }
}

TEST(Tweedie, PosteriorMeanHasTheRightLimits) {
  const auto xt = 3 * fixed_normal({20, 2}, 65).to(torch::kFloat64);
  // almost no noise: E[x0 | x_t] = x_t up to O(1 - alpha_bar)
  EXPECT_TRUE(
      tensors_close("alpha_bar -> 1: x_t itself", mixture_posterior_mean(t4::ring(), xt, 1 - 1e-9), xt, 1e-6, 0));
  // almost pure noise: x_t says nothing, E[x0 | x_t] = E[x0] = sum_k w_k mu_k
  const auto data_mean = (t4::ring().weights.unsqueeze(1) * t4::ring().means).sum(0).expand({20, 2});
  EXPECT_TRUE(tensors_close("alpha_bar -> 0: the data mean", mixture_posterior_mean(t4::ring(), xt, 1e-10), data_mean,
                            1e-3, 0));
}

TEST(Tweedie, ResidualIsUncorrelatedWithTheNoisySample) {
  // E[x0 - E[x0 | x_t]] = 0 and E[(x0 - E[x0 | x_t]) x_t] = 0 (the residual of a conditional mean is
  // orthogonal to every function of x_t). Monte Carlo over n pairs (x0, x_t), at 5 standard errors.
  const std::int64_t n = 40000;
  torch::manual_seed(7);
  const auto x0 = t4::ring().sample(n).to(torch::kFloat64);
  const auto eps = fixed_normal({n, 2}, 66).to(torch::kFloat64);
  for (double ab : {0.8, 0.2}) {
    SCOPED_TRACE(fmt::format("alpha_bar = {}", ab));
    const auto xt = std::sqrt(ab) * x0 + std::sqrt(1 - ab) * eps;
    const auto r = x0 - mixture_posterior_mean(t4::ring(), xt, ab).to(torch::kFloat64);  // [n, 2]
    for (int d = 0; d < 2; ++d) {
      const auto rd = r.select(1, d), xd = xt.select(1, d);
      const double mean = rd.mean().item<double>(), sd = rd.std().item<double>();
      const double cov = (rd * xd).mean().item<double>(), sd_cov = (rd * xd).std().item<double>();
      EXPECT_NEAR(mean, 0, mc_tol(sd, n)) << "E[x0 - E[x0|x_t]] in coordinate " << d;
      EXPECT_NEAR(cov, 0, mc_tol(sd_cov, n)) << "E[(x0 - E[x0|x_t]) x_t] in coordinate " << d;
    }
  }
}
