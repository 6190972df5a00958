// Exercise 04.4: Euler-Maruyama for the reverse-time SDE dx = [f - g^2 score] dt + g dW_bar.
// Checks the reference values (golden); one step against the formula (naming the usual slips: the
// PF-ODE's 1/2 on the score term, the score's sign, a forward-time drift, noise of variance h instead
// of beta h); that Gaussian data N(0, 4 I), whose noised marginals are known, come out with the right
// variance; and that the EXACT score of the noised ring brings N(0, I) noise to the ring's mode weights.
// Run one test: build/default/bin/test_04_exercises --gtest_filter='ReverseSde.*'
#include <gtest/gtest.h>

#include <fmt/core.h>

#include <cmath>

#include "04_score_sde/steps.hpp"
#include "ch04_reference.hpp"
#include "testing.hpp"

using namespace dm::ch04;
namespace t4 = dm::ch04::test;
using dm::testing::fixed_normal;
using dm::testing::golden;
using dm::testing::mc_tol;
using dm::testing::tensors_close;

TEST(ReverseSde, MatchesReferenceOnGoldenValues) {
  const VpSde sde;
  const auto x = 2 * fixed_normal({6, 2}, 81), z = fixed_normal({6, 2}, 82);
  for (double t : {0.9, 0.2}) {
    EXPECT_TRUE(golden(t4::kGolden, fmt::format("reverse_sde_step/t={}", t),
                       reverse_sde_step(sde, t4::gaussian_score(0.5, 2.0), x, t, 0.01, z)));
  }
}

TEST(ReverseSde, StepFollowsTheReverseDrift) {
  const VpSde sde;
  const auto x = 2 * fixed_normal({6, 2}, 83).to(torch::kFloat64), z = fixed_normal({6, 2}, 84).to(torch::kFloat64);
  const auto score = t4::gaussian_score(0.5, 2.0);
  const double t = 0.6, h = 0.01, beta = sde.beta(t);
  const auto s = score(x, t);
  const auto out = reverse_sde_step(sde, score, x, t, h, z);
  const auto expected = x + h * beta * (0.5 * x + s) + std::sqrt(beta * h) * z;
  const auto m = t4::diagnose(
      out, expected,
      {{"the reverse SDE has g^2 grad log p; the probability-flow ODE has 1/2 g^2 grad log p",
        x + h * beta * (0.5 * x + 0.5 * s) + std::sqrt(beta * h) * z},
       {"the score's sign: the reverse drift is f - g^2 score, so a step back in time ADDS beta h score",
        x + h * beta * (0.5 * x - s) + std::sqrt(beta * h) * z},
       {"time runs backwards: x' = x - h (f - g^2 score); the forward drift f = -beta x / 2 must be undone",
        x + h * beta * (-0.5 * x + s) + std::sqrt(beta * h) * z},
       {"the noise has variance g(t)^2 h = beta(t) h, not h", x + h * beta * (0.5 * x + s) + std::sqrt(h) * z},
       {"the noise has standard deviation g(t) sqrt(h) = sqrt(beta(t) h), not beta(t) h",
        x + h * beta * (0.5 * x + s) + beta * h * z}});
  if (!m.empty()) ADD_FAILURE() << "likely mistake: " << m;
  EXPECT_TRUE(tensors_close("x + h beta (x / 2 + score) + sqrt(beta h) z", out, expected, 1e-12, 1e-10));
}

TEST(ReverseSde, GaussianDataComeOutWithTheRightVariance) {
  // Data N(0, c2 I), c2 = 4: p_t = N(0, v_t I), v_t = alpha_bar c2 + 1 - alpha_bar, score -x / v_t.
  // Start from p_1 exactly, 1000 steps to t = 1e-3: the variance must be v(1e-3) = 3.9996 within
  // 5 standard errors (n = 20000, both coordinates) plus Euler-Maruyama's O(h) bias (measured 0.3%).
  const VpSde sde;
  const double c2 = 4, t_min = 1e-3;
  const std::int64_t n = 20000, N = 1000;
  const auto score = t4::gaussian_data_score(sde, c2);
  auto x = std::sqrt(t4::gaussian_var_t(sde, c2, 1.0)) * fixed_normal({n, 2}, 85).to(torch::kFloat64);
  const double h = (1 - t_min) / double(N);
  for (std::int64_t k = 0; k < N; ++k)
    x = reverse_sde_step(sde, score, x, 1 - double(k) * h, h,
                         fixed_normal({n, 2}, 3000 + std::uint64_t(k)).to(torch::kFloat64));
  const double v_end = t4::gaussian_var_t(sde, c2, t_min), v = x.var().item<double>();
  EXPECT_NEAR(x.mean().item<double>(), 0, mc_tol(std::sqrt(v_end), 2 * n));
  EXPECT_NEAR(v, v_end, 5 * v_end * std::sqrt(2.0 / double(2 * n)) + 0.01 * v_end)
      << "variance at t_min: expected " << v_end
      << (std::abs(v - 1) < 0.2 ? " (got ~1: is the score used at all?)" : "");
}

TEST(ReverseSde, ExactScoreRecoversTheRingModeWeights) {
  // N(0, I) noise at t = 1, 500 steps, exact score of the noised ring, n = 8000: mode weights at
  // 5 standard errors of a proportion plus 0.01 (the step's bias; measured max error 0.005).
  const VpSde sde;
  const auto score = exact_score(t4::ring(), sde);
  const std::int64_t n = 8000, N = 500;
  auto x = fixed_normal({n, 2}, 86).to(torch::kFloat64);
  const double h = (1 - 1e-3) / double(N);
  for (std::int64_t k = 0; k < N; ++k)
    x = reverse_sde_step(sde, score, x, 1 - double(k) * h, h,
                         fixed_normal({n, 2}, 4000 + std::uint64_t(k)).to(torch::kFloat64));
  const auto w = t4::nearest_mode_weights(x, t4::ring().means);
  for (std::int64_t k = 0; k < 8; ++k) {
    const double wk = t4::ring().weights[k].item<double>();
    EXPECT_NEAR(w[k].item<double>(), wk, 5 * std::sqrt(wk * (1 - wk) / double(n)) + 0.01) << "mode " << k;
  }
  const auto d = std::get<0>(torch::cdist(x, t4::ring().means).min(1));
  EXPECT_NEAR(d.square().mean().item<double>() / 2, 0.09, 0.01)
      << "per-coordinate spread around the modes (s^2 = 0.09)";
}
