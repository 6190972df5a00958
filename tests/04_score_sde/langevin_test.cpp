// Exercise 04.3: Langevin steps and annealed Langevin dynamics.
// Checks the reference values (golden); the step against its formula (naming a missing 1/2 on
// the drift, a sqrt(2 delta) noise, the score's sign); the known stationary law of Langevin with a
// finite step on a Gaussian target N(m, var): the mean is m and the variance var / (1 - delta /
// (4 var)) (exact for this linear chain, so the test sees the step's bias, not just "about var");
// the step size rule 2 (r |z| / |score|)^2 (about 2 r^2 w^2 for a Gaussian of any width w); and that
// Langevin with the exact score leaves a noised ring in place, and annealed Langevin from N(0, I)
// reproduces the ring's mode weights.
// Run one test: build/default/bin/test_04_exercises --gtest_filter='Langevin.*'
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

TEST(Langevin, MatchesReferenceOnGoldenValues) {
  const auto x = 2 * fixed_normal({6, 2}, 71), z = fixed_normal({6, 2}, 72);
  const auto s = t4::gaussian_score(0.5, 2.0)(x, 0.0);
  EXPECT_TRUE(golden(t4::kGolden, "langevin_step", langevin_step(x, s, 0.1, z)));
  EXPECT_TRUE(golden(t4::kGolden, "langevin_step_size",
                     std::vector<double>{langevin_step_size(s, z, 0.2), langevin_step_size(3 * s, z, 0.16)}, 1e-7,
                     1e-6));
}

TEST(Langevin, StepIsHalfDeltaScorePlusSqrtDeltaNoise) {
  const auto x = 2 * fixed_normal({6, 2}, 73).to(torch::kFloat64), z = fixed_normal({6, 2}, 74).to(torch::kFloat64);
  const auto s = t4::gaussian_score(0.5, 2.0)(x, 0.0);
  const double delta = 0.1;
  const auto out = langevin_step(x, s, delta, z);
  const auto expected = x + 0.5 * delta * s + std::sqrt(delta) * z;
  const auto m = t4::diagnose(out, expected,
                              {{"the drift is (delta / 2) score: the 1/2 is missing (Langevin: dx = grad log p dt + "
                                "sqrt(2) dW with dt = delta/2)",
                                x + delta * s + std::sqrt(delta) * z},
                               {"the noise has variance delta: sqrt(delta) z, not sqrt(2 delta) z",
                                x + 0.5 * delta * s + std::sqrt(2 * delta) * z},
                               {"the score's sign: Langevin climbs the log-density, x + (delta / 2) score",
                                x - 0.5 * delta * s + std::sqrt(delta) * z},
                               {"the noise is scaled by sqrt(delta), not delta", x + 0.5 * delta * s + delta * z}});
  if (!m.empty()) ADD_FAILURE() << "likely mistake: " << m;
  EXPECT_TRUE(tensors_close("x + delta/2 score + sqrt(delta) z", out, expected, 1e-12, 1e-10));
}

TEST(Langevin, StepSizeFollowsTheSignalToNoiseRule) {
  const auto s = 3 * fixed_normal({50, 2}, 76).to(torch::kFloat64), z = fixed_normal({50, 2}, 77).to(torch::kFloat64);
  const double zn = z.norm(2, 1).mean().item<double>(), sn = s.norm(2, 1).mean().item<double>();
  const double expected = 2 * std::pow(0.2 * zn / sn, 2), got = langevin_step_size(s, z, 0.2);
  std::string hint;
  if (std::abs(got - expected / 2) < 1e-9 * expected) hint = " (got half: the factor 2 is missing)";
  if (std::abs(got - 2 * 0.2 * zn / sn) < 1e-9 * expected) hint = " (got 2 r |z| / |s|: square the ratio)";
  if (std::abs(got - 2 * std::pow(0.2 * sn / zn, 2)) < 1e-9 * expected)
    hint = " (the ratio is upside down: |z| / |score|)";
  EXPECT_NEAR(got, expected, 1e-9 * expected) << "2 (r mean|z| / mean|score|)^2 with per-sample norms" << hint;
  // A Gaussian of width w: the step is about 2 r^2 w^2, whatever w is.
  for (double w : {0.01, 1.0, 30.0}) {
    const auto x = w * fixed_normal({4000, 2}, 78).to(torch::kFloat64);
    const double d = langevin_step_size(-x / (w * w), fixed_normal({4000, 2}, 79).to(torch::kFloat64), 0.2);
    EXPECT_NEAR(d / (w * w), 2 * 0.04, 0.08 * 0.05) << "w = " << w;
  }
}

TEST(Langevin, GaussianTargetHasTheKnownStationaryLaw) {
  // x' = x + (delta / 2) (m - x) / var + sqrt(delta) z is a linear chain: its stationary law is
  // N(m, var / (1 - delta / (4 var))), 2.6% wider than the target at delta = 0.1 var. After 300
  // steps the start (contracted by (1 - delta / (2 var))^300 = 2e-7) is forgotten.
  const double m = 1.5, var = 0.5, delta = 0.1 * var;
  const std::int64_t n = 40000;
  const auto score = t4::gaussian_score(m, var);
  auto x = torch::zeros({n, 2}, torch::kFloat64);
  for (int k = 0; k < 300; ++k)
    x = langevin_step(x, score(x, 0.0), delta, fixed_normal({n, 2}, 1000 + std::uint64_t(k)).to(torch::kFloat64));
  const double stat_var = var / (1 - delta / (4 * var));
  const double mean = x.mean().item<double>(), v = x.var().item<double>();
  const double n_eff = 2 * double(n);  // both coordinates, independent chains
  EXPECT_NEAR(mean, m, mc_tol(std::sqrt(stat_var), std::int64_t(n_eff))) << "stationary mean";
  const double se_var = stat_var * std::sqrt(2.0 / n_eff);
  EXPECT_NEAR(v, stat_var, 5 * se_var) << "stationary variance var / (1 - delta / (4 var)) = " << stat_var
                                       << (std::abs(v - var / (2 - delta / var)) < 5 * se_var
                                               ? "; got about var / 2: the drift is missing its 1/2"
                                               : "");
}

TEST(Langevin, KeepsTheNoisedRingInPlace) {
  // Started from exact samples of p_t (t = 0.1: modes of width sqrt(ab s^2 + 1 - ab) = 0.70), 100
  // steps at r = 0.2 with the exact score must leave p_t alone: mode weights at 5 standard errors of
  // a proportion, spread per coordinate within 5% (Langevin's step inflates a Gaussian's variance by
  // 1 / (1 - delta / (4 w^2)) ~ 1 / (1 - r^2 / 2) = 1.02).
  const VpSde sde;
  const double t = 0.1, ab = sde.alpha_bar(t);
  const auto gm_t = t4::ring().noised(ab);
  const std::int64_t n = 8000;
  torch::manual_seed(12);
  auto x = gm_t.sample(n).to(torch::kFloat64);
  for (int k = 0; k < 100; ++k) {
    const auto s = gm_t.score(x), z = fixed_normal({n, 2}, 5000 + std::uint64_t(k)).to(torch::kFloat64);
    x = langevin_step(x, s, langevin_step_size(s, z, 0.2), z);
  }
  const auto w = t4::nearest_mode_weights(x, gm_t.means);
  for (std::int64_t k = 0; k < 8; ++k) {
    const double wk = t4::ring().weights[k].item<double>();
    EXPECT_NEAR(w[k].item<double>(), wk, 5 * std::sqrt(wk * (1 - wk) / double(n))) << "mode " << k;
  }
  const double var_t = gm_t.stds[0].item<double>() * gm_t.stds[0].item<double>();
  const auto d = std::get<0>(torch::cdist(x, gm_t.means).min(1));
  const double spread = d.square().mean().item<double>() / 2;
  EXPECT_NEAR(spread / var_t, 1.0, 0.05) << "per-coordinate spread " << spread << " against p_t's " << var_t;
}

TEST(Langevin, AnnealedWithTheExactScoreRecoversTheModeWeights) {
  // 200 noise levels from t = 1 to 1e-3, 2 steps each at r = 0.2, exact score, n = 8000 chains.
  // Mode weights: 5 standard errors of a proportion (sqrt(w (1 - w) / n) <= 0.0046) plus 0.01 for
  // the sampler's own bias. (The spread around the modes is NOT right with so few steps per level:
  // each step closes only ~r^2 of the gap to a moving target, so the particles lag; the chapter
  // program shows it.)
  const std::int64_t n = 8000, levels = 200;
  const auto score = exact_score(t4::ring(), VpSde{});
  auto x = fixed_normal({n, 2}, 75).to(torch::kFloat64);
  const double h = (1 - 1e-3) / double(levels);
  for (std::int64_t k = 1; k <= levels; ++k) {
    const double t = 1 - double(k) * h;
    for (int j = 0; j < 2; ++j) {
      const auto s = score(x, t), z = fixed_normal({n, 2}, 2000 + std::uint64_t(2 * k + j)).to(torch::kFloat64);
      x = langevin_step(x, s, langevin_step_size(s, z, 0.2), z);
    }
  }
  const auto w = t4::nearest_mode_weights(x, t4::ring().means);
  for (std::int64_t k = 0; k < 8; ++k) {
    const double wk = t4::ring().weights[k].item<double>();
    EXPECT_NEAR(w[k].item<double>(), wk, 5 * std::sqrt(wk * (1 - wk) / double(n)) + 0.01) << "mode " << k;
  }
}
