// Ungraded checks of what the chapter-04 exercises stand on: the analytic score of the noised ring
// against finite differences of its log density; the identity eps* = -sqrt(1 - alpha_bar) grad log p_t
// for the best eps-predictor E[eps | x_t], by Monte Carlo; and the sample-quality measures of
// evaluate.hpp (sliced Wasserstein of a shifted cloud, mode weights).
// Run: build/default/bin/test_04_solutions --gtest_filter='Mixture2D.*:Evaluate.*'
#include <gtest/gtest.h>

#include <fmt/core.h>

#include <cmath>

#include "04_score_sde/evaluate.hpp"
#include "ch04_reference.hpp"
#include "testing.hpp"

using namespace dm::ch04;
namespace t4 = dm::ch04::test;
using dm::testing::fixed_normal;
using dm::testing::mc_tol;
using dm::testing::tensors_close;

TEST(Mixture2D, ScoreMatchesFiniteDifferencesOfTheLogDensity) {
  // Central differences with step 1e-5 in float64: truncation error ~ h^2 |d^3 log p| ~ 1e-9 here.
  const auto x = 3 * fixed_normal({50, 2}, 101).to(torch::kFloat64);
  const double e = 1e-5;
  for (double ab : {1.0, 0.9, 0.5, 0.01}) {
    SCOPED_TRACE(fmt::format("alpha_bar = {}", ab));
    const auto gm = t4::ring().noised(ab);
    const auto ex = torch::tensor({e, 0.0}, torch::kFloat64), ey = torch::tensor({0.0, e}, torch::kFloat64);
    const auto fd = torch::stack(
        {(gm.log_prob(x + ex) - gm.log_prob(x - ex)) / (2 * e), (gm.log_prob(x + ey) - gm.log_prob(x - ey)) / (2 * e)},
        1);
    EXPECT_TRUE(tensors_close("score vs finite differences", gm.score(x), fd, 1e-5, 1e-6));
  }
}

TEST(Mixture2D, BestNoisePredictorIsMinusSigmaTimesTheScore) {
  // E[eps | x_t] = -sqrt(1 - ab) grad log p_t(x_t). Check its defining property by Monte Carlo: the
  // residual eps - E[eps | x_t] has mean 0 and is uncorrelated with x_t.
  const std::int64_t n = 40000;
  torch::manual_seed(11);
  const auto x0 = t4::ring().sample(n).to(torch::kFloat64);
  const auto eps = fixed_normal({n, 2}, 102).to(torch::kFloat64);
  for (double ab : {0.9, 0.3}) {
    const auto xt = std::sqrt(ab) * x0 + std::sqrt(1 - ab) * eps;
    const auto r = eps + std::sqrt(1 - ab) * t4::ring().noised(ab).score(xt);
    for (int d = 0; d < 2; ++d) {
      const auto rd = r.select(1, d), rx = rd * xt.select(1, d);
      EXPECT_NEAR(rd.mean().item<double>(), 0, mc_tol(rd.std().item<double>(), n)) << "ab " << ab << " coord " << d;
      EXPECT_NEAR(rx.mean().item<double>(), 0, mc_tol(rx.std().item<double>(), n)) << "ab " << ab << " coord " << d;
    }
  }
}

TEST(Evaluate, SlicedWassersteinOfAShiftIsItsMeanProjection) {
  // Shifting a cloud by d moves every projection by u.d: SW = mean over directions |u.d| = 2 |d| / pi.
  const auto a = fixed_normal({1000, 2}, 103);
  const auto d = torch::tensor({0.3, -0.4});  // |d| = 0.5
  EXPECT_NEAR(sliced_wasserstein(a, a), 0, 1e-12);
  EXPECT_NEAR(sliced_wasserstein(a, a + d, 256), 2 * 0.5 / M_PI, 2e-4);
}

TEST(Evaluate, ModeWeightsCountNearestMeans) {
  const auto means = torch::tensor({0.0, 0.0, 10.0, 0.0}, torch::kFloat64).view({2, 2});
  const auto x = torch::tensor({0.1, 0.0, 9.0, 1.0, 11.0, 0.0, 1.0, 0.0}, torch::kFloat64).view({4, 2});
  EXPECT_TRUE(tensors_close("weights", mode_weights(x, means), torch::tensor({0.5, 0.5}, torch::kFloat64), 1e-12));
  EXPECT_NEAR(off_mode_fraction(x, means, 1.2), 0.25, 1e-12);  // (9, 1) is 1.41 from (10, 0)
  EXPECT_NEAR(total_variation(torch::tensor({0.5, 0.5}), torch::tensor({0.7, 0.3})), 0.2, 1e-6);
}
